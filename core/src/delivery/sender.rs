//! One HTTP attempt to the ingestion endpoint, and what its answer means.
//!
//! With Entra ID on, each attempt carries the cached bearer token (waiting
//! for one only when there is none, at most the request's timeout), and
//! only to a URL that may carry it (https, or http to loopback); a refused
//! token is handed back with the verdict so delivery can ask for a new one.

use super::backoff::parse_retry_after;
use super::payload::Payload;
use super::response::{is_retryable, read_body, TrackResponse, MAX_ANSWER_BYTES, TRACK_PATH};
use crate::accounting::Counters;
use crate::auth::{may_carry_token, Auth, Bearer};
use crate::config::{is_loopback, Endpoint};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Redirects followed in a row before the attempt counts as failed.
const MAX_REDIRECTS: usize = 3;

/// What an attempt's answer means for the payload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Everything accepted.
    Delivered,
    /// Some items accepted (`accepted` of them); `retry` (indexes in the
    /// sent body) may succeed later; `rejected` holds the statuses of items
    /// that never will.
    Partial {
        accepted: u64,
        retry: Vec<usize>,
        rejected: Vec<u16>,
    },
    /// Nothing accepted, try again later (connection error, timeout, 408, 429, 5xx).
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Over quota or daily cap (402, 439): keep the data, try much later.
    Quota {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// The key or identity was refused (401, 403). A person has to fix it (a
    /// wrong key, a missing role assignment, local auth disabled), so keep
    /// the data and try much later, as the official distro does; unless
    /// `token` (the Entra ID token the request carried) was refused and a
    /// new one may pass.
    Refused {
        status: u16,
        retry_after: Option<Duration>,
        token: Option<Bearer>,
    },
    /// No request was made: there is no Entra ID token to send with (the
    /// credential is failing or slow), or the URL may not carry one. Keep
    /// the data and try again later.
    NoToken { reason: String },
    /// The request was too large (413): smaller requests may pass.
    TooLarge,
    /// Will never be accepted (400, 404, ...).
    Permanent { status: u16, reason: String },
}

#[derive(Debug)]
pub(crate) struct Sender {
    client: reqwest::Client,
    /// Where requests go now; a redirect replaces it for later requests.
    track_url: RwLock<String>,
    counters: Arc<Counters>,
    /// Entra ID tokens for every request; `None`: the instrumentation key
    /// in the envelopes is all there is.
    auth: Option<Arc<Auth>>,
    /// How long an attempt may wait for a token (the request timeout).
    timeout: Duration,
}

/// The HTTP client of every request to Azure (ingestion, Live Metrics):
/// redirects are never followed by the client, but by the caller, where the
/// new host can be checked (and, for ingestion, remembered). Certificates
/// are verified as `tls.rs` says, by a verifier built at the first handshake.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        .timeout(timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("genkit-azure/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none());
    match super::tls::client_config() {
        Some(tls) => builder.tls_backend_preconfigured(tls),
        None => builder,
    }
    .build()
}

impl Sender {
    pub fn new(
        endpoint: &Endpoint,
        timeout: Duration,
        counters: Arc<Counters>,
        auth: Option<Arc<Auth>>,
    ) -> Result<Self, reqwest::Error> {
        let client = http_client(timeout)?;
        Ok(Self {
            client,
            track_url: RwLock::new(endpoint.join(TRACK_PATH)),
            counters,
            auth,
            timeout,
        })
    }

    /// The token for a request to `url`: `Ok(None)` without Entra ID; the
    /// verdict to give instead of a request when there is none or `url` may
    /// not carry it.
    async fn bearer_for(
        &self,
        url: &str,
        timeout: Option<Duration>,
    ) -> Result<Option<Bearer>, Verdict> {
        let Some(auth) = &self.auth else {
            return Ok(None);
        };
        if !may_carry_token(url) {
            // Endpoints and redirects are checked before they are used, so
            // this is a guard: never put a token on the wire in clear text.
            return Err(Verdict::NoToken {
                reason: "refusing to send an Entra ID token over plain http to a host that is \
                         not loopback"
                    .into(),
            });
        }
        let wait = timeout.map_or(self.timeout, |t| t.min(self.timeout));
        match auth.bearer(wait).await {
            Ok(bearer) => Ok(Some(bearer)),
            Err(no) => Err(Verdict::NoToken {
                reason: no.to_string(),
            }),
        }
    }

    /// Entra ID authentication, when requests carry tokens.
    pub fn auth(&self) -> Option<&Arc<Auth>> {
        self.auth.as_ref()
    }

    pub fn track_url(&self) -> String {
        self.track_url
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// One attempt (following redirects) to send `payload`'s body. `timeout`
    /// shortens the client's request timeout, e.g. to fit what is left of a
    /// shutdown.
    pub async fn send(&self, payload: &Payload, timeout: Option<Duration>) -> Verdict {
        let body = &payload.body;
        let mut url = self.track_url();
        for _ in 0..=MAX_REDIRECTS {
            // Asked per URL: a redirect may lead where a token may not go.
            let bearer = match self.bearer_for(&url, timeout).await {
                Ok(bearer) => bearer,
                Err(verdict) => return verdict,
            };
            Counters::add(&self.counters.http_requests, 1);
            Counters::add(&self.counters.bytes_sent, body.len() as u64);
            let mut request = self
                .client
                .post(&url)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::CONTENT_ENCODING, "gzip")
                .body(body.clone());
            if let Some(bearer) = &bearer {
                request = request.header(http::header::AUTHORIZATION, bearer.header().clone());
            }
            if let Some(t) = timeout {
                request = request.timeout(t);
            }
            let response = request.send().await;
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    return Verdict::Transient {
                        reason: describe_error(&e),
                        retry_after: None,
                    }
                }
            };
            let status = response.status().as_u16();
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let retry_after = header(http::header::RETRY_AFTER)
                .and_then(|v| parse_retry_after(&v, SystemTime::now()));
            if matches!(status, 307 | 308) {
                match header(http::header::LOCATION).and_then(|l| redirect_target(&url, &l)) {
                    Some(next) => {
                        // Remember the new ingestion host for every later request.
                        *self.track_url.write().unwrap_or_else(|p| p.into_inner()) = next.clone();
                        url = next;
                        continue;
                    }
                    None => {
                        return Verdict::Permanent {
                            status,
                            reason: "redirect without a usable https Location".into(),
                        }
                    }
                }
            }
            // An answer too long to be the service's, or cut off, reads as
            // an empty one: a 200 is still delivered, a 206 unreadable.
            let body = read_body(response, MAX_ANSWER_BYTES)
                .await
                .unwrap_or_default();
            return match classify(
                status,
                retry_after,
                &body,
                payload.envelopes,
                &self.counters,
            ) {
                Verdict::Refused {
                    status,
                    retry_after,
                    ..
                } => Verdict::Refused {
                    status,
                    retry_after,
                    token: bearer,
                },
                verdict => verdict,
            };
        }
        Verdict::Transient {
            reason: format!("more than {MAX_REDIRECTS} redirects in a row"),
            retry_after: None,
        }
    }
}

/// Says what failed without the URL's query or any header (no secrets).
fn describe_error(e: &reqwest::Error) -> String {
    if let Some(tls) = tls_failure(e) {
        format!("TLS failed: {tls}; nothing was sent (the endpoint's certificate must be trusted by the system's roots or SSL_CERT_FILE)")
    } else if e.is_timeout() {
        "request timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "connection failed before an answer".into()
    }
}

/// The TLS layer's own words when the handshake failed (an untrusted or
/// invalid certificate, a name mismatch), e.g. `invalid peer certificate:
/// UnknownIssuer`. They name no URL, header or key. rustls' error sits
/// inside an `io::Error`, whose `source()` skips it, so each `io::Error` is
/// opened too.
fn tls_failure(e: &reqwest::Error) -> Option<String> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        for candidate in [Some(err), inner].into_iter().flatten() {
            let text = candidate.to_string();
            if text.contains("certificate") || text.contains("handshake") {
                return Some(text);
            }
        }
        next = err.source();
    }
    None
}

/// The absolute track URL a `Location` points to, if it is one we trust:
/// https, or plain http only when the original endpoint was loopback http.
fn redirect_target(current: &str, location: &str) -> Option<String> {
    let mut next = if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else if location.starts_with('/') {
        let scheme_end = current.find("://")? + 3;
        let host_end = current[scheme_end..]
            .find('/')
            .map_or(current.len(), |i| scheme_end + i);
        format!("{}{}", &current[..host_end], location)
    } else {
        return None;
    };
    let endpoint = Endpoint::parse("Location", next.split("/v2").next()?).ok()?;
    // Plain http only from a loopback http endpoint to a loopback host (the emulator).
    let trusted =
        endpoint.is_https() || (current.starts_with("http://") && is_loopback(endpoint.host()));
    if !trusted {
        return None;
    }
    if !next.contains("/v2") {
        next = endpoint.join(TRACK_PATH);
    }
    Some(next)
}

/// The most envelopes an answer may claim for a request whose count is not
/// known (a file read back from disk): the service's documented limit on
/// one request's items.
const MAX_CLAIMED: u64 = 64_000;

/// Adds what an answer claims was received and accepted to the counters,
/// believed only as far as it can be true: no more received than the
/// request held (`sent` envelopes, when known), no more accepted than
/// received. A buggy or hostile answer would otherwise make the counters
/// absurd, or wrap them.
fn count_claims(r: &TrackResponse, sent: Option<usize>, counters: &Counters) {
    let most = sent.map_or(MAX_CLAIMED, |n| n as u64);
    let received = r.received.min(most);
    Counters::add(&counters.envelopes_sent, received);
    Counters::add(&counters.envelopes_delivered, r.accepted.min(received));
}

/// What an answer with `status`, `retry_after` and `body` means for a
/// request of `sent` envelopes (`None`: not known).
pub(crate) fn classify(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    sent: Option<usize>,
    counters: &Counters,
) -> Verdict {
    match status {
        200 => {
            if let Some(r) = TrackResponse::parse(body) {
                count_claims(&r, sent, counters);
            }
            Verdict::Delivered
        }
        206 => {
            let Some(r) = TrackResponse::parse(body) else {
                // Unreadable partial answer: resending all risks duplicates,
                // dropping all risks loss; the service may have kept some.
                return Verdict::Transient {
                    reason: "206 with an unreadable body".into(),
                    retry_after,
                };
            };
            count_claims(&r, sent, counters);
            let (retry, rejected): (Vec<_>, Vec<_>) = r
                .errors
                .iter()
                .partition(|(_, s)| is_retryable(*s) || matches!(s, 402 | 439));
            Verdict::Partial {
                accepted: r.accepted,
                retry: retry.into_iter().map(|(i, _)| i).collect(),
                rejected: rejected.into_iter().map(|(_, s)| s).collect(),
            }
        }
        402 | 439 => Verdict::Quota {
            status,
            retry_after,
        },
        s if is_retryable(s) => Verdict::Transient {
            reason: format!("the service answered {s}"),
            retry_after,
        },
        401 | 403 => Verdict::Refused {
            status,
            retry_after,
            token: None,
        },
        413 => Verdict::TooLarge,
        s => Verdict::Permanent {
            status: s,
            reason: format!("the service rejected the request ({s})"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn answers_map_to_verdicts() {
        let c = Counters::default();
        assert_eq!(classify(200, None, b"", None, &c), Verdict::Delivered);
        let partial = br#"{"itemsReceived":4,"itemsAccepted":1,"errors":[
            {"index":0,"statusCode":500},{"index":2,"statusCode":400},{"index":3,"statusCode":429}]}"#;
        assert_eq!(
            classify(206, None, partial, Some(4), &c),
            Verdict::Partial {
                accepted: 1,
                retry: vec![0, 3],
                rejected: vec![400]
            }
        );
        assert_eq!(c.snapshot().envelopes_delivered, 1);
        assert_eq!(c.snapshot().envelopes_sent, 4);
        let ra = Some(Duration::from_secs(5));
        assert!(
            matches!(classify(429, ra, b"", None, &c), Verdict::Transient { retry_after: Some(d), .. } if d.as_secs() == 5)
        );
        assert!(matches!(
            classify(503, None, b"", None, &c),
            Verdict::Transient { .. }
        ));
        assert!(matches!(
            classify(439, None, b"", None, &c),
            Verdict::Quota { status: 439, .. }
        ));
        assert!(matches!(
            classify(400, None, b"", None, &c),
            Verdict::Permanent { status: 400, .. }
        ));
        for status in [401, 403] {
            assert!(matches!(
                classify(status, None, b"", None, &c),
                Verdict::Refused { status: s, retry_after: None, token: None } if s == status
            ));
        }
        assert_eq!(classify(413, None, b"", None, &c), Verdict::TooLarge);
        assert!(matches!(
            classify(404, None, b"", None, &c),
            Verdict::Permanent { status: 404, .. }
        ));
    }

    /// What an answer claims counts only as far as it can be true.
    #[test]
    fn claimed_counts_are_bounded_by_what_was_sent() {
        let c = Counters::default();
        let huge = format!(
            r#"{{"itemsReceived":{0},"itemsAccepted":{0},"errors":[]}}"#,
            u64::MAX
        );
        assert_eq!(
            classify(200, None, huge.as_bytes(), Some(3), &c),
            Verdict::Delivered
        );
        assert_eq!(
            (
                c.snapshot().envelopes_sent,
                c.snapshot().envelopes_delivered
            ),
            (3, 3),
            "no more than the request held"
        );
        // A second such answer would have wrapped the counter.
        classify(200, None, huge.as_bytes(), Some(3), &c);
        assert_eq!(c.snapshot().envelopes_sent, 6);
        let more_accepted = br#"{"itemsReceived":2,"itemsAccepted":9,"errors":[]}"#;
        classify(200, None, more_accepted, Some(5), &c);
        assert_eq!(
            (
                c.snapshot().envelopes_sent,
                c.snapshot().envelopes_delivered
            ),
            (8, 8),
            "no more accepted than received"
        );
        // A file read back from disk: its count is not known, so the
        // service's own limit on a request bounds the claim.
        classify(200, None, huge.as_bytes(), None, &c);
        assert_eq!(c.snapshot().envelopes_sent, 8 + MAX_CLAIMED);
    }

    /// The guard under the endpoint checks: were a plain-http URL to a
    /// remote host ever to reach the sender, no request leaves with a token.
    #[test]
    fn a_token_is_never_sent_over_plain_http_to_a_remote_host() {
        use crate::auth::AccessToken;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let credential = |_: &[&str]| {
            Ok(AccessToken::new(
                "secret-token-text",
                SystemTime::now() + Duration::from_secs(3600),
            ))
        };
        let auth = Arc::new(Auth::new(
            Arc::new(credential),
            "s/.default".into(),
            Duration::from_millis(1),
            Duration::from_millis(1),
        ));
        rt.spawn(Arc::clone(&auth).run());
        let counters = Arc::new(Counters::default());
        let endpoint = Endpoint::parse("IngestionEndpoint", "http://127.0.0.1:9").unwrap();
        let sender = Sender::new(
            &endpoint,
            Duration::from_secs(1),
            Arc::clone(&counters),
            Some(auth),
        )
        .unwrap();
        *sender.track_url.write().unwrap() = "http://example.com/v2.1/track".into();
        let verdict =
            rt.block_on(sender.send(&Payload::read_back(Bytes::from_static(b"[]")), None));
        let Verdict::NoToken { reason } = verdict else {
            panic!("{verdict:?}");
        };
        assert!(reason.contains("plain http"), "{reason}");
        assert!(!reason.contains("secret-token-text"), "{reason}");
        assert_eq!(counters.snapshot().http_requests, 0);
    }

    #[test]
    fn redirects_are_followed_only_to_trusted_hosts() {
        let cur = "https://dc.example.com/v2.1/track";
        assert_eq!(
            redirect_target(cur, "https://westeurope.in.example.com/v2.1/track").as_deref(),
            Some("https://westeurope.in.example.com/v2.1/track")
        );
        assert_eq!(
            redirect_target(cur, "https://other.example.com").as_deref(),
            Some("https://other.example.com/v2.1/track")
        );
        assert_eq!(
            redirect_target(cur, "/v2/track").as_deref(),
            Some("https://dc.example.com/v2/track")
        );
        assert_eq!(
            redirect_target(cur, "http://evil.example.com/v2.1/track"),
            None
        );
        assert_eq!(
            redirect_target(
                "http://127.0.0.1:1/v2.1/track",
                "http://127.0.0.1:2/v2.1/track"
            )
            .as_deref(),
            Some("http://127.0.0.1:2/v2.1/track")
        );
        assert_eq!(
            redirect_target("https://127.0.0.1:1/v2.1/track", "http://127.0.0.1:2/"),
            None
        );
        assert_eq!(redirect_target(cur, "ftp://x"), None);
    }
}
