//! Entra ID on the emulator: optionally require `Authorization: Bearer <token>` on
//! track requests, as a resource with local authentication disabled does, and count
//! what arrived.
//!
//! With an [`AuthPlan`] that lists tokens, a track request is refused before the fault
//! plan sees it (it consumes no step): without a bearer token, with one not listed, or
//! with one past its `expires_on`, with 401; with one marked `forbidden` (an identity
//! without the "Monitoring Metrics Publisher" role), with 403. Every item of a refused
//! request is reported failed with that status and nothing is stored. The default
//! plan (no tokens) requires nothing.
//!
//! Whatever the plan, [`AuthStats`] counts requests with and without a token and what
//! became of each token, so a test can tell that tokens were (or were not) sent.
//!
//! JSON form (`POST /auth`; `GET /auth` shows the plan and the counts, `DELETE /auth`
//! requires nothing again; `expires_on` is seconds since the Unix epoch, fractions
//! allowed, absent or null for never):
//!
//! ```json
//! {"tokens": [{"token": "abc", "expires_on": 1767225600.5}, {"token": "no-role", "forbidden": true}]}
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use serde::{Deserialize, Serialize};

/// Which bearer tokens the emulator accepts; none listed: no token is required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthPlan {
    pub tokens: Vec<AcceptedToken>,
}

/// One token the emulator knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedToken {
    pub token: String,
    /// Seconds since the Unix epoch from which the token is refused as expired;
    /// `None`: never.
    #[serde(default, alias = "expiresOn", skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<f64>,
    /// Refused with 403: a valid token of an identity that may not send.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forbidden: bool,
}

impl AcceptedToken {
    /// A token accepted until `expires_on` (`None`: always).
    pub fn new(token: impl Into<String>, expires_on: Option<SystemTime>) -> Self {
        AcceptedToken {
            token: token.into(),
            expires_on: expires_on.map(|t| {
                t.duration_since(UNIX_EPOCH)
                    .unwrap_or(Duration::ZERO)
                    .as_secs_f64()
            }),
            forbidden: false,
        }
    }

    /// A valid token that is answered 403.
    pub fn forbidden(token: impl Into<String>) -> Self {
        AcceptedToken {
            forbidden: true,
            ..AcceptedToken::new(token, None)
        }
    }
}

impl AuthPlan {
    /// Require one of `tokens`.
    pub fn tokens(tokens: impl IntoIterator<Item = AcceptedToken>) -> Self {
        AuthPlan {
            tokens: tokens.into_iter().collect(),
        }
    }

    /// True when no token is required.
    pub fn is_open(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Parses the JSON form; an empty text requires nothing.
    pub fn from_json(text: &str) -> Result<AuthPlan, AuthPlanError> {
        if text.trim().is_empty() {
            return Ok(AuthPlan::default());
        }
        let plan: AuthPlan =
            serde_json::from_str(text).map_err(|e| AuthPlanError(e.to_string()))?;
        plan.validate()?;
        Ok(plan)
    }

    pub fn validate(&self) -> Result<(), AuthPlanError> {
        for (i, t) in self.tokens.iter().enumerate() {
            if t.token.is_empty() || t.token.chars().any(char::is_whitespace) {
                return Err(AuthPlanError(format!(
                    "tokens[{i}]: a token is non-empty and has no spaces"
                )));
            }
            if t.expires_on.is_some_and(|e| !e.is_finite() || e < 0.0) {
                return Err(AuthPlanError(format!(
                    "tokens[{i}].expires_on: seconds since the Unix epoch, or null"
                )));
            }
        }
        Ok(())
    }
}

/// A plan that cannot be used, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthPlanError(pub String);

impl fmt::Display for AuthPlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid auth plan: {}", self.0)
    }
}

impl std::error::Error for AuthPlanError {}

/// What the emulator saw of authentication on track requests, since start or reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthStats {
    /// Track requests with an `Authorization: Bearer` header, whatever the plan.
    pub requests_with_token: u64,
    /// Track requests without one.
    pub requests_without_token: u64,
    /// Requests let through by a plan that requires tokens.
    pub accepted: u64,
    /// Refused with 401 for want of a bearer token.
    pub missing: u64,
    /// Refused with 401: a token the plan does not list.
    pub unknown: u64,
    /// Refused with 401: a listed token past its `expires_on`.
    pub expired: u64,
    /// Refused with 403: a token marked `forbidden`.
    pub forbidden: u64,
    /// Requests per token text, let through or not.
    pub by_token: BTreeMap<String, u64>,
}

/// `GET /auth`: the plan in force and the counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthStatus {
    pub plan: AuthPlan,
    pub stats: AuthStats,
}

/// A refused request: the status and the message every item gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

/// The plan and the counts, kept under the state's lock.
#[derive(Debug, Default)]
pub(crate) struct Auth {
    pub plan: AuthPlan,
    pub stats: AuthStats,
}

impl Auth {
    /// Counts the request and decides whether it may go on (`None`) or is refused.
    pub fn check(&mut self, headers: &HeaderMap, now: SystemTime) -> Option<Refusal> {
        let token = bearer_token(headers);
        match &token {
            Some(t) => {
                self.stats.requests_with_token += 1;
                *self.stats.by_token.entry(t.clone()).or_default() += 1;
            }
            None => self.stats.requests_without_token += 1,
        }
        if self.plan.is_open() {
            return None;
        }
        let refuse = |status: u16, message: &str| {
            Some(Refusal {
                status,
                message: message.to_string(),
            })
        };
        let Some(token) = token else {
            self.stats.missing += 1;
            return refuse(401, "Unauthorized: the request has no bearer token");
        };
        let Some(known) = self.plan.tokens.iter().find(|t| t.token == token) else {
            self.stats.unknown += 1;
            return refuse(401, "Unauthorized: the bearer token is not valid");
        };
        let now_s = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        if known.expires_on.is_some_and(|e| now_s >= e) {
            self.stats.expired += 1;
            return refuse(401, "Unauthorized: the bearer token has expired");
        }
        if known.forbidden {
            self.stats.forbidden += 1;
            return refuse(
                403,
                "Forbidden: the identity lacks the Monitoring Metrics Publisher role",
            );
        }
        self.stats.accepted += 1;
        None
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(a).unwrap(),
            );
        }
        h
    }

    #[test]
    fn refuses_missing_unknown_expired_and_forbidden_tokens() {
        let now = SystemTime::now();
        let mut auth = Auth::default();
        assert_eq!(auth.check(&headers(None), now), None);
        assert_eq!(auth.check(&headers(Some("Bearer x")), now), None);
        auth.plan = AuthPlan::tokens([
            AcceptedToken::new("good", Some(now + Duration::from_secs(60))),
            AcceptedToken::new("old", Some(now - Duration::from_secs(1))),
            AcceptedToken::forbidden("no-role"),
        ]);
        let status =
            |auth: &mut Auth, h: Option<&str>| auth.check(&headers(h), now).map(|r| r.status);
        assert_eq!(status(&mut auth, Some("Bearer good")), None);
        assert_eq!(status(&mut auth, Some("bearer  good ")), None);
        assert_eq!(status(&mut auth, None), Some(401));
        assert_eq!(status(&mut auth, Some("Basic good")), Some(401));
        assert_eq!(status(&mut auth, Some("Bearer other")), Some(401));
        assert_eq!(status(&mut auth, Some("Bearer old")), Some(401));
        assert_eq!(status(&mut auth, Some("Bearer no-role")), Some(403));
        let s = &auth.stats;
        assert_eq!(
            (s.accepted, s.missing, s.unknown, s.expired, s.forbidden),
            (2, 2, 1, 1, 1)
        );
        assert_eq!((s.requests_with_token, s.requests_without_token), (6, 3));
        assert_eq!(s.by_token["good"], 2);
    }

    #[test]
    fn plans_parse_and_bad_ones_are_named() {
        let plan = AuthPlan::from_json(
            r#"{"tokens": [{"token": "a", "expires_on": 12.5}, {"token": "b", "forbidden": true}]}"#,
        )
        .unwrap();
        assert_eq!(plan.tokens[0].expires_on, Some(12.5));
        assert!(plan.tokens[1].forbidden);
        assert!(AuthPlan::from_json("").unwrap().is_open());
        let camel = AuthPlan::from_json(r#"{"tokens": [{"token": "a", "expiresOn": 1}]}"#).unwrap();
        assert_eq!(camel.tokens[0].expires_on, Some(1.0));
        for bad in [
            r#"{"tokens": [{"token": ""}]}"#,
            r#"{"tokens": [{"token": "a b"}]}"#,
            r#"{"tokens": [{"token": "a", "expires_on": -1}]}"#,
            r#"{"tokenz": []}"#,
        ] {
            assert!(AuthPlan::from_json(bad).is_err(), "{bad}");
        }
    }
}
