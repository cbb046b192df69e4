//! Parsing of Application Insights connection strings.
//!
//! Lenient where the meaning is unambiguous (surrounding spaces, a trailing
//! `;`, keys in any case), strict where it is not (duplicate keys, a key that
//! is not a GUID, plain `http://` to a remote host). Error messages name the
//! part that is wrong and never echo the instrumentation key.

use crate::error::ConfigError;
use std::fmt;
use std::net::IpAddr;

pub const DEFAULT_INGESTION_ENDPOINT: &str = "https://dc.services.visualstudio.com";
pub const DEFAULT_LIVE_ENDPOINT: &str = "https://rt.services.visualstudio.com";

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The instrumentation key in each envelope is all that is needed.
    InstrumentationKey,
    /// Entra ID (AAD) bearer tokens on every request.
    EntraId,
}

/// A parsed endpoint: scheme, host and optional port, without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    host: String,
    https: bool,
}

impl Endpoint {
    /// The endpoint as configured, e.g. `https://westeurope-5.in.applicationinsights.azure.com`.
    pub fn as_str(&self) -> &str {
        &self.url
    }
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn is_https(&self) -> bool {
        self.https
    }
    /// `self` joined with a path such as `v2.1/track`.
    pub fn join(&self, path: &str) -> String {
        format!("{}/{}", self.url, path.trim_start_matches('/'))
    }

    /// Parses `value` as the endpoint named `field`. Plain `http://` is allowed
    /// only for loopback hosts (the local emulator); anywhere else it would send
    /// the instrumentation key in clear text.
    pub fn parse(field: &str, value: &str) -> Result<Self, ConfigError> {
        let value = value.trim().trim_end_matches('/');
        let (https, rest) = if let Some(rest) = strip_prefix_ci(value, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ci(value, "http://") {
            (false, rest)
        } else {
            return Err(ConfigError::new(
                field,
                format!("'{value}' is not an http(s) URL (expected https://host[:port])"),
            ));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let host = host_of(authority);
        if host.is_empty() {
            return Err(ConfigError::new(field, format!("'{value}' has no host")));
        }
        if value.parse::<http::Uri>().is_err() {
            return Err(ConfigError::new(
                field,
                format!("'{value}' is not a valid URL"),
            ));
        }
        if !https && !is_loopback(host) {
            return Err(ConfigError::new(
                field,
                format!(
                    "plain http:// is only allowed to a loopback address, not to '{host}'; use https://"
                ),
            ));
        }
        Ok(Self {
            url: value.to_string(),
            host: host.to_string(),
            https,
        })
    }
}

fn strip_prefix_ci<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// The host part of `host[:port]` or `[v6addr][:port]`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// True for `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A validated connection string.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    instrumentation_key: String,
    pub ingestion_endpoint: Endpoint,
    pub live_endpoint: Endpoint,
    pub authorization: Authorization,
    pub aad_audience: Option<String>,
    pub application_id: Option<String>,
}

impl fmt::Debug for ConnectionString {
    // The key is a secret: Debug output shows only that one is present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("instrumentation_key", &"<redacted>")
            .field("ingestion_endpoint", &self.ingestion_endpoint.as_str())
            .field("live_endpoint", &self.live_endpoint.as_str())
            .field("authorization", &self.authorization)
            .finish()
    }
}

impl ConnectionString {
    pub fn instrumentation_key(&self) -> &str {
        &self.instrumentation_key
    }

    pub fn parse(input: &str) -> Result<Self, ConfigError> {
        let mut ikey = None;
        let mut ingestion = None;
        let mut live = None;
        let mut suffix = None;
        let mut location = None;
        let mut authorization = Authorization::InstrumentationKey;
        let mut aad_audience = None;
        let mut application_id = None;
        let mut seen: Vec<String> = Vec::new();

        if input.trim().is_empty() {
            return Err(ConfigError::new("connection string", "is empty"));
        }
        for (index, segment) in input.split(';').enumerate() {
            let segment = segment.trim();
            if segment.is_empty() {
                continue; // trailing or doubled ';'
            }
            let Some((key, value)) = segment.split_once('=') else {
                // Do not echo the segment: it may be a bare key pasted alone.
                return Err(ConfigError::new(
                    format!("segment {}", index + 1),
                    "is not of the form Key=Value",
                ));
            };
            let key = key.trim();
            let value = value.trim();
            let lower = key.to_ascii_lowercase();
            if seen.contains(&lower) {
                return Err(ConfigError::new(key, "appears more than once"));
            }
            seen.push(lower.clone());
            let value_or_err = |v: &str| {
                if v.is_empty() {
                    Err(ConfigError::new(key, "has an empty value"))
                } else {
                    Ok(v.to_string())
                }
            };
            match lower.as_str() {
                "instrumentationkey" => {
                    let v = value_or_err(value)?;
                    if !is_guid(&v) {
                        return Err(ConfigError::new(
                            "InstrumentationKey",
                            format!(
                                "is not a GUID (expected 8-4-4-4-12 hexadecimal digits, got {} characters)",
                                v.chars().count()
                            ),
                        ));
                    }
                    ikey = Some(v.to_ascii_lowercase());
                }
                "ingestionendpoint" => {
                    ingestion = Some(Endpoint::parse("IngestionEndpoint", value)?)
                }
                "liveendpoint" => live = Some(Endpoint::parse("LiveEndpoint", value)?),
                "endpointsuffix" => suffix = Some(value_or_err(value)?),
                "location" => location = Some(value_or_err(value)?),
                "authorization" => {
                    authorization = match value.to_ascii_lowercase().as_str() {
                        "ikey" => Authorization::InstrumentationKey,
                        "aad" => Authorization::EntraId,
                        _ => {
                            return Err(ConfigError::new(
                                "Authorization",
                                format!("'{value}' is not supported (expected ikey or AAD)"),
                            ))
                        }
                    }
                }
                "aadaudience" => aad_audience = Some(value_or_err(value)?),
                "applicationid" => application_id = Some(value_or_err(value)?),
                // Unknown keys are ignored, as the service adds new ones over time.
                _ => {}
            }
        }
        let instrumentation_key =
            ikey.ok_or_else(|| ConfigError::new("InstrumentationKey", "is missing"))?;
        let from_suffix = |kind: &str, field: &str| -> Result<Option<Endpoint>, ConfigError> {
            suffix
                .as_deref()
                .map(|s| {
                    let prefix = location
                        .as_deref()
                        .map(|l| format!("{l}."))
                        .unwrap_or_default();
                    Endpoint::parse(
                        field,
                        &format!("https://{prefix}{kind}.{}", s.trim_matches('.')),
                    )
                })
                .transpose()
        };
        let ingestion_endpoint = match ingestion {
            Some(e) => e,
            None => match from_suffix("dc", "EndpointSuffix")? {
                Some(e) => e,
                None => Endpoint::parse("IngestionEndpoint", DEFAULT_INGESTION_ENDPOINT)?,
            },
        };
        let live_endpoint = match live {
            Some(e) => e,
            None => match from_suffix("live", "EndpointSuffix")? {
                Some(e) => e,
                None => Endpoint::parse("LiveEndpoint", DEFAULT_LIVE_ENDPOINT)?,
            },
        };
        Ok(Self {
            instrumentation_key,
            ingestion_endpoint,
            live_endpoint,
            authorization,
            aad_audience,
            application_id,
        })
    }
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn parses_the_minimal_form_with_defaults() {
        let cs = ConnectionString::parse(&format!("InstrumentationKey={KEY}")).unwrap();
        assert_eq!(cs.instrumentation_key(), KEY);
        assert_eq!(cs.ingestion_endpoint.as_str(), DEFAULT_INGESTION_ENDPOINT);
        assert_eq!(cs.live_endpoint.as_str(), DEFAULT_LIVE_ENDPOINT);
        assert_eq!(cs.authorization, Authorization::InstrumentationKey);
    }

    #[test]
    fn tolerates_spaces_case_and_trailing_semicolon() {
        let cs = ConnectionString::parse(&format!(
            "  instrumentationkey = {KEY} ; INGESTIONENDPOINT= https://westeurope-5.in.applicationinsights.azure.com/ ;"
        ))
        .unwrap();
        assert_eq!(
            cs.ingestion_endpoint.join("v2.1/track"),
            "https://westeurope-5.in.applicationinsights.azure.com/v2.1/track"
        );
    }

    #[test]
    fn builds_endpoints_from_suffix_and_location() {
        let cs = ConnectionString::parse(&format!(
            "InstrumentationKey={KEY};EndpointSuffix=applicationinsights.azure.cn;Location=chinaeast2"
        ))
        .unwrap();
        assert_eq!(
            cs.ingestion_endpoint.as_str(),
            "https://chinaeast2.dc.applicationinsights.azure.cn"
        );
        assert_eq!(
            cs.live_endpoint.as_str(),
            "https://chinaeast2.live.applicationinsights.azure.cn"
        );
    }

    #[test]
    fn keeps_plain_http_for_loopback_only() {
        for host in ["127.0.0.1:8080", "localhost:1", "[::1]:9", "127.3.2.1"] {
            let cs = ConnectionString::parse(&format!(
                "InstrumentationKey={KEY};IngestionEndpoint=http://{host}/"
            ))
            .unwrap();
            assert!(!cs.ingestion_endpoint.is_https(), "{host}");
            assert_eq!(cs.ingestion_endpoint.as_str(), format!("http://{host}"));
        }
        let err = ConnectionString::parse(&format!(
            "InstrumentationKey={KEY};IngestionEndpoint=http://example.com"
        ))
        .unwrap_err();
        assert_eq!(err.field, "IngestionEndpoint");
        assert!(err.reason.contains("example.com"), "{err}");
        assert!(err.reason.contains("https://"), "{err}");
    }

    #[test]
    fn errors_name_the_part_and_never_echo_the_key() {
        let cases = [
            (String::new(), "connection string"),
            (
                "IngestionEndpoint=https://x.com".to_string(),
                "InstrumentationKey",
            ),
            (format!("InstrumentationKey={KEY};{KEY}"), "segment 2"),
            (
                format!("InstrumentationKey={KEY};InstrumentationKey={KEY}"),
                "InstrumentationKey",
            ),
            (
                format!("InstrumentationKey={KEY};IngestionEndpoint=ftp://x"),
                "IngestionEndpoint",
            ),
            (
                format!("InstrumentationKey={KEY};Authorization=Basic"),
                "Authorization",
            ),
            (
                format!("InstrumentationKey={KEY};EndpointSuffix="),
                "EndpointSuffix",
            ),
            (
                "InstrumentationKey=secret-but-not-a-guid".to_string(),
                "InstrumentationKey",
            ),
        ];
        for (input, field) in cases {
            let err = ConnectionString::parse(&input).unwrap_err();
            assert_eq!(err.field, field, "{input}");
            let msg = err.to_string();
            assert!(!msg.contains(KEY), "key leaked: {msg}");
            assert!(!msg.contains("secret-but"), "key leaked: {msg}");
        }
    }

    #[test]
    fn recognises_entra_id_authorization() {
        let cs = ConnectionString::parse(&format!("InstrumentationKey={KEY};Authorization=AAD"))
            .unwrap();
        assert_eq!(cs.authorization, Authorization::EntraId);
    }

    #[test]
    fn debug_output_redacts_the_key() {
        let cs = ConnectionString::parse(&format!("InstrumentationKey={KEY}")).unwrap();
        assert!(!format!("{cs:?}").contains(KEY));
    }
}
