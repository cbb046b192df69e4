//! Microsoft Entra ID (AAD) authentication: bearer tokens on every request
//! to the service, from a credential the application gives.
//!
//! - The credential ([`TokenCredential`]: a Rust trait, a C callback, a
//!   Python object with `get_token`) is called on the pipeline's background
//!   runtime only, one call at a time, for the scope
//!   `https://monitor.azure.com//.default`, or `<AADAudience>/.default`
//!   when the connection string names an audience.
//! - The token is cached as a ready header and refreshed before it expires
//!   (`token_cache`); requests read the cache ([`Auth::bearer`],
//!   [`Auth::current_bearer`]) and report a 401 or 403 with
//!   [`Auth::refused`], which refreshes once.
//! - A token only travels over https, or plain http to a loopback host (the
//!   local emulator): [`may_carry_token`] is asked before each request.
//! - Nothing the pipeline says holds a token: `Debug` of every type here
//!   redacts it, headers are marked sensitive, a credential's own error text
//!   is said with tokens blanked out, and persisted files hold request
//!   bodies only, never headers.
//!
//! Which pipelines authenticate: every one given a credential. A connection
//! string with `Authorization=AAD`, or `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`
//! set, without a credential is refused at start: the service would refuse
//! every request, and the data would wait for nothing. (Python's face makes
//! a managed identity credential from the environment variable first.)

mod credential;
mod environment;
mod redact;
mod token_cache;

pub(crate) use credential::SharedCredential;
pub use credential::{AccessToken, CredentialError, TokenCredential};
pub use environment::{parse_authentication_string, ManagedIdentity, AUTHENTICATION_STRING_ENV};
#[allow(unused_imports)]
// `NoToken`: for Live Metrics (core/src/live/), which waits for tokens too
pub(crate) use token_cache::{Auth, Bearer, NoToken};

use crate::config::{is_loopback, Authorization, ConnectionString};
use crate::error::{ConfigError, Error, Result};
use std::sync::Arc;
use std::time::Duration;

/// The scope tokens are asked for when the connection string names no audience.
pub const DEFAULT_SCOPE: &str = "https://monitor.azure.com//.default";

/// `<AADAudience>/.default`, or [`DEFAULT_SCOPE`]. The audience is taken as
/// written (the official distro appends `/.default` to it the same way, so
/// `https://monitor.azure.com/` gives the default scope); one that already
/// ends in `/.default` is a scope already.
pub(crate) fn scope_for(aad_audience: Option<&str>) -> String {
    match aad_audience.map(str::trim) {
        Some(a) if a.ends_with("/.default") => a.to_string(),
        Some(a) if !a.is_empty() => format!("{a}/.default"),
        _ => DEFAULT_SCOPE.to_string(),
    }
}

/// Whether a token may be sent to `url`: over https, or plain http to a
/// loopback host only. Anything unreadable may not.
pub(crate) fn may_carry_token(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return false;
    };
    match (uri.scheme_str(), uri.host()) {
        (Some(s), Some(_)) if s.eq_ignore_ascii_case("https") => true,
        (Some(s), Some(host)) if s.eq_ignore_ascii_case("http") => {
            is_loopback(host.trim_start_matches('[').trim_end_matches(']'))
        }
        _ => false,
    }
}

/// The pipeline's authentication: `Some` when a credential was given; an
/// error when the connection string or the environment asks for Entra ID
/// and none was. Failing credentials are retried between `retry_base` and
/// `retry_max`.
pub(crate) fn resolve(
    connection_string: &ConnectionString,
    credential: Option<SharedCredential>,
    env: &impl Fn(&str) -> Option<String>,
    retry_base: Duration,
    retry_max: Duration,
) -> Result<Option<Arc<Auth>>> {
    const HOW: &str = "pass one (Rust: AzureTelemetryBuilder::credential, C: \
                       genkit_azure_config.token_callback, Python: credential=)";
    let Some(SharedCredential(credential)) = credential else {
        if connection_string.authorization == Authorization::EntraId {
            return Err(Error::Config(ConfigError::new(
                "credential",
                format!(
                    "the connection string asks for Entra ID (Authorization=AAD), which needs a \
                     credential, and none was given; {HOW}"
                ),
            )));
        }
        let asked = env(AUTHENTICATION_STRING_ENV).unwrap_or_default();
        if parse_authentication_string(&asked)
            .map_err(Error::Config)?
            .is_some()
        {
            return Err(Error::Config(ConfigError::new(
                "credential",
                format!(
                    "{AUTHENTICATION_STRING_ENV} asks for Entra ID with a managed identity, which \
                     this face cannot get by itself, and no credential was given; {HOW}"
                ),
            )));
        }
        return Ok(None);
    };
    let scope = scope_for(connection_string.aad_audience.as_deref());
    Ok(Some(Arc::new(Auth::new(
        credential, scope, retry_base, retry_max,
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    const KEY: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn the_scope_comes_from_the_audience() {
        assert_eq!(scope_for(None), "https://monitor.azure.com//.default");
        assert_eq!(
            scope_for(Some("https://monitor.azure.com/")),
            "https://monitor.azure.com//.default"
        );
        assert_eq!(
            scope_for(Some("https://monitor.azure.us")),
            "https://monitor.azure.us/.default"
        );
        assert_eq!(scope_for(Some("api://x/.default")), "api://x/.default");
    }

    #[test]
    fn tokens_travel_over_https_or_to_loopback_only() {
        for url in [
            "https://dc.services.visualstudio.com/v2.1/track",
            "HTTPS://westeurope.in.applicationinsights.azure.com/v2.1/track",
            "http://127.0.0.1:4000/v2.1/track",
            "http://localhost:1/v2.1/track",
            "http://[::1]:9/v2.1/track",
        ] {
            assert!(may_carry_token(url), "{url}");
        }
        for url in [
            "http://example.com/v2.1/track",
            "http://10.0.0.1:80/v2.1/track",
            "http://127.0.0.1.example.com/v2.1/track",
            "ftp://127.0.0.1/",
            "not a url",
            "/v2.1/track",
        ] {
            assert!(!may_carry_token(url), "{url}");
        }
    }

    fn cs(extra: &str) -> ConnectionString {
        ConnectionString::parse(&format!("InstrumentationKey={KEY}{extra}")).unwrap()
    }

    fn credential() -> SharedCredential {
        SharedCredential(Arc::new(|_: &[&str]| {
            Ok(AccessToken::new(
                "t",
                SystemTime::now() + Duration::from_secs(60),
            ))
        }))
    }

    #[test]
    fn entra_id_without_a_credential_is_refused_and_says_how_to_give_one() {
        let none = |_: &str| None;
        let d = Duration::from_millis(1);
        let err = resolve(&cs(";Authorization=AAD"), None, &none, d, d).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "invalid configuration: credential: the connection string asks for Entra ID"
            ),
            "{text}"
        );
        assert!(text.contains("credential="), "{text}");
        let aad =
            |k: &str| (k == AUTHENTICATION_STRING_ENV).then(|| "Authorization=AAD".to_string());
        let err = resolve(&cs(""), None, &aad, d, d).unwrap_err();
        assert!(err.to_string().contains(AUTHENTICATION_STRING_ENV), "{err}");
        let bad = |k: &str| (k == AUTHENTICATION_STRING_ENV).then(|| "Authorization=x".to_string());
        assert!(resolve(&cs(""), None, &bad, d, d).is_err());
        // No credential and nothing asked: the instrumentation key alone.
        assert!(resolve(&cs(""), None, &none, d, d).unwrap().is_none());
        // A credential: tokens, whatever the connection string says, with
        // the audience's scope.
        let auth = resolve(&cs(""), Some(credential()), &bad, d, d)
            .unwrap()
            .unwrap();
        assert_eq!(auth.scope(), DEFAULT_SCOPE);
        let auth = resolve(
            &cs(";Authorization=AAD;AADAudience=https://custom.example"),
            Some(credential()),
            &none,
            d,
            d,
        )
        .unwrap()
        .unwrap();
        assert_eq!(auth.scope(), "https://custom.example/.default");
    }
}
