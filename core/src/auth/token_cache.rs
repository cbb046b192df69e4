//! The token requests carry: fetched from the credential on the background
//! runtime when the first request asks (never when the pipeline is built),
//! cached as a ready `Authorization` header, refreshed before it expires, and
//! refreshed once when the service refuses it.
//!
//! One task ([`Auth::run`]) calls the credential, so calls never overlap and
//! never run on the host's threads; requests only read the cache, and wait
//! (bounded) for the refresher only when there is no usable token. A failing
//! credential is retried with a jittered, doubling delay between the
//! pipeline's retry delays, said in a diagnostic with any token text
//! blanked out, and never panics anything: a request without a token keeps
//! its data and tries again later.

use super::credential::{AccessToken, TokenCredential};
use super::redact::redact;
use crate::diagnostics::Diagnostics;
use http::HeaderValue;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// The most a token is refreshed ahead of its expiry (what `azure.identity`
/// does); a shorter-lived token is refreshed at half its life.
const MAX_REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);

/// A token is not sent in the last this-much of its life (a tenth of it for
/// a short-lived one): a request may take a while to arrive, and clocks differ.
const MAX_EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// Token lifetimes are planned with at most this much: a token claiming to
/// live for centuries would overflow the clock arithmetic.
const MAX_PLANNED_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// After this long without an answer from the credential, say so (and go on waiting).
const SLOW_CREDENTIAL: Duration = Duration::from_secs(30);

/// How many earlier tokens' texts are kept to blank them out of messages.
const RETIRED_KEPT: usize = 4;

/// A token ready to be sent: the `Authorization` header (marked sensitive, so
/// `Debug` of it or of a request holding it prints no secret) and which
/// token it is, for [`Auth::refused`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Bearer {
    header: HeaderValue,
    generation: u64,
}

impl Bearer {
    /// `Bearer <token>`, for the `Authorization` header.
    pub fn header(&self) -> &HeaderValue {
        &self.header
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bearer(<redacted>, token #{})", self.generation)
    }
}

/// Why there is no token to send with; the text is safe to say (tokens blanked out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoToken(pub String);

impl fmt::Display for NoToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no Entra ID token: {}", self.0)
    }
}

struct Cached {
    bearer: Bearer,
    /// The token's text, to blank it out of messages.
    text: Box<str>,
    /// When the refresher gets the next one.
    refresh_at: Instant,
    /// When it stops being sent.
    use_until: Instant,
    /// Fetched because the service refused the one before: if the service
    /// refuses this one too, a new one will not help (a missing role).
    after_refusal: bool,
}

#[derive(Default)]
struct State {
    token: Option<Cached>,
    /// Tokens received so far (the last one's number).
    received: u64,
    /// The credential is being called.
    fetching: bool,
    /// A refusal asked for a new token now.
    forced: bool,
    /// Failed calls in a row.
    failures: u32,
    /// After a failure, the next call is not before this.
    retry_at: Option<Instant>,
    /// The last failure, said safely.
    last_error: Option<String>,
    /// Texts of tokens held before, to blank them out of messages.
    retired: VecDeque<Box<str>>,
    /// A request has asked for a token. Until then the credential is not
    /// called: building a pipeline calls nobody (no metadata endpoint, no
    /// token service), and a process that never sends never does.
    wanted: bool,
}

impl State {
    fn known_tokens(&self) -> impl Iterator<Item = &str> {
        self.token
            .as_ref()
            .map(|t| &*t.text)
            .into_iter()
            .chain(self.retired.iter().map(|t| &**t))
    }

    fn retire(&mut self, old: Cached) {
        if self.retired.len() == RETIRED_KEPT {
            self.retired.pop_front();
        }
        self.retired.push_back(old.text);
    }

    fn usable(&self, now: Instant) -> Option<&Cached> {
        self.token.as_ref().filter(|t| now < t.use_until)
    }
}

/// Entra ID authentication of one pipeline: its credential, the scope it
/// asks for, and the token cache every request reads.
pub(crate) struct Auth {
    credential: Arc<dyn TokenCredential>,
    scope: String,
    state: Mutex<State>,
    /// Bumped after every call of the credential, for requests waiting for one.
    changed: watch::Sender<u64>,
    /// Wakes the refresher early (no usable token, or a refusal).
    wake: Notify,
    diagnostics: Diagnostics,
    retry_base: Duration,
    retry_max: Duration,
}

impl fmt::Debug for Auth {
    // Says what state the cache is in, never what it holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        let now = Instant::now();
        f.debug_struct("Auth")
            .field("scope", &self.scope)
            .field(
                "token",
                &match s.usable(now) {
                    Some(t) => format!(
                        "<redacted>, sent for {} s more",
                        t.use_until.saturating_duration_since(now).as_secs()
                    ),
                    None => "none".to_string(),
                },
            )
            .field("failures", &s.failures)
            .finish()
    }
}

impl Auth {
    /// Retries of a failing credential wait between `retry_base` and
    /// `retry_max`, doubling (the pipeline's retry delays).
    pub fn new(
        credential: Arc<dyn TokenCredential>,
        scope: String,
        retry_base: Duration,
        retry_max: Duration,
    ) -> Self {
        Self {
            credential,
            scope,
            state: Mutex::default(),
            changed: watch::channel(0).0,
            wake: Notify::new(),
            diagnostics: Diagnostics::default(),
            retry_base,
            retry_max: retry_max.max(retry_base),
        }
    }

    /// The scope tokens are asked for.
    #[cfg(test)]
    pub fn scope(&self) -> &str {
        &self.scope
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current token as an `Authorization` header value, without
    /// waiting: `None` when there is no usable one (the refresher is then
    /// asked for one). For requests that would rather go without than wait
    /// (Live Metrics' once-a-second posts).
    #[allow(dead_code)] // until Live Metrics (core/src/live/) calls it
    pub fn current_bearer(&self) -> Option<Bearer> {
        let bearer = {
            let mut s = self.lock();
            s.wanted = true;
            s.usable(Instant::now()).map(|t| t.bearer.clone())
        };
        if bearer.is_none() {
            self.wake.notify_one();
        }
        bearer
    }

    /// The current token, waiting up to `wait` when there is none yet and
    /// the credential is being (or about to be) asked. Returns at once with
    /// the reason when the credential failed and its next try is later.
    pub async fn bearer(&self, wait: Duration) -> Result<Bearer, NoToken> {
        let now = Instant::now();
        let deadline = now.checked_add(wait).unwrap_or(now + MAX_PLANNED_LIFETIME);
        // Subscribed before the first look, so a token that arrives between
        // the look and the wait is not missed.
        let mut changes = self.changed.subscribe();
        loop {
            let now = Instant::now();
            {
                let mut s = self.lock();
                s.wanted = true;
                if let Some(t) = s.usable(now) {
                    return Ok(t.bearer.clone());
                }
                if !s.fetching && !s.forced && s.retry_at.is_some_and(|at| at > now) {
                    return Err(NoToken(s.last_error.clone().unwrap_or_else(|| {
                        "the credential failed; retrying later".to_string()
                    })));
                }
            }
            self.wake.notify_one();
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                // The sender lives as long as `self`: unreachable, but no panic.
                Ok(Err(_)) => return Err(NoToken("the pipeline is stopping".into())),
                Err(_) => {
                    return Err(NoToken(format!(
                        "the credential has not given a token within {:.1} s",
                        wait.as_secs_f64()
                    )))
                }
            }
        }
    }

    /// The service refused `bearer` (401 or 403). Returns true when a new
    /// token may help and is on its way (or already here): the request
    /// should be sent again as soon as there is one. Returns false when the
    /// refused token was itself fetched after a refusal: the identity, not
    /// the token, is the problem (a missing role), and a person has to act.
    pub fn refused(&self, bearer: &Bearer) -> bool {
        let mut s = self.lock();
        match &s.token {
            Some(t) if t.bearer.generation == bearer.generation => {
                if t.after_refusal {
                    return false;
                }
                if let Some(old) = s.token.take() {
                    s.retire(old);
                }
                s.forced = true;
                s.retry_at = None;
            }
            // Replaced (or being replaced) since the request left: send it
            // again with the new one.
            _ => {}
        }
        drop(s);
        self.wake.notify_one();
        true
    }

    /// The refresher: calls the credential whenever a token is due (none
    /// yet, refresh time reached, refused) and a failure's delay is over.
    /// Runs for the life of the pipeline.
    pub async fn run(self: Arc<Self>) {
        loop {
            let now = Instant::now();
            let due = self.next_call(now);
            if due > now {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    // Asked early: look again (a wake may not make a call due).
                    _ = self.wake.notified() => {}
                }
                continue;
            }
            self.call_credential().await;
        }
    }

    /// When the credential is to be called next.
    fn next_call(&self, now: Instant) -> Instant {
        let s = self.lock();
        if s.forced {
            return now;
        }
        // After a failure, not before its delay, whatever the token.
        if let Some(at) = s.retry_at {
            return at;
        }
        match &s.token {
            Some(t) => t.refresh_at,
            None if s.wanted => now,
            // Not before a request asks (`wake`).
            None => now + MAX_PLANNED_LIFETIME,
        }
    }

    async fn call_credential(&self) {
        let forced = {
            let mut s = self.lock();
            s.fetching = true;
            std::mem::take(&mut s.forced)
        };
        let credential = Arc::clone(&self.credential);
        let scope = self.scope.clone();
        // A blocking thread of the pipeline's runtime: the credential may
        // block (network, the GIL), and no worker thread waits for it.
        let mut call = tokio::task::spawn_blocking(move || credential.get_token(&[&scope]));
        let started = Instant::now();
        let joined = loop {
            tokio::select! {
                joined = &mut call => break joined,
                _ = tokio::time::sleep(SLOW_CREDENTIAL) => {
                    self.diagnostics.say("entra-id-credential-slow", || {
                        format!(
                            "Entra ID: the credential has not answered for {} s; still waiting \
                             (data is kept meanwhile)",
                            started.elapsed().as_secs()
                        )
                    });
                }
            }
        };
        let outcome = match joined {
            Ok(Ok(token)) => check(&token),
            Ok(Err(e)) => Err(format!("the credential failed: {}", e.message())),
            Err(e) if e.is_panic() => Err(format!(
                "the credential panicked: {}",
                panic_text(e.into_panic())
            )),
            // Cancelled: the runtime is stopping.
            Err(_) => return,
        };
        self.settle(outcome, forced);
    }

    /// Keeps a checked token, or notes the failure and when to try again.
    fn settle(&self, outcome: Result<Checked, String>, forced: bool) {
        let now = Instant::now();
        let mut s = self.lock();
        s.fetching = false;
        match outcome {
            Ok(checked) => {
                s.received += 1;
                let life = checked.lifetime.min(MAX_PLANNED_LIFETIME);
                let cached = Cached {
                    bearer: Bearer {
                        header: checked.header,
                        generation: s.received,
                    },
                    text: checked.text,
                    refresh_at: now + life - MAX_REFRESH_AHEAD.min(life / 2),
                    use_until: now + life - MAX_EXPIRY_MARGIN.min(life / 10),
                    after_refusal: forced,
                };
                if let Some(old) = s.token.replace(cached) {
                    s.retire(old);
                }
                let recovered = s.failures > 0;
                s.failures = 0;
                s.retry_at = None;
                s.last_error = None;
                drop(s);
                if recovered {
                    self.diagnostics.say("entra-id-recovered", || {
                        "Entra ID: the credential gives tokens again; sending resumes".to_string()
                    });
                }
            }
            Err(reason) => {
                let reason = redact(&reason, s.known_tokens());
                s.failures = s.failures.saturating_add(1);
                let delay = self.delay(s.failures);
                s.retry_at = Some(now + delay);
                s.last_error = Some(reason.clone());
                drop(s);
                self.diagnostics.say("entra-id-credential", || {
                    format!(
                        "Entra ID: could not get a token for scope {}: {reason}; the data is kept and sent \
                         once a token comes (next try in {})",
                        self.scope,
                        readable(delay)
                    )
                });
            }
        }
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The delay before try `failures + 1`: doubling from the base up to the
    /// max, jittered into its upper half so processes do not call in step.
    fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let ceiling = self
            .retry_base
            .saturating_mul(1u32 << exp)
            .min(self.retry_max);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(nanos / 2..=nanos))
    }
}

/// A token that may be sent, and how long it lives from now.
struct Checked {
    header: HeaderValue,
    text: Box<str>,
    lifetime: Duration,
}

/// Refuses what cannot be sent as a bearer token or has expired already.
/// The reasons never quote the token.
fn check(token: &AccessToken) -> Result<Checked, String> {
    let text = token.token();
    if text.is_empty() {
        return Err("the credential gave an empty token".into());
    }
    let bad_characters = || {
        "the credential gave a token with characters a bearer token cannot hold \
         (spaces, line breaks or non-ASCII)"
            .to_string()
    };
    if !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad_characters());
    }
    let lifetime = match token.expires_on().duration_since(SystemTime::now()) {
        Ok(life) if !life.is_zero() => life,
        Ok(_) => return Err("the credential gave a token that expires now".into()),
        Err(e) => {
            return Err(format!(
                "the credential gave a token that expired {} s ago (expires_on is seconds \
                 since the Unix epoch; is the clock right?)",
                e.duration().as_secs()
            ))
        }
    };
    let mut header =
        HeaderValue::from_str(&format!("Bearer {text}")).map_err(|_| bad_characters())?;
    header.set_sensitive(true);
    Ok(Checked {
        header,
        text: text.into(),
        lifetime,
    })
}

/// `250 ms`, `1.5 s`: a delay as a person reads it.
fn readable(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CredentialError;
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    }

    fn auth(credential: impl TokenCredential + 'static) -> Arc<Auth> {
        Arc::new(Auth::new(
            Arc::new(credential),
            "scope/.default".into(),
            Duration::from_millis(20),
            Duration::from_millis(40),
        ))
    }

    fn in_secs(secs: u64) -> SystemTime {
        SystemTime::now() + Duration::from_secs(secs)
    }

    #[test]
    fn tokens_are_checked_before_they_are_kept() {
        let ok = check(&AccessToken::new("abc.def-ghi", in_secs(100))).unwrap();
        assert_eq!(ok.header.to_str().unwrap(), "Bearer abc.def-ghi");
        assert!(ok.header.is_sensitive());
        assert!(format!("{:?}", ok.header).contains("Sensitive"));
        for (token, reason) in [
            (AccessToken::new("", in_secs(100)), "empty"),
            (AccessToken::new("a b", in_secs(100)), "characters"),
            (
                AccessToken::new("ab\r\nX-Evil: 1", in_secs(100)),
                "characters",
            ),
            (AccessToken::new("café", in_secs(100)), "characters"),
            (AccessToken::expiring_at_unix("old", 1_000), "expired"),
        ] {
            let err = check(&token).err().unwrap();
            assert!(err.contains(reason), "{err}");
        }
    }

    #[test]
    fn the_credential_is_not_called_before_a_request_asks() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = Arc::clone(&calls);
        let auth = auth(move |_: &[&str]| {
            c.fetch_add(1, SeqCst);
            Ok(AccessToken::new("lazy", in_secs(3600)))
        });
        let rt = rt();
        rt.spawn(Arc::clone(&auth).run());
        rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(calls.load(SeqCst), 0, "called with nobody asking");
            let bearer = auth.bearer(Duration::from_secs(5)).await.unwrap();
            assert_eq!(bearer.header().to_str().unwrap(), "Bearer lazy");
        });
        assert_eq!(calls.load(SeqCst), 1);
    }

    #[test]
    fn a_refusal_refreshes_once_then_says_a_person_must_act() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = Arc::clone(&calls);
        let auth = auth(move |_: &[&str]| {
            let n = c.fetch_add(1, SeqCst);
            Ok(AccessToken::new(format!("token-{n}"), in_secs(3600)))
        });
        let rt = rt();
        rt.spawn(Arc::clone(&auth).run());
        rt.block_on(async {
            let first = auth.bearer(Duration::from_secs(5)).await.unwrap();
            assert_eq!(first.header().to_str().unwrap(), "Bearer token-0");
            // Refused: a new one comes, marked as fetched after a refusal.
            assert!(auth.refused(&first));
            let second = auth.bearer(Duration::from_secs(5)).await.unwrap();
            assert_eq!(second.header().to_str().unwrap(), "Bearer token-1");
            // Another request with the first token, refused late: the new
            // one is already here, so retry with it, no third call.
            assert!(auth.refused(&first));
            // The new one refused too: no more calls, a person must act.
            assert!(!auth.refused(&second));
            assert_eq!(auth.current_bearer().unwrap().generation, second.generation);
        });
        assert_eq!(calls.load(SeqCst), 2);
        // Neither Debug says a token.
        let text = format!("{auth:?} {:?}", auth.current_bearer().unwrap());
        assert!(!text.contains("token-"), "{text}");
    }

    #[test]
    fn a_short_lived_token_is_refreshed_before_it_expires() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = Arc::clone(&calls);
        let auth = auth(move |_: &[&str]| {
            let n = c.fetch_add(1, SeqCst);
            Ok(AccessToken::new(
                format!("short-{n}"),
                SystemTime::now() + Duration::from_millis(400),
            ))
        });
        let rt = rt();
        rt.spawn(Arc::clone(&auth).run());
        rt.block_on(async {
            let mut seen = std::collections::BTreeSet::new();
            let until = Instant::now() + Duration::from_millis(1500);
            while Instant::now() < until {
                // Never waits long: the next token is there before this one ends.
                let b = tokio::time::timeout(
                    Duration::from_millis(100),
                    auth.bearer(Duration::from_secs(5)),
                )
                .await
                .expect("a token without waiting")
                .unwrap();
                seen.insert(b.generation);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(seen.len() >= 3, "{seen:?}");
        });
    }

    /// What the test's credential answers next.
    enum Plan {
        Token(&'static str),
        Fail(&'static str),
        Panic,
    }

    #[test]
    fn a_failing_credential_is_retried_and_its_message_never_holds_a_token() {
        let (tx, rx) = std::sync::mpsc::channel::<Plan>();
        let rx = Mutex::new(rx);
        let calls = Arc::new(AtomicU32::new(0));
        let c = Arc::clone(&calls);
        let auth = auth(move |_: &[&str]| {
            c.fetch_add(1, SeqCst);
            // Its own statement: the lock is let go before a planned panic.
            let plan = rx.lock().unwrap().recv().unwrap();
            match plan {
                Plan::Token(t) => Ok(AccessToken::new(t, in_secs(3600))),
                Plan::Fail(m) => Err(CredentialError::new(m)),
                Plan::Panic => panic!("credential bug"),
            }
        });
        let rt = rt();
        rt.spawn(Arc::clone(&auth).run());
        rt.block_on(async {
            tx.send(Plan::Token("first-token-abcdef")).unwrap();
            let first = auth.bearer(Duration::from_secs(5)).await.unwrap();
            assert!(auth.refused(&first));
            tx.send(Plan::Fail("identity endpoint down; last token first-token-abcdef"))
                .unwrap();
            let err = auth.bearer(Duration::from_secs(5)).await.unwrap_err();
            assert_eq!(
                err.to_string(),
                "no Entra ID token: the credential failed: identity endpoint down; last token <redacted>"
            );
            // Until its delay is over, requests hear the same reason at once.
            tx.send(Plan::Panic).unwrap();
            let until = Instant::now() + Duration::from_secs(5);
            loop {
                let err = auth.bearer(Duration::from_secs(5)).await.unwrap_err();
                if err.0.contains("the credential panicked: credential bug") {
                    break;
                }
                assert!(err.0.contains("identity endpoint down"), "{err}");
                assert!(Instant::now() < until, "the credential was not tried again");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tx.send(Plan::Token("later-token-abcdef")).unwrap();
            let until = Instant::now() + Duration::from_secs(5);
            let later = loop {
                match auth.bearer(Duration::from_secs(5)).await {
                    Ok(b) => break b,
                    Err(e) => assert!(e.0.contains("panicked"), "{e}"),
                }
                assert!(Instant::now() < until, "no token after the credential recovered");
                tokio::time::sleep(Duration::from_millis(5)).await;
            };
            assert_eq!(later.header().to_str().unwrap(), "Bearer later-token-abcdef");
        });
        assert_eq!(calls.load(SeqCst), 4);
    }

    #[test]
    fn a_credential_that_does_not_answer_in_time_is_a_reason_not_a_hang() {
        let auth = auth(|_: &[&str]| {
            std::thread::sleep(Duration::from_millis(400));
            Ok(AccessToken::new("slow-token", in_secs(3600)))
        });
        let rt = rt();
        rt.spawn(Arc::clone(&auth).run());
        rt.block_on(async {
            let err = auth.bearer(Duration::from_millis(100)).await.unwrap_err();
            assert!(
                err.0.contains("has not given a token within 0.1 s"),
                "{err}"
            );
            assert!(auth.bearer(Duration::from_secs(5)).await.is_ok());
        });
    }
}
