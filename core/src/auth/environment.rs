//! `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`: how a deployment asks for
//! Entra ID with a managed identity, `Authorization=AAD[;ClientId=<id>]`.
//!
//! Parsed here once for every face. Python turns it into
//! `azure.identity.ManagedIdentityCredential`; Rust and C have no managed
//! identity client of their own, so there it only makes a pipeline without
//! a credential refuse to start (sending without a token would be refused
//! by the service anyway, and silently). Errors name the part by its place
//! and never quote a value (a client id is not secret, but a key pasted into
//! the wrong variable would be).

use crate::error::ConfigError;

pub const AUTHENTICATION_STRING_ENV: &str = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";

/// What the authentication string asks for: Entra ID with the managed
/// identity of the host, a user-assigned one when `client_id` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentity {
    pub client_id: Option<String>,
}

/// `Ok(None)` for an empty string; `Ok(Some(_))` for `Authorization=AAD`
/// with an optional `ClientId`; an error naming the part otherwise. Keys are
/// case-insensitive, surrounding spaces and empty parts are fine, unknown
/// keys are ignored (as the official distro does).
pub fn parse_authentication_string(value: &str) -> Result<Option<ManagedIdentity>, ConfigError> {
    let error = |reason: String| ConfigError::new(AUTHENTICATION_STRING_ENV, reason);
    if value.trim().is_empty() {
        return Ok(None);
    }
    let mut aad = false;
    let mut client_id = None;
    for (i, part) in value.split(';').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let n = i + 1;
        let Some((key, v)) = part.split_once('=') else {
            return Err(error(format!(
                "part {n} is not of the form Key=Value (expected Authorization=AAD[;ClientId=...])"
            )));
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "authorization" => {
                if !v.trim().eq_ignore_ascii_case("aad") {
                    return Err(error(format!(
                        "Authorization (part {n}) is not supported (expected AAD)"
                    )));
                }
                aad = true;
            }
            "clientid" => {
                let v = v.trim();
                if v.is_empty() {
                    return Err(error(format!("ClientId (part {n}) is empty")));
                }
                client_id = Some(v.to_string());
            }
            _ => {}
        }
    }
    if !aad {
        return Err(error(
            "has no Authorization=AAD (expected Authorization=AAD[;ClientId=...])".into(),
        ));
    }
    Ok(Some(ManagedIdentity { client_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_forms_the_distro_reads() {
        assert_eq!(parse_authentication_string("  ").unwrap(), None);
        assert_eq!(
            parse_authentication_string("Authorization=AAD").unwrap(),
            Some(ManagedIdentity { client_id: None })
        );
        assert_eq!(
            parse_authentication_string(" authorization = aad ; CLIENTID = abc-123 ;").unwrap(),
            Some(ManagedIdentity {
                client_id: Some("abc-123".into())
            })
        );
        assert_eq!(
            parse_authentication_string("Authorization=AAD;Other=x").unwrap(),
            Some(ManagedIdentity { client_id: None })
        );
    }

    #[test]
    fn errors_name_the_part_without_quoting_it() {
        for (input, want) in [
            (
                "Authorization=ikey",
                "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Authorization (part 1) is not supported (expected AAD)",
            ),
            (
                "Authorization=AAD;secret-value",
                "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: part 2 is not of the form Key=Value (expected Authorization=AAD[;ClientId=...])",
            ),
            (
                "ClientId=abc",
                "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: has no Authorization=AAD (expected Authorization=AAD[;ClientId=...])",
            ),
            (
                "Authorization=AAD;ClientId=",
                "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: ClientId (part 2) is empty",
            ),
        ] {
            let err = parse_authentication_string(input).unwrap_err();
            assert_eq!(err.to_string(), want);
            assert!(!err.to_string().contains("secret-value"));
        }
    }
}
