//! One Live Metrics request on the wire: a ping or a post to the live
//! endpoint, its `x-ms-qps-*` headers, and what the answer says (someone
//! watches, a new filter configuration, a polling hint, a new endpoint).
//!
//! Only an HTTP 200 is a success, nothing is retried (the next request is
//! due in a second or a few), and a redirect is followed only to an https
//! host under Azure's monitoring domains, or from a loopback endpoint (the
//! emulator) to another loopback one. With Entra ID, requests carry the
//! pipeline's bearer token (the ikey stays in the query); a 401 or 403 asks
//! for a new one.

use crate::auth::{may_carry_token, Auth, Bearer};
use crate::config::{is_loopback, Endpoint};
use crate::delivery::read_body;
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The protocol version the notes describe (`shared/notes/live-metrics.md`).
const API_VERSION: &str = "2024-04-01-preview";

/// `5`: this client evaluates the service's filter configuration.
pub(crate) const INVARIANT_VERSION: u32 = 5;

/// The most of a configuration's body that is read: a configuration is a
/// few filters and derived metrics, kilobytes; a body past this is refused
/// rather than read on without end.
const MAX_CONFIGURATION_BYTES: usize = 1 << 20;

const SUBSCRIBED: &str = "x-ms-qps-subscribed";
const ETAG: &str = "x-ms-qps-configuration-etag";
const POLLING_HINT: &str = "x-ms-qps-service-polling-interval-hint";
const REDIRECT: &str = "x-ms-qps-service-endpoint-redirect-v2";
const TRANSMISSION_TIME: &str = "x-ms-qps-transmission-time";

/// Hosts a redirect may name (with a subdomain), in their public, US
/// government (`.us`) and China (`.cn`) clouds.
const TRUSTED_DOMAINS: &[&str] = &[
    "livediagnostics.monitor.azure.com",
    "monitor.azure.com",
    "services.visualstudio.com",
    "applicationinsights.azure.com",
    "livediagnostics.monitor.azure.us",
    "monitor.azure.us",
    "services.visualstudio.us",
    "applicationinsights.azure.us",
    "livediagnostics.monitor.azure.cn",
    "monitor.azure.cn",
    "services.visualstudio.cn",
    "applicationinsights.azure.cn",
];

/// Who is sending, as a ping's headers say it.
#[derive(Debug, Clone)]
pub(crate) struct PingHeaders {
    pub machine_name: String,
    pub instance_name: String,
    pub stream_id: String,
    pub role_name: String,
}

/// What a 200 said.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Answer {
    pub subscribed: bool,
    /// A new filter configuration: its etag and the body holding it.
    pub configuration: Option<(String, Bytes)>,
    pub polling_hint: Option<Duration>,
    /// A new base URL, already checked (see [`trusted_redirect`]).
    pub redirect: Option<String>,
    /// A redirect that was not followed (what it named is not said: it
    /// could be anything).
    pub redirect_refused: bool,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Answered(Answer),
    /// No 200: why, without the URL (its query holds the key).
    Failed(String),
}

#[derive(Debug)]
pub(crate) struct Client {
    http: reqwest::Client,
    /// `scheme://host[:port]` requests go to now.
    base: String,
    /// Whether the configured endpoint was a loopback one (the emulator):
    /// only then may a redirect lead to another loopback host.
    from_loopback: bool,
    ikey: String,
    ping_headers: PingHeaders,
    /// Entra ID: the pipeline's tokens, shared with ingestion.
    auth: Option<Arc<Auth>>,
    timeout: Duration,
}

impl Client {
    pub fn new(
        endpoint: &Endpoint,
        ikey: &str,
        ping_headers: PingHeaders,
        timeout: Duration,
        auth: Option<Arc<Auth>>,
    ) -> Result<Self, reqwest::Error> {
        // The service redirects with its own header, checked here.
        let http = crate::delivery::http_client(timeout)?;
        Ok(Self {
            http,
            base: endpoint.as_str().to_string(),
            from_loopback: is_loopback(endpoint.host()),
            ikey: ikey.to_string(),
            ping_headers,
            auth,
            timeout,
        })
    }

    /// The base URL requests go to now.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// From now on requests go to `base` (a redirect the answer carried).
    pub fn redirect(&mut self, base: String) {
        self.base = base;
    }

    /// A ping: `body` is one MonitoringDataPoint with the identity fields.
    pub async fn ping(&self, etag: &str, body: Vec<u8>) -> Reply {
        let h = &self.ping_headers;
        let invariant_version = INVARIANT_VERSION.to_string();
        let extra = [
            ("x-ms-qps-machine-name", h.machine_name.as_str()),
            ("x-ms-qps-instance-name", h.instance_name.as_str()),
            ("x-ms-qps-stream-id", h.stream_id.as_str()),
            ("x-ms-qps-role-name", h.role_name.as_str()),
            ("x-ms-qps-invariant-version", invariant_version.as_str()),
        ];
        self.send("ping", etag, body, &extra).await
    }

    /// A post: `body` is a JSON array holding one MonitoringDataPoint.
    pub async fn post(&self, etag: &str, body: Vec<u8>) -> Reply {
        self.send("post", etag, body, &[]).await
    }

    async fn send(&self, what: &str, etag: &str, body: Vec<u8>, extra: &[(&str, &str)]) -> Reply {
        let url = format!(
            "{}/QuickPulseService.svc/{what}?api-version={API_VERSION}&ikey={}",
            self.base, self.ikey
        );
        let bearer = match self.bearer(what, &url).await {
            Ok(bearer) => bearer,
            Err(why) => return Reply::Failed(why),
        };
        let mut request = self
            .http
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                TRANSMISSION_TIME,
                dotnet_ticks(SystemTime::now()).to_string(),
            )
            .header(ETAG, header_value(etag))
            .body(body);
        for (name, value) in extra {
            request = request.header(*name, header_value(value));
        }
        if let Some(b) = &bearer {
            request = request.header(http::header::AUTHORIZATION, b.header().clone());
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Reply::Failed(format!("{what} timed out")),
            Err(e) if e.is_connect() => return Reply::Failed(format!("{what}: could not connect")),
            Err(_) => return Reply::Failed(format!("{what}: the connection failed")),
        };
        let status = response.status().as_u16();
        if let (Some(auth), Some(b), 401 | 403) = (&self.auth, &bearer, status) {
            // The next request goes with a new token, if one may help.
            auth.refused(b);
        }
        if status != 200 {
            return Reply::Failed(format!("{what} answered HTTP {status}"));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string())
        };
        let subscribed = header(SUBSCRIBED).as_deref() == Some("true");
        let etag = header(ETAG).filter(|e| !e.is_empty());
        let polling_hint = header(POLLING_HINT)
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis);
        let (redirect, redirect_refused) = match header(REDIRECT).filter(|r| !r.is_empty()) {
            Some(to) => match trusted_redirect(self.from_loopback, &to) {
                Some(base) => (Some(base), false),
                None => (None, true),
            },
            None => (None, false),
        };
        // The body matters only when it carries a configuration.
        let configuration = match etag {
            Some(etag) => match read_body(response, MAX_CONFIGURATION_BYTES).await {
                Some(body) => Some((etag, body.into())),
                None => return Reply::Failed(format!(
                    "{what}: the answer was cut off or longer than {MAX_CONFIGURATION_BYTES} bytes"
                )),
            },
            None => None,
        };
        Reply::Answered(Answer {
            subscribed,
            configuration,
            polling_hint,
            redirect,
            redirect_refused,
        })
    }
}

impl Client {
    /// The token for a request to `url`: `None` without Entra ID; why not
    /// instead of a request that would be refused. A ping may wait a moment
    /// for the first token; a post goes without waiting (its second passes).
    async fn bearer(&self, what: &str, url: &str) -> Result<Option<Bearer>, String> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        if !may_carry_token(url) {
            return Err(format!(
                "{what}: refusing to send an Entra ID token over plain http to a host that is \
                 not loopback"
            ));
        }
        let bearer = if what == "ping" {
            auth.bearer(self.timeout).await.map_err(|no| no.to_string())
        } else {
            auth.current_bearer()
                .ok_or_else(|| "no Entra ID token yet".to_string())
        };
        bearer.map(Some).map_err(|why| format!("{what}: {why}"))
    }
}

/// A header value from any text: characters a header cannot hold become
/// `?` (a role or host name is the user's text).
fn header_value(text: &str) -> http::HeaderValue {
    http::HeaderValue::from_str(text).unwrap_or_else(|_| {
        let clean: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        http::HeaderValue::from_str(&clean).unwrap_or(http::HeaderValue::from_static(""))
    })
}

/// `time` in .NET ticks: 100 ns units since 0001-01-01 UTC.
pub(crate) fn dotnet_ticks(time: SystemTime) -> u64 {
    const TICKS_AT_UNIX_EPOCH: u64 = 621_355_968_000_000_000;
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    TICKS_AT_UNIX_EPOCH + since.as_secs() * 10_000_000 + u64::from(since.subsec_nanos() / 100)
}

/// The base URL (`scheme://host[:port]`) a redirect header names, when it
/// may be followed: https to a host under [`TRUSTED_DOMAINS`], or, when the
/// configured endpoint is a loopback one (the emulator), another loopback
/// host over http or https.
pub(crate) fn trusted_redirect(from_loopback: bool, to: &str) -> Option<String> {
    let endpoint = Endpoint::parse("redirect", to).ok()?;
    let url = endpoint.as_str();
    // `scheme://authority`, whatever path the header carried.
    let authority_end = url
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| url[start..].find('/').map(|i| start + i))
        .unwrap_or(url.len());
    let base = &url[..authority_end];
    if base[base.find("://")? + 3..].contains('@') {
        return None;
    }
    let host = endpoint.host().to_ascii_lowercase();
    let azure = endpoint.is_https()
        && TRUSTED_DOMAINS
            .iter()
            .any(|d| host.ends_with(&format!(".{d}")));
    let emulator = from_loopback && is_loopback(&host);
    (azure || emulator).then(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_count_100_ns_from_year_one() {
        assert_eq!(dotnet_ticks(UNIX_EPOCH), 621_355_968_000_000_000);
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(dotnet_ticks(t), 638_355_968_001_234_567);
    }

    #[test]
    fn redirects_go_only_to_azure_monitoring_hosts_over_https() {
        let ok = |to: &str| trusted_redirect(false, to);
        assert_eq!(
            ok("https://westeurope.livediagnostics.monitor.azure.com"),
            Some("https://westeurope.livediagnostics.monitor.azure.com".into())
        );
        assert_eq!(
            ok("https://rt.services.visualstudio.com/some/path"),
            Some("https://rt.services.visualstudio.com".into())
        );
        assert!(ok("https://usgovvirginia.livediagnostics.monitor.azure.us").is_some());
        assert!(ok("https://chinaeast2.livediagnostics.monitor.azure.cn:443").is_some());
        assert!(ok("https://x.in.applicationinsights.azure.com").is_some());
        // Not https, not under the domains, a look-alike, the bare domain,
        // user info, a loopback host from a real endpoint.
        for bad in [
            "http://westeurope.livediagnostics.monitor.azure.com",
            "https://evil.example.com",
            "https://monitor.azure.com.evil.example",
            "https://evilmonitor.azure.com",
            "https://monitor.azure.com",
            "https://user@x.monitor.azure.com",
            "http://127.0.0.1:9",
            "not a url",
            "",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_emulator_may_redirect_to_another_loopback_port() {
        assert_eq!(
            trusted_redirect(true, "http://127.0.0.1:4242/"),
            Some("http://127.0.0.1:4242".into())
        );
        assert_eq!(trusted_redirect(true, "http://example.com:80"), None);
        assert!(trusted_redirect(true, "https://x.monitor.azure.com").is_some());
    }

    #[test]
    fn header_values_survive_any_text() {
        assert_eq!(header_value("menu-app").to_str().unwrap(), "menu-app");
        assert_eq!(header_value("caf\u{e9}\n").to_str().unwrap(), "caf??");
        assert_eq!(header_value("").to_str().unwrap(), "");
    }
}
