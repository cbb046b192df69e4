//! Parsing of Application Insights connection strings.
//!
//! Lenient where the meaning is unambiguous (surrounding spaces, a trailing
//! `;`, keys in any case), strict where it is not (duplicate keys, a key that
//! is not a GUID, plain `http://` to a remote host). Error messages name the
//! part that is wrong by its name, its place and its characters, and never
//! quote anything from the string: a missing `;` or a key pasted into the
//! wrong place puts the instrumentation key inside any value, so no value,
//! host or key name is ever safe to echo.

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
    /// the instrumentation key in clear text. The error names `field` and
    /// never quotes `value`.
    pub fn parse(field: &str, value: &str) -> Result<Self, ConfigError> {
        Self::check(value).map_err(|reason| ConfigError::new(field, reason))
    }

    /// `Ok`, or what is wrong with `value`, phrased without quoting it.
    fn check(value: &str) -> Result<Self, String> {
        let value = value.trim().trim_end_matches('/');
        let (https, rest) = if let Some(rest) = strip_prefix_ci(value, "https://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ci(value, "http://") {
            (false, rest)
        } else {
            return Err(format!(
                "is not an http(s) URL (expected https://host[:port]){}",
                hint(value)
            ));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let host = host_of(authority);
        if host.is_empty() {
            return Err(format!(
                "has no host (expected https://host[:port]){}",
                hint(value)
            ));
        }
        if value.parse::<http::Uri>().is_err() {
            return Err(format!(
                "is not a valid URL (expected https://host[:port]){}",
                hint(value)
            ));
        }
        if !https && !is_loopback(host) {
            return Err(
                "uses plain http:// to a host that is not a loopback address (localhost, \
                 127.0.0.0/8, ::1), which would send the key in clear text; use https://"
                    .to_string(),
            );
        }
        Ok(Self {
            url: value.to_string(),
            host: host.to_string(),
            https,
        })
    }
}

/// A clue to the usual causes of a malformed value, without quoting it: a
/// `=` or a space inside a value almost always means a missing `;`.
fn hint(value: &str) -> &'static str {
    if value.contains('=') {
        "; it contains '=', so a ';' may be missing before the next Key=Value"
    } else if value.chars().any(char::is_whitespace) {
        "; it contains a space"
    } else if !value.is_ascii() {
        "; it contains a character outside ASCII"
    } else {
        ""
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

/// Where a `;`-separated part sits in the string: its number (1-based) and
/// its characters (1-based, inclusive, surrounding spaces left out). Errors
/// point with this instead of quoting the part.
#[derive(Debug, Clone, Copy)]
struct Place {
    part: usize,
    first: usize,
    last: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.part;
        let suffix = match (n % 10, n % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        write!(
            f,
            "the {n}{suffix} part, characters {}-{}",
            self.first, self.last
        )
    }
}

/// The settings this parser knows, by their lower-case name, with the
/// spelling errors use. Errors name a setting only by this spelling: a name
/// typed by the user may itself be the key pasted in the wrong place.
const KNOWN: &[(&str, &str)] = &[
    ("instrumentationkey", "InstrumentationKey"),
    ("ingestionendpoint", "IngestionEndpoint"),
    ("liveendpoint", "LiveEndpoint"),
    ("endpointsuffix", "EndpointSuffix"),
    ("location", "Location"),
    ("authorization", "Authorization"),
    ("aadaudience", "AADAudience"),
    ("applicationid", "ApplicationId"),
];

/// One `Key=Value` part, trimmed, with where it was.
struct Part<'a> {
    /// The lower-case name of a known setting, or `None` for an unknown one.
    known: Option<(&'static str, &'static str)>,
    lower: String,
    value: &'a str,
    place: Place,
}

impl Part<'_> {
    /// "IngestionEndpoint (the 2nd part, characters 41-80)".
    fn field(&self) -> String {
        match self.known {
            Some((_, name)) => format!("{name} ({})", self.place),
            None => format!("a setting this library does not know ({})", self.place),
        }
    }
    fn error(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::new(self.field(), reason)
    }
    fn non_empty(&self) -> Result<String, ConfigError> {
        if self.value.is_empty() {
            Err(self.error("has an empty value"))
        } else {
            Ok(self.value.to_string())
        }
    }
}

/// Splits `input` at `;` into trimmed, non-empty `Key=Value` parts.
fn parts(input: &str) -> Result<Vec<Part<'_>>, ConfigError> {
    let mut out = Vec::new();
    // Character offset (0-based) of the current part's first character.
    let mut offset = 0;
    for (index, raw) in input.split(';').enumerate() {
        let raw_chars = raw.chars().count();
        let start = offset;
        offset += raw_chars + 1;
        let segment = raw.trim();
        if segment.is_empty() {
            continue; // trailing or doubled ';'
        }
        let lead = raw[..raw.len() - raw.trim_start().len()].chars().count();
        let place = Place {
            part: index + 1,
            first: start + lead + 1,
            last: start + lead + segment.chars().count(),
        };
        let Some((key, value)) = segment.split_once('=') else {
            return Err(ConfigError::new(
                place.to_string(),
                "is not of the form Key=Value (a value without a name, or a ';' inside a value?)",
            ));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ConfigError::new(
                place.to_string(),
                "has no name before its '='",
            ));
        }
        let lower = key.to_ascii_lowercase();
        let known = KNOWN.iter().copied().find(|(l, _)| *l == lower);
        out.push(Part {
            known,
            lower,
            value: value.trim(),
            place,
        });
    }
    Ok(out)
}

impl ConnectionString {
    pub fn instrumentation_key(&self) -> &str {
        &self.instrumentation_key
    }

    pub fn parse(input: &str) -> Result<Self, ConfigError> {
        if input.trim().is_empty() {
            return Err(ConfigError::new("connection string", "is empty"));
        }
        let parts = parts(input)?;
        for (i, part) in parts.iter().enumerate() {
            if let Some(first) = parts[..i].iter().find(|p| p.lower == part.lower) {
                return Err(
                    part.error(format!("appears more than once (first in {})", first.place))
                );
            }
        }
        let mut ikey = None;
        let mut ingestion = None;
        let mut live = None;
        let mut suffix = None;
        let mut location = None;
        let mut authorization = Authorization::InstrumentationKey;
        let mut aad_audience = None;
        let mut application_id = None;
        for part in &parts {
            let Some((lower, _)) = part.known else {
                // Unknown keys are ignored, as the service adds new ones over time.
                continue;
            };
            let endpoint = || Endpoint::check(part.value).map_err(|reason| part.error(reason));
            match lower {
                "instrumentationkey" => {
                    let v = part.non_empty()?;
                    if !is_guid(&v) {
                        return Err(part.error(format!(
                            "is not a GUID (expected 8-4-4-4-12 hexadecimal digits, got {} characters){}",
                            v.chars().count(),
                            hint(&v)
                        )));
                    }
                    ikey = Some(v.to_ascii_lowercase());
                }
                "ingestionendpoint" => ingestion = Some(endpoint()?),
                "liveendpoint" => live = Some(endpoint()?),
                "endpointsuffix" => suffix = Some((part.non_empty()?, part)),
                "location" => location = Some((part.non_empty()?, part)),
                "authorization" => {
                    authorization = match part.value.to_ascii_lowercase().as_str() {
                        "ikey" => Authorization::InstrumentationKey,
                        "aad" => Authorization::EntraId,
                        _ => {
                            return Err(part.error(format!(
                                "is not supported (expected ikey or AAD){}",
                                hint(part.value)
                            )))
                        }
                    }
                }
                "aadaudience" => aad_audience = Some(part.non_empty()?),
                "applicationid" => application_id = Some(part.non_empty()?),
                _ => unreachable!("every known key has an arm"),
            }
        }
        let instrumentation_key =
            ikey.ok_or_else(|| ConfigError::new("InstrumentationKey", "is missing"))?;
        // Endpoints built from EndpointSuffix (and Location): an error names
        // both parts, since either may hold what is wrong.
        let from_suffix = |kind: &str| -> Result<Option<Endpoint>, ConfigError> {
            let Some((suffix, suffix_part)) = &suffix else {
                return Ok(None);
            };
            let prefix = location
                .as_ref()
                .map(|(l, _)| format!("{l}."))
                .unwrap_or_default();
            let url = format!("https://{prefix}{kind}.{}", suffix.trim_matches('.'));
            Endpoint::check(&url).map(Some).map_err(|_| {
                let (field, verb) = match &location {
                    Some((_, location_part)) => (
                        format!("{} with {}", suffix_part.field(), location_part.field()),
                        "do",
                    ),
                    None => (suffix_part.field(), "does"),
                };
                ConfigError::new(
                    field,
                    format!(
                        "{verb} not form a valid endpoint (https://[Location.]{kind}.EndpointSuffix){}",
                        hint(&url)
                    ),
                )
            })
        };
        let ingestion_endpoint = match ingestion {
            Some(e) => e,
            None => match from_suffix("dc")? {
                Some(e) => e,
                None => Endpoint::parse("IngestionEndpoint", DEFAULT_INGESTION_ENDPOINT)?,
            },
        };
        let live_endpoint = match live {
            Some(e) => e,
            None => match from_suffix("live")? {
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
mod mutations;

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
        assert_eq!(
            err.field,
            "IngestionEndpoint (the 2nd part, characters 57-92)"
        );
        assert!(err.reason.contains("loopback"), "{err}");
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
            (
                format!("InstrumentationKey={KEY};{KEY}"),
                "the 2nd part, characters 57-92",
            ),
            (
                format!("InstrumentationKey={KEY};InstrumentationKey={KEY}"),
                "InstrumentationKey (the 2nd part, characters 57-111)",
            ),
            (
                format!("InstrumentationKey={KEY};IngestionEndpoint=ftp://x"),
                "IngestionEndpoint (the 2nd part, characters 57-81)",
            ),
            (
                format!("InstrumentationKey={KEY};Authorization=Basic"),
                "Authorization (the 2nd part, characters 57-75)",
            ),
            (
                format!("InstrumentationKey={KEY};EndpointSuffix="),
                "EndpointSuffix (the 2nd part, characters 57-71)",
            ),
            (
                "InstrumentationKey=secret-but-not-a-guid".to_string(),
                "InstrumentationKey (the 1st part, characters 1-40)",
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

    /// The shapes that used to quote the value (and with it the key): a
    /// missing `;` after an endpoint, the key pasted into an endpoint (no
    /// scheme, no host, plain http to it as a host), and into Authorization.
    #[test]
    fn the_shapes_that_leaked_now_say_where_and_why() {
        let k = mutations::KEY;
        let cases = [
            (
                format!("IngestionEndpoint=https://h/ InstrumentationKey={k}"),
                "IngestionEndpoint (the 1st part, characters 1-84): is not a valid URL \
                 (expected https://host[:port]); it contains '=', so a ';' may be missing \
                 before the next Key=Value",
            ),
            (
                format!("InstrumentationKey={k};IngestionEndpoint={k}"),
                "IngestionEndpoint (the 2nd part, characters 57-110): is not an http(s) URL \
                 (expected https://host[:port])",
            ),
            (
                format!("InstrumentationKey={k};LiveEndpoint=https:///{k}"),
                "LiveEndpoint (the 2nd part, characters 57-114): has no host \
                 (expected https://host[:port])",
            ),
            (
                format!("InstrumentationKey={k};IngestionEndpoint=http://{k}/"),
                "IngestionEndpoint (the 2nd part, characters 57-118): uses plain http:// to a \
                 host that is not a loopback address (localhost, 127.0.0.0/8, ::1), which \
                 would send the key in clear text; use https://",
            ),
            (
                format!("InstrumentationKey={k};Authorization={k}"),
                "Authorization (the 2nd part, characters 57-106): is not supported \
                 (expected ikey or AAD)",
            ),
            (
                format!("InstrumentationKey={k};EndpointSuffix=x {k};Location=west"),
                "EndpointSuffix (the 2nd part, characters 57-109) with Location (the 3rd \
                 part, characters 111-123): do not form a valid endpoint \
                 (https://[Location.]dc.EndpointSuffix); it contains a space",
            ),
            (
                format!("InstrumentationKey={k};{k}=x;{k}=y"),
                "a setting this library does not know (the 3rd part, characters 96-133): \
                 appears more than once (first in the 2nd part, characters 57-94)",
            ),
            (
                format!(" InstrumentationKey={k} IngestionEndpoint=https://h/"),
                "InstrumentationKey (the 1st part, characters 2-85): is not a GUID (expected \
                 8-4-4-4-12 hexadecimal digits, got 65 characters); it contains '=', so a ';' \
                 may be missing before the next Key=Value",
            ),
            (
                format!("漢字;={k}"),
                "the 1st part, characters 1-2: is not of the form Key=Value (a value without \
                 a name, or a ';' inside a value?)",
            ),
            (
                format!("InstrumentationKey={k}; ={k}"),
                "the 2nd part, characters 58-94: has no name before its '='",
            ),
        ];
        for (input, want) in cases {
            let err = ConnectionString::parse(&input).unwrap_err();
            assert_eq!(err.to_string(), want, "{input}");
        }
    }

    #[test]
    fn the_leak_check_sees_any_eight_characters_of_the_key_in_any_form() {
        let secret = mutations::Secret::new(&mutations::key_variants()[4]);
        for message in [
            "value '6f1e2d3c' is bad",
            "VALUE '6F1E2D3C' IS BAD",
            "no dashes: 4b5a49788a6b5c4d",
            "tail: x5c4d3e2f1a0b",
        ] {
            assert!(secret.leaked_in(message).is_some(), "{message}");
        }
        for message in [
            "InstrumentationKey (the 1st part, characters 1-40): is not a GUID \
             (expected 8-4-4-4-12 hexadecimal digits, got 39 characters)",
            "7 characters of it: 6f1e2d3",
        ] {
            assert_eq!(secret.leaked_in(message), None, "{message}");
        }
    }

    /// The property: whatever is done to a connection string holding a key,
    /// no error (its Display, its Debug, and core's `Error` around it) holds
    /// the key or any 8 characters of it.
    #[test]
    fn no_mutation_of_a_connection_string_makes_an_error_hold_the_key() {
        let secrets: Vec<(String, mutations::Secret)> = mutations::key_variants()
            .into_iter()
            .map(|k| (k.clone(), mutations::Secret::new(&k)))
            .collect();
        let cases = mutations::cases(5_000);
        let mut errors = 0;
        for (input, key) in &cases {
            let Err(detail) = ConnectionString::parse(input) else {
                continue;
            };
            errors += 1;
            let secret = &secrets.iter().find(|(k, _)| k == key).expect("a variant").1;
            let error = crate::Error::ConnectionString {
                source_name: "argument",
                detail: detail.clone(),
            };
            // The Display and Debug of core's error hold those of the detail.
            secret.assert_hidden_in(&format!("{error} {error:?}"), input);
        }
        // The generator must keep producing mostly broken strings, else the
        // property says little.
        assert!(errors > cases.len() / 2, "{errors} of {}", cases.len());
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
