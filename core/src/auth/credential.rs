//! What a credential is to the pipeline: something that gives an Entra ID
//! access token and its expiry for scopes ([`TokenCredential`]), the token
//! it gives ([`AccessToken`]), and how it says it could not
//! ([`CredentialError`]).
//!
//! The trait is synchronous on purpose: every face has a blocking credential
//! to hand (Python's `get_token`, a C callback), and the pipeline calls it on
//! a blocking thread of its own runtime, never on the host's threads.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of Microsoft Entra ID access tokens, e.g. a managed identity.
///
/// The pipeline calls [`Self::get_token`] on one of its own background
/// threads (a blocking thread of its runtime, never the host's), one call at
/// a time, when it has no token yet, before the current one expires, and
/// once after the service refused one (401, 403). The call may block (it
/// usually goes to the network); only token refreshing waits for it.
///
/// A closure `Fn(&[&str]) -> Result<AccessToken, CredentialError>` is a
/// credential too.
///
/// ```no_run
/// use genkit_azure::{AccessToken, AzureTelemetry, CredentialError};
/// use std::time::{Duration, SystemTime};
///
/// let telemetry = AzureTelemetry::builder()
///     .connection_string("InstrumentationKey=00000000-0000-0000-0000-000000000000;Authorization=AAD")
///     .credential(|scopes: &[&str]| -> Result<AccessToken, CredentialError> {
///         // ask your identity library for a token for `scopes` ...
///         Ok(AccessToken::new("eyJ...", SystemTime::now() + Duration::from_secs(3600)))
///     })
///     .build()?;
/// # Ok::<(), genkit_azure::Error>(())
/// ```
pub trait TokenCredential: Send + Sync {
    /// A token for `scopes` (the pipeline asks for one scope:
    /// `https://monitor.azure.com//.default`, or `<AADAudience>/.default`
    /// when the connection string names an audience).
    fn get_token(&self, scopes: &[&str]) -> Result<AccessToken, CredentialError>;
}

impl<F> TokenCredential for F
where
    F: Fn(&[&str]) -> Result<AccessToken, CredentialError> + Send + Sync,
{
    fn get_token(&self, scopes: &[&str]) -> Result<AccessToken, CredentialError> {
        self(scopes)
    }
}

/// A bearer token and when it expires. Its `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    token: String,
    expires_on: SystemTime,
}

impl AccessToken {
    pub fn new(token: impl Into<String>, expires_on: SystemTime) -> Self {
        Self {
            token: token.into(),
            expires_on,
        }
    }

    /// A token expiring at `expires_on` seconds since the Unix epoch (the
    /// form `azure.identity` and most token endpoints give). A negative
    /// number is the epoch itself: an expired token, refused as such.
    pub fn expiring_at_unix(token: impl Into<String>, expires_on: i64) -> Self {
        let secs = u64::try_from(expires_on).unwrap_or(0);
        let expires_on = UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            // Past what the clock can hold: as good as never.
            .unwrap_or_else(|| SystemTime::now() + Duration::from_secs(u64::from(u32::MAX)));
        Self::new(token, expires_on)
    }

    /// The token's text (what follows `Bearer ` in the header).
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn expires_on(&self) -> SystemTime {
        self.expires_on
    }
}

impl fmt::Debug for AccessToken {
    // The token is a secret: `{:?}` of anything holding one must not leak it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Why a credential gave no token. The message is the credential's own; the
/// pipeline says it in a diagnostic with any token text in it blanked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialError {
    message: String,
}

impl CredentialError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CredentialError {}

/// A credential as the builder keeps it: shared, cloneable with the
/// builder, and `Debug` without saying anything about it.
#[derive(Clone)]
pub(crate) struct SharedCredential(pub Arc<dyn TokenCredential>);

impl fmt::Debug for SharedCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<credential>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let t = AccessToken::expiring_at_unix("secret-token-text", 4_000_000_000);
        let text = format!("{t:?}");
        assert!(!text.contains("secret-token-text"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert_eq!(t.token(), "secret-token-text");
        assert_eq!(
            t.expires_on(),
            UNIX_EPOCH + Duration::from_secs(4_000_000_000)
        );
        assert_eq!(
            AccessToken::expiring_at_unix("x", -5).expires_on(),
            UNIX_EPOCH
        );
    }

    #[test]
    fn a_closure_is_a_credential() {
        let c = |scopes: &[&str]| {
            Ok(AccessToken::new(
                scopes.join(" "),
                SystemTime::now() + Duration::from_secs(60),
            ))
        };
        let shared = SharedCredential(Arc::new(c));
        assert_eq!(shared.0.get_token(&["a", "b"]).unwrap().token(), "a b");
        assert_eq!(format!("{shared:?}"), "<credential>");
    }
}
