//! Fault injection: the plan a test installs ([`FaultPlan`]) and the single place that
//! decides what each track request gets ([`Faults::decide`]).
//!
//! Exporter tests need the emulator to misbehave the way the real service does: 503, 503,
//! 200 sequences; `Retry-After`; 206 with chosen failing items; redirects; slow answers;
//! reset connections; outage windows. A plan is an ordered list of [`Step`]s plus
//! defaults. Every track request (`POST /v2/track`, `POST /v2.1/track`) consults
//! [`Faults::decide`] exactly once, when its headers arrive, under a mutex: the Nth track
//! request after the plan was installed gets step N, whatever connection it came on.
//! After the last step (unless the plan repeats) requests are handled normally, still
//! with the plan's default delay. Inspection endpoints (`/stats`, `/faults`, ...) are
//! never affected, except that an outage makes the whole port unreachable.
//!
//! JSON form (what `POST /faults` and `--faults` take; a bare array is short for
//! `{"steps": [...]}`):
//!
//! ```json
//! {
//!   "steps": [
//!     503,
//!     {"status": 429, "retry_after": "5"},
//!     {"status": 503, "retry_after_date": 30},
//!     {"status": 206, "item_errors": {"0": 500, "2": 400}},
//!     {"status": 307, "location": "http://127.0.0.1:4321/v2.1/track"},
//!     {"delay_ms": 250},
//!     {"reset": true},
//!     {"outage_ms": 2000},
//!     200
//!   ],
//!   "repeat": false,
//!   "delay_ms": 0,
//!   "outage_ms": 0
//! }
//! ```
//!
//! camelCase spellings of the keys (`retryAfter`, `itemErrors`, `delayMs`, ...) are
//! accepted too.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Redirect statuses a step may answer with (they need a `location`).
const REDIRECT_STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

/// A fault plan: what the next track requests get. `FaultPlan::default()` (JSON `{}`)
/// means "behave normally".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Applied one per track request, in arrival order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Start over at the first step after the last one (so `[503]` + repeat answers 503
    /// forever). Without it, requests after the last step are handled normally.
    #[serde(skip_serializing_if = "is_false")]
    pub repeat: bool,
    /// Delay before answering every track request whose step sets none (also after the
    /// steps ran out).
    #[serde(skip_serializing_if = "is_zero", alias = "delayMs")]
    pub delay_ms: u64,
    /// Refuse connections for this long, starting when the plan is installed (see
    /// [`Step::outage`] for how an outage behaves).
    #[serde(skip_serializing_if = "is_zero", alias = "outageMs")]
    pub outage_ms: u64,
}

/// What one track request gets. Fields combine as listed in [`FaultPlan::validate`];
/// the constructors below only build valid combinations.
///
/// In JSON a step is either a bare status (`503`) or an object with these keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value")]
pub struct Step {
    /// Status to answer with. `None` or 200: handle the request normally (validation
    /// still decides between 200, 206 and 400). 206: needs `item_errors`. 3xx: needs
    /// `location`. 4xx/5xx: nothing is stored and every item is reported failed with
    /// this status, in the service's body shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` header value, sent verbatim (delay seconds like `"5"`, or an
    /// HTTP date). JSON accepts a string or a number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// `Retry-After` as an HTTP date this many seconds after the answer is sent
    /// (rounded up to the next whole second, so waiting until the date never waits less).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_date: Option<u64>,
    /// For a 206: item index -> status code of the items to reject. Those items are
    /// not stored; the others are validated and stored as usual. Indexes past the end
    /// of the batch are ignored. JSON: `{"0": 500, "2": 400}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub item_errors: BTreeMap<usize, u16>,
    /// For a 3xx: the `Location` header (e.g. another emulator's track URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Message for the injected per-item errors (default: a description of the status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Delay before answering this request (overrides the plan's `delay_ms`). The body
    /// is read first; other connections are not held up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// The answer's body, sent verbatim instead of the one the emulator writes, as a
    /// buggy or hostile service might answer (an index listed twice, a status past
    /// 65,535, not JSON at all). The request is handled as `status` and `item_errors`
    /// say; only what the client reads changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Answer with a body that never ends (a chunked stream of spaces), as a broken
    /// or hostile endpoint might; the request is handled as `status` says.
    #[serde(skip_serializing_if = "is_false")]
    pub endless_body: bool,
    /// Read the request, then drop the TCP connection with a reset (SO_LINGER 0)
    /// instead of answering: the client sees "connection reset by peer".
    #[serde(skip_serializing_if = "is_false")]
    pub reset: bool,
    /// Reset this request like `reset`, then refuse connections for this long (see
    /// [`Step::outage`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outage_ms: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A plan that can't be carried out, with the offending step named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlanError(pub String);

impl fmt::Display for FaultPlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid fault plan: {}", self.0)
    }
}

impl std::error::Error for FaultPlanError {}

impl FaultPlan {
    /// Behave normally (same as `FaultPlan::default()`).
    pub fn normal() -> FaultPlan {
        FaultPlan::default()
    }

    /// One status per track request, then normal: `FaultPlan::statuses([503, 503, 200])`.
    pub fn statuses(statuses: impl IntoIterator<Item = u16>) -> FaultPlan {
        FaultPlan::sequence(statuses.into_iter().map(Step::status))
    }

    /// One step per track request, then normal.
    pub fn sequence(steps: impl IntoIterator<Item = Step>) -> FaultPlan {
        FaultPlan {
            steps: steps.into_iter().collect(),
            ..FaultPlan::default()
        }
    }

    /// The same step for every track request until the plan is replaced.
    pub fn always(step: impl Into<Step>) -> FaultPlan {
        FaultPlan {
            steps: vec![step.into()],
            repeat: true,
            ..FaultPlan::default()
        }
    }

    /// Refuse connections for `duration`, starting when the plan is installed.
    pub fn outage(duration: Duration) -> FaultPlan {
        FaultPlan::default().with_outage(duration)
    }

    /// Appends a step.
    pub fn then(mut self, step: impl Into<Step>) -> FaultPlan {
        self.steps.push(step.into());
        self
    }

    /// Default delay (milliseconds) before answering each track request.
    pub fn with_delay(mut self, ms: u64) -> FaultPlan {
        self.delay_ms = ms;
        self
    }

    /// Loop over the steps instead of going back to normal after the last one.
    pub fn repeating(mut self) -> FaultPlan {
        self.repeat = true;
        self
    }

    /// Adds an outage starting when the plan is installed.
    pub fn with_outage(mut self, duration: Duration) -> FaultPlan {
        self.outage_ms = duration_ms(duration);
        self
    }

    /// True when installing this plan changes nothing.
    pub fn is_normal(&self) -> bool {
        *self == FaultPlan::default()
    }

    /// Parses the JSON form (an object, or a bare array of steps) and validates it.
    /// An empty or whitespace-only text is the normal plan.
    pub fn from_json(text: &str) -> Result<FaultPlan, FaultPlanError> {
        if text.trim().is_empty() {
            return Ok(FaultPlan::default());
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| FaultPlanError(format!("not JSON: {e}")))?;
        let value = match value {
            Value::Array(steps) => serde_json::json!({ "steps": steps }),
            Value::Object(_) => value,
            _ => {
                return Err(FaultPlanError(
                    "expected an object like {\"steps\": [503, 200]} or an array of steps"
                        .to_string(),
                ))
            }
        };
        let plan: FaultPlan =
            serde_json::from_value(value).map_err(|e| FaultPlanError(e.to_string()))?;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks every step:
    /// - `reset` and `outage_ms` (> 0) exclude each other and every answer field
    ///   (`status`, `retry_after*`, `item_errors`, `location`, `message`); `delay_ms` is
    ///   allowed (it delays the reset);
    /// - `status` is 200, 206, a redirect (301, 302, 303, 307, 308) or 400-599;
    /// - 206 needs a non-empty `item_errors` whose codes are 400-599; `item_errors`
    ///   needs 206;
    /// - a redirect needs a `location`; `location` needs a redirect;
    /// - `retry_after` / `retry_after_date` (not both) need a status other than 200;
    ///   header values must be visible ASCII;
    /// - `message` needs 206 or 400-599.
    pub fn validate(&self) -> Result<(), FaultPlanError> {
        for (i, step) in self.steps.iter().enumerate() {
            step.validate()
                .map_err(|e| FaultPlanError(format!("steps[{i}]: {e}")))?;
        }
        Ok(())
    }
}

impl Step {
    /// Answer with `status` (200: normal handling).
    pub fn status(status: u16) -> Step {
        Step {
            status: Some(status),
            ..Step::default()
        }
    }

    /// Normal handling (useful with [`Step::with_delay`]).
    pub fn ok() -> Step {
        Step::default()
    }

    /// Answer with `status` and `Retry-After: value` (e.g. `Step::retry_after(429, "5")`).
    pub fn retry_after(status: u16, value: impl Into<String>) -> Step {
        Step::status(status).with_retry_after(value)
    }

    /// Answer with `status` and `Retry-After` as an HTTP date `after` from the answer
    /// (whole seconds, rounded up).
    pub fn retry_after_date(status: u16, after: Duration) -> Step {
        Step {
            retry_after_date: Some(after.as_secs() + u64::from(after.subsec_nanos() > 0)),
            ..Step::status(status)
        }
    }

    /// A 206 rejecting the given `(index, status)` items:
    /// `Step::partial([(0, 500), (2, 400)])`.
    pub fn partial(item_errors: impl IntoIterator<Item = (usize, u16)>) -> Step {
        Step {
            item_errors: item_errors.into_iter().collect(),
            ..Step::status(206)
        }
    }

    /// A redirect (307 or 308 for POST) to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Step {
        Step {
            location: Some(location.into()),
            ..Step::status(status)
        }
    }

    /// Read the request, then reset the connection without answering.
    pub fn reset() -> Step {
        Step {
            reset: true,
            ..Step::default()
        }
    }

    /// Reset this request, then refuse connections for `duration`.
    pub fn outage(duration: Duration) -> Step {
        Step {
            outage_ms: Some(duration_ms(duration)),
            ..Step::default()
        }
    }

    /// Delay (milliseconds) before answering this request.
    pub fn with_delay(mut self, ms: u64) -> Step {
        self.delay_ms = Some(ms);
        self
    }

    pub fn with_retry_after(mut self, value: impl Into<String>) -> Step {
        self.retry_after = Some(value.into());
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Step {
        self.message = Some(message.into());
        self
    }

    /// Answer with exactly this body (see [`Step::body`]):
    /// `Step::partial([(1, 500)]).with_body(r#"{"errors":[...]}"#)`.
    pub fn with_body(mut self, body: impl Into<String>) -> Step {
        self.body = Some(body.into());
        self
    }

    /// Answer with a body that never ends (see [`Step::endless_body`]).
    pub fn with_endless_body(mut self) -> Step {
        self.endless_body = true;
        self
    }

    fn validate(&self) -> Result<(), String> {
        let answers = self.status.is_some()
            || self.retry_after.is_some()
            || self.retry_after_date.is_some()
            || !self.item_errors.is_empty()
            || self.location.is_some()
            || self.message.is_some()
            || self.body.is_some()
            || self.endless_body;
        if self.reset || self.outage_ms.is_some() {
            if self.reset && self.outage_ms.is_some() {
                return Err("reset and outage_ms exclude each other".into());
            }
            if self.outage_ms == Some(0) {
                return Err("outage_ms must be > 0".into());
            }
            if answers {
                return Err(
                    "a reset or outage step sends no answer, so it takes no status, \
                            retry_after, item_errors, location, message or body"
                        .into(),
                );
            }
            return Ok(());
        }
        let status = self.status.unwrap_or(200);
        let redirect = REDIRECT_STATUSES.contains(&status);
        let error = (400..=599).contains(&status);
        if !(status == 200 || status == 206 || redirect || error) {
            return Err(format!(
                "status {status} is not supported (use 200, 206, 301/302/303/307/308 or 400-599)"
            ));
        }
        if status == 206 {
            if self.item_errors.is_empty() {
                return Err("206 needs item_errors, e.g. {\"0\": 500}".into());
            }
            if let Some((i, code)) = self
                .item_errors
                .iter()
                .find(|(_, c)| !(400..=599).contains(*c))
            {
                return Err(format!(
                    "item_errors[{i}] = {code}: item status codes must be 400-599"
                ));
            }
        } else if !self.item_errors.is_empty() {
            return Err("item_errors needs status 206".into());
        }
        match (&self.location, redirect) {
            (None, true) => return Err(format!("{status} needs a location")),
            (Some(_), false) => {
                return Err("location needs a redirect status (307, 308, ...)".into())
            }
            (Some(l), true) if !is_header_text(l) => {
                return Err("location must be non-empty visible ASCII".into())
            }
            _ => {}
        }
        if self.retry_after.is_some() || self.retry_after_date.is_some() {
            if self.retry_after.is_some() && self.retry_after_date.is_some() {
                return Err("retry_after and retry_after_date exclude each other".into());
            }
            if status == 200 {
                return Err("retry_after needs a status other than 200".into());
            }
            if let Some(v) = &self.retry_after {
                if !is_header_text(v) {
                    return Err("retry_after must be non-empty visible ASCII".into());
                }
            }
        }
        if self.message.is_some() && !(status == 206 || error) {
            return Err("message needs status 206 or 400-599".into());
        }
        if self.body.is_some() && self.endless_body {
            return Err("body and endless_body exclude each other".into());
        }
        if (self.body.is_some() || self.endless_body) && redirect {
            return Err("a redirect takes no body".into());
        }
        Ok(())
    }
}

impl From<u16> for Step {
    fn from(status: u16) -> Step {
        Step::status(status)
    }
}

fn duration_ms(d: Duration) -> u64 {
    // Round up: a sub-millisecond outage must not silently become "no outage".
    let ms = d.as_millis() + u128::from(d.as_nanos() % 1_000_000 != 0);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn is_header_text(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The object form of a step, as deserialized (unknown keys are errors, so a typo like
/// `"retry-after"` is reported instead of silently ignored).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepObject {
    #[serde(default)]
    status: Option<u16>,
    #[serde(default, alias = "retryAfter", deserialize_with = "string_or_number")]
    retry_after: Option<String>,
    #[serde(default, alias = "retryAfterDate")]
    retry_after_date: Option<u64>,
    #[serde(default, alias = "itemErrors")]
    item_errors: BTreeMap<usize, u16>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, alias = "delayMs")]
    delay_ms: Option<u64>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default, alias = "endlessBody")]
    endless_body: bool,
    #[serde(default)]
    reset: bool,
    #[serde(default, alias = "outageMs")]
    outage_ms: Option<u64>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
            "retry_after must be a string or a number, got {other}"
        ))),
    }
}

impl TryFrom<Value> for Step {
    type Error = String;

    fn try_from(value: Value) -> Result<Step, String> {
        match value {
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(Step::status)
                .ok_or_else(|| format!("{n} is not a status code")),
            Value::Object(_) => {
                let o: StepObject = serde_json::from_value(value).map_err(|e| e.to_string())?;
                Ok(Step {
                    status: o.status,
                    retry_after: o.retry_after,
                    retry_after_date: o.retry_after_date,
                    item_errors: o.item_errors,
                    location: o.location,
                    message: o.message,
                    delay_ms: o.delay_ms,
                    body: o.body,
                    endless_body: o.endless_body,
                    reset: o.reset,
                    outage_ms: o.outage_ms,
                })
            }
            other => Err(format!(
                "a step is a status code (503) or an object like \
                 {{\"status\": 429, \"retry_after\": \"5\"}}, got {other}"
            )),
        }
    }
}

/// What kind of fault a request got, as recorded in `RequestRecord::fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// An injected 4xx/5xx answer.
    Status,
    /// An injected 206 with chosen failing items.
    Partial,
    /// An injected 3xx redirect.
    Redirect,
    /// The connection was reset instead of answered.
    Reset,
    /// Reset because an outage window was active (or began: an outage step).
    Outage,
    /// Answered normally, but only after an injected delay.
    Delay,
    /// Handled normally, answered with a body of the plan's (verbatim or endless).
    Body,
}

/// What the server does with one track request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Validate, store and answer exactly like the real service.
    Normal,
    /// Store nothing; answer `status` with every item failed with that status.
    Status {
        status: u16,
        message: Option<String>,
    },
    /// Validate as usual but also reject these items with these statuses; answer 206.
    Partial {
        item_errors: BTreeMap<usize, u16>,
        message: Option<String>,
    },
    /// Store nothing; answer `status` with `Location: location`.
    Redirect { status: u16, location: String },
    /// Read the body, then reset the connection without answering.
    Reset,
    /// Reset like [`Action::Reset`]; connections are refused until `until` (the state
    /// has already been told by the time the server sees this).
    Outage { until: Instant },
}

/// `Retry-After` to send with an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryAfter {
    /// Sent verbatim.
    Value(String),
    /// An HTTP date this many seconds after the answer is sent, rounded up.
    DateIn(u64),
}

impl RetryAfter {
    /// The header value for an answer sent at `now` (wall clock).
    pub fn header_value(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        match self {
            RetryAfter::Value(v) => v.clone(),
            RetryAfter::DateIn(secs) => {
                let at = now
                    + chrono::TimeDelta::seconds(i64::try_from(*secs).unwrap_or(i64::MAX / 2_000));
                // HTTP dates have whole seconds: round up so a client waiting until the
                // date never waits less than asked.
                let whole = at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0);
                let at = chrono::DateTime::from_timestamp(whole, 0).unwrap_or(at);
                at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
            }
        }
    }
}

/// The outcome of [`Faults::decide`] for one track request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// Sleep this long (after reading the body) before acting.
    pub delay: Duration,
    pub retry_after: Option<RetryAfter>,
    /// The answer's body, when the plan chose it.
    pub body: AnswerBody,
    /// Index in the plan of the step applied; `None` when no step applied (no plan,
    /// steps exhausted, or refused by an active outage).
    pub step: Option<usize>,
    /// `None` when the request is handled exactly as without a plan.
    pub kind: Option<FaultKind>,
}

/// What an answer's body is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AnswerBody {
    /// The one the emulator writes, as the service would.
    #[default]
    Written,
    /// This text, verbatim.
    Verbatim(String),
    /// A body that never ends.
    Endless,
}

impl Decision {
    fn normal(delay: Duration, step: Option<usize>) -> Decision {
        Decision {
            action: Action::Normal,
            delay,
            retry_after: None,
            body: AnswerBody::Written,
            step,
            kind: (!delay.is_zero()).then_some(FaultKind::Delay),
        }
    }
}

/// Facts about the incoming track request a fault policy may depend on.
#[derive(Debug, Clone)]
pub struct TrackContext<'a> {
    /// 0-based index of this track request since the emulator started (not reset by
    /// `POST /reset`).
    pub sequence: u64,
    pub path: &'a str,
    pub received_at: Instant,
}

/// The plan in force and how far it got, served at `GET /faults`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStatus {
    pub plan: FaultPlan,
    /// Index of the step the next track request gets (`steps.len()` once they ran out).
    pub next_step: usize,
    /// Track requests that consumed a step since the plan was installed.
    pub steps_applied: u64,
    /// Remaining time of the current outage window (0: none).
    pub outage_remaining_ms: u64,
}

/// Fault-injection state: the installed plan, its cursor, and any outage window. Held in
/// shared state behind a mutex and consulted once per track request.
#[derive(Debug, Default)]
pub struct Faults {
    plan: FaultPlan,
    next: usize,
    steps_applied: u64,
    outage_until: Option<Instant>,
}

impl Faults {
    /// A policy that never injects anything.
    pub fn normal() -> Faults {
        Faults::default()
    }

    /// Validates `plan` and starts it at its first step; a plan-level outage starts at `now`.
    pub fn new(plan: FaultPlan, now: Instant) -> Result<Faults, FaultPlanError> {
        plan.validate()?;
        let outage_until =
            (plan.outage_ms > 0).then(|| now + Duration::from_millis(plan.outage_ms));
        Ok(Faults {
            plan,
            next: 0,
            steps_applied: 0,
            outage_until,
        })
    }

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// End of the outage window active at `now`, if any.
    pub fn outage_until(&self, now: Instant) -> Option<Instant> {
        self.outage_until.filter(|until| *until > now)
    }

    pub fn status(&self, now: Instant) -> FaultStatus {
        let len = self.plan.steps.len();
        FaultStatus {
            plan: self.plan.clone(),
            next_step: if self.plan.repeat && self.next >= len {
                0
            } else {
                self.next
            },
            steps_applied: self.steps_applied,
            outage_remaining_ms: self.outage_until(now).map_or(0, |u| duration_ms(u - now)),
        }
    }

    /// Decides how to treat one track request, advancing the plan by one step.
    pub fn decide(&mut self, ctx: &TrackContext<'_>) -> Decision {
        let now = ctx.received_at;
        if self.outage_until(now).is_some() {
            // Only requests on connections opened before the window get here (new ones
            // are refused); they don't consume steps: the service never saw them.
            return Decision {
                action: Action::Reset,
                delay: Duration::ZERO,
                retry_after: None,
                body: AnswerBody::Written,
                step: None,
                kind: Some(FaultKind::Outage),
            };
        }
        let default_delay = Duration::from_millis(self.plan.delay_ms);
        let len = self.plan.steps.len();
        if self.next >= len {
            if self.plan.repeat && len > 0 {
                self.next = 0;
            } else {
                return Decision::normal(default_delay, None);
            }
        }
        let index = self.next;
        self.next += 1;
        self.steps_applied += 1;
        let step = &self.plan.steps[index];
        let delay = step.delay_ms.map_or(default_delay, Duration::from_millis);
        let retry_after = match (&step.retry_after, step.retry_after_date) {
            (Some(v), _) => Some(RetryAfter::Value(v.clone())),
            (None, Some(secs)) => Some(RetryAfter::DateIn(secs)),
            (None, None) => None,
        };
        let body = match (&step.body, step.endless_body) {
            (Some(text), _) => AnswerBody::Verbatim(text.clone()),
            (None, true) => AnswerBody::Endless,
            (None, false) => AnswerBody::Written,
        };
        let (action, kind) = if step.reset {
            (Action::Reset, FaultKind::Reset)
        } else if let Some(ms) = step.outage_ms {
            let until = now + Duration::from_millis(ms);
            self.outage_until = Some(until);
            (Action::Outage { until }, FaultKind::Outage)
        } else {
            match step.status.unwrap_or(200) {
                200 if body == AnswerBody::Written => return Decision::normal(delay, Some(index)),
                200 => (Action::Normal, FaultKind::Body),
                206 => (
                    Action::Partial {
                        item_errors: step.item_errors.clone(),
                        message: step.message.clone(),
                    },
                    FaultKind::Partial,
                ),
                s if REDIRECT_STATUSES.contains(&s) => (
                    Action::Redirect {
                        status: s,
                        location: step.location.clone().unwrap_or_default(),
                    },
                    FaultKind::Redirect,
                ),
                s => (
                    Action::Status {
                        status: s,
                        message: step.message.clone(),
                    },
                    FaultKind::Status,
                ),
            }
        };
        Decision {
            action,
            delay,
            retry_after,
            body,
            step: Some(index),
            kind: Some(kind),
        }
    }
}

/// The per-item message for an injected status, close to the service's wording.
pub fn default_message(status: u16) -> String {
    let what = match status {
        400 => "Bad request",
        401 => "Unauthorized: the access token is missing or invalid",
        402 => "Payment required: monthly quota exceeded",
        403 => "Forbidden",
        404 => "Not found",
        408 => "Request timeout",
        413 => "Payload too large",
        429 => "Too many requests",
        439 => "Daily quota exceeded",
        500 => "Internal server error",
        502 => "Bad gateway",
        503 => "Service unavailable",
        504 => "Gateway timeout",
        _ => "Error",
    };
    format!("{what} (injected by genkit-azure-emulator)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(seq: u64, at: Instant) -> TrackContext<'static> {
        TrackContext {
            sequence: seq,
            path: "/v2.1/track",
            received_at: at,
        }
    }

    #[test]
    fn json_forms_parse_to_the_builder_forms() {
        let plan = FaultPlan::from_json(
            r#"{"steps": [503, {"status": 429, "retry_after": 5},
                {"status": 206, "itemErrors": {"0": 500, "2": 400}},
                {"status": 307, "location": "http://127.0.0.1:1/v2.1/track"},
                {"reset": true}, {"outage_ms": 1500}, {"delay_ms": 20},
                {"status": 206, "item_errors": {"1": 500}, "body": "{\"errors\":[]}"},
                {"endlessBody": true}],
                "delay_ms": 7}"#,
        )
        .unwrap();
        let built = FaultPlan::statuses([503])
            .then(Step::retry_after(429, "5"))
            .then(Step::partial([(0, 500), (2, 400)]))
            .then(Step::redirect(307, "http://127.0.0.1:1/v2.1/track"))
            .then(Step::reset())
            .then(Step::outage(Duration::from_millis(1500)))
            .then(Step::ok().with_delay(20))
            .then(Step::partial([(1, 500)]).with_body(r#"{"errors":[]}"#))
            .then(Step::ok().with_endless_body())
            .with_delay(7);
        assert_eq!(plan, built);
        // Serializing and parsing again gives the same plan (GET /faults -> POST /faults).
        let text = serde_json::to_string(&plan).unwrap();
        assert_eq!(FaultPlan::from_json(&text).unwrap(), plan);
        assert_eq!(
            FaultPlan::from_json("[503, 200]").unwrap(),
            FaultPlan::statuses([503, 200])
        );
        assert!(FaultPlan::from_json("{}").unwrap().is_normal());
        assert!(FaultPlan::from_json("  ").unwrap().is_normal());
    }

    #[test]
    fn invalid_plans_are_rejected_with_the_step_named() {
        for (json, needle) in [
            (r#"[{"status": 206}]"#, "steps[0]: 206 needs item_errors"),
            (
                r#"[200, {"status": 307}]"#,
                "steps[1]: 307 needs a location",
            ),
            (r#"[{"status": 503, "location": "x"}]"#, "location needs"),
            (
                r#"[{"status": 500, "item_errors": {"0": 500}}]"#,
                "needs status 206",
            ),
            (r#"[{"status": 206, "item_errors": {"0": 200}}]"#, "400-599"),
            (r#"[{"reset": true, "status": 503}]"#, "no status"),
            (r#"[{"reset": true, "outage_ms": 5}]"#, "exclude"),
            (r#"[{"outage_ms": 0}]"#, "> 0"),
            (r#"[{"reset": true, "body": "x"}]"#, "or body"),
            (
                r#"[{"body": "x", "endless_body": true}]"#,
                "exclude each other",
            ),
            (
                r#"[{"status": 307, "location": "x", "endless_body": true}]"#,
                "no body",
            ),
            (r#"[{"status": 200, "retry_after": "5"}]"#, "other than 200"),
            (r#"[{"status": 204}]"#, "not supported"),
            (r#"[{"status": 429, "retry-after": "5"}]"#, "unknown field"),
            (r#"[70000]"#, "not a status code"),
            (r#"["503"]"#, "a step is"),
            (r#"{"stepz": []}"#, "unknown field"),
            (r#"503"#, "expected an object"),
            (
                r#"[{"status": 429, "retry_after": "5\n"}]"#,
                "visible ASCII",
            ),
        ] {
            let err = FaultPlan::from_json(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn steps_advance_once_per_request_then_normal_or_repeat() {
        let t = Instant::now();
        let mut f = Faults::new(FaultPlan::statuses([503, 200]).with_delay(5), t).unwrap();
        let d = f.decide(&ctx(0, t));
        assert_eq!(
            (d.action, d.step, d.kind, d.delay),
            (
                Action::Status {
                    status: 503,
                    message: None
                },
                Some(0),
                Some(FaultKind::Status),
                Duration::from_millis(5)
            )
        );
        let d = f.decide(&ctx(1, t));
        assert_eq!((d.action, d.step), (Action::Normal, Some(1)));
        let d = f.decide(&ctx(2, t));
        assert_eq!(
            (d.action, d.step, d.kind),
            (Action::Normal, None, Some(FaultKind::Delay))
        );

        // A 200 with a body of the plan's is handled normally, answered with it.
        let plan =
            FaultPlan::sequence([Step::ok().with_body("{}"), Step::ok().with_endless_body()]);
        let mut f = Faults::new(plan, t).unwrap();
        let d = f.decide(&ctx(0, t));
        assert_eq!(
            (d.action, d.kind, d.body),
            (
                Action::Normal,
                Some(FaultKind::Body),
                AnswerBody::Verbatim("{}".into())
            )
        );
        assert_eq!(f.decide(&ctx(1, t)).body, AnswerBody::Endless);

        let mut f = Faults::new(FaultPlan::always(503), t).unwrap();
        for i in 0..3 {
            assert_eq!(f.decide(&ctx(i, t)).step, Some(0));
        }
        assert_eq!(f.status(t).steps_applied, 3);
    }

    #[test]
    fn outage_resets_without_consuming_steps_until_it_ends() {
        let t = Instant::now();
        let mut f = Faults::new(
            FaultPlan::statuses([503]).with_outage(Duration::from_millis(100)),
            t,
        )
        .unwrap();
        assert_eq!(f.status(t).outage_remaining_ms, 100);
        let d = f.decide(&ctx(0, t + Duration::from_millis(50)));
        assert_eq!((d.action, d.kind), (Action::Reset, Some(FaultKind::Outage)));
        let d = f.decide(&ctx(1, t + Duration::from_millis(100)));
        assert_eq!(
            d.step,
            Some(0),
            "the window is over; the first step is still there"
        );

        let mut f = Faults::new(
            FaultPlan::sequence([Step::outage(Duration::from_secs(1))]),
            t,
        )
        .unwrap();
        let d = f.decide(&ctx(0, t));
        assert_eq!(
            d.action,
            Action::Outage {
                until: t + Duration::from_secs(1)
            }
        );
        assert_eq!(f.outage_until(t), Some(t + Duration::from_secs(1)));
    }

    #[test]
    fn retry_after_dates_round_up_to_whole_seconds() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-24T21:04:55.250Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            RetryAfter::DateIn(5).header_value(now),
            "Tue, 24 Nov 2026 21:05:01 GMT"
        );
        assert_eq!(RetryAfter::Value("7".into()).header_value(now), "7");
    }
}
