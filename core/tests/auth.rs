//! Entra ID authentication end to end, against an emulator that requires
//! bearer tokens: tokens are refreshed before they expire (on the pipeline's
//! threads), a refused token is replaced at once and nothing is lost, a
//! failing credential is said clearly and the data waits for it, the
//! connection string's AADAudience is the scope, and no token ever shows in
//! a diagnostic, an error, a `Debug` or a persisted file.

mod common;

use common::*;
use genkit_azure::{AccessToken, AzureTelemetry, CredentialError, Error, Pushed, Stats};
use genkit_azure_emulator::{AcceptedToken, AuthPlan, Emulator, State};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// Every diagnostic the library said in this process (tests run in
/// parallel: each looks for its own words and its own tokens).
fn diagnostics() -> &'static Mutex<Vec<String>> {
    static SAID: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SAID.get_or_init(|| {
        genkit_azure::face::set_diagnostic_sink(Some(Arc::new(|m: &str| {
            eprintln!("genkit-azure: {m}");
            diagnostics().lock().unwrap().push(m.to_string());
        })));
        Mutex::new(Vec::new())
    })
}

fn said(words: &str) -> Option<String> {
    diagnostics()
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.contains(words))
        .cloned()
}

/// What the emulator makes of the n-th token (0-based) an issuer gives.
#[derive(Clone, Copy)]
enum Kind {
    /// Accepted until it expires.
    Valid,
    /// Not known: 401.
    Unknown,
    /// Known, but the identity may not send: 403.
    Forbidden,
}

/// A test credential: gives tokens living `lifetime`, tells the emulator
/// about each as it gives it, and records how it was called.
struct Issuer {
    name: &'static str,
    emu: Arc<State>,
    lifetime: Duration,
    kind: fn(u32) -> Kind,
    /// While set, every call fails with a message quoting tokens.
    failing: AtomicBool,
    calls: AtomicU32,
    issued: Mutex<Vec<String>>,
    scopes: Mutex<Vec<String>>,
    threads: Mutex<Vec<String>>,
}

/// Something shaped like the JWTs Entra ID gives, quoted by the failing
/// credential: it must not reach a diagnostic either.
const JWT_IN_ERROR: &str =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtb25pdG9yIn0.c2lnbmF0dXJl";

impl Issuer {
    fn new(
        name: &'static str,
        emu: &Emulator,
        lifetime: Duration,
        kind: fn(u32) -> Kind,
    ) -> Arc<Self> {
        diagnostics();
        Arc::new(Issuer {
            name,
            emu: Arc::clone(emu.state()),
            lifetime,
            kind,
            failing: AtomicBool::new(false),
            calls: AtomicU32::new(0),
            issued: Mutex::default(),
            scopes: Mutex::default(),
            threads: Mutex::default(),
        })
    }

    fn get_token(&self, scopes: &[&str]) -> Result<AccessToken, CredentialError> {
        let n = self.calls.fetch_add(1, SeqCst);
        self.scopes
            .lock()
            .unwrap()
            .extend(scopes.iter().map(|s| s.to_string()));
        let thread = std::thread::current().name().unwrap_or("").to_string();
        self.threads.lock().unwrap().push(thread);
        if self.failing.load(SeqCst) {
            let last = self
                .issued
                .lock()
                .unwrap()
                .last()
                .cloned()
                .unwrap_or_default();
            return Err(CredentialError::new(format!(
                "identity endpoint unreachable (cached token {last} rejected; got {JWT_IN_ERROR})"
            )));
        }
        let token = format!("{}-token-{n}-Zk3QyA9pLm2X", self.name);
        let expires_on = SystemTime::now() + self.lifetime;
        match (self.kind)(n) {
            Kind::Valid => self
                .emu
                .accept_token(AcceptedToken::new(&token, Some(expires_on))),
            Kind::Forbidden => self.emu.accept_token(AcceptedToken::forbidden(&token)),
            Kind::Unknown => {}
        }
        self.issued.lock().unwrap().push(token.clone());
        Ok(AccessToken::new(token, expires_on))
    }

    /// This issuer as the pipeline's credential.
    fn credential(self: &Arc<Self>) -> impl genkit_azure::TokenCredential + 'static {
        let me = Arc::clone(self);
        move |scopes: &[&str]| me.get_token(scopes)
    }

    /// No token this issuer gave shows in any diagnostic, in `text`, or in
    /// the files under `dir` (raw or unzipped).
    fn assert_never_shown(&self, text: &str, dir: Option<&Path>) {
        let issued = self.issued.lock().unwrap().clone();
        assert!(!issued.is_empty());
        let said = diagnostics().lock().unwrap().join("\n");
        for token in &issued {
            assert!(
                !said.contains(token.as_str()),
                "a diagnostic holds {token}:\n{said}"
            );
            assert!(!text.contains(token.as_str()), "{token} in {text}");
        }
        assert!(!said.contains(JWT_IN_ERROR), "{said}");
        for file in dir.map(files_under).unwrap_or_default() {
            let raw = std::fs::read(&file).unwrap();
            let mut unzipped = Vec::new();
            let _ = flate2::read::GzDecoder::new(&raw[..]).read_to_end(&mut unzipped);
            for token in &issued {
                for bytes in [&raw, &unzipped] {
                    assert!(
                        !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                        "{} holds {token}",
                        file.display()
                    );
                }
            }
        }
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// An emulator that accepts only the tokens issuers tell it about.
fn emulator_requiring_tokens() -> Emulator {
    let emu = emulator();
    // A plan that lists a token requires one; this one is never given.
    emu.set_auth(AuthPlan::tokens([AcceptedToken::new(
        "placeholder-never-given",
        None,
    )]))
    .unwrap();
    emu
}

fn accepted(s: &Stats) -> u64 {
    s.spans_accepted
        + s.logs_accepted
        + s.metrics_accepted
        + s.custom_accepted
        + s.metrics_derived
        + s.logs_derived
}

/// Waits until the log records `item {from}` .. `item {to-1}` all arrived
/// (exactly once each), or panics after `timeout`.
fn wait_for_logs(emu: &Emulator, from: usize, to: usize, timeout: Duration) {
    let until = Instant::now() + timeout;
    loop {
        let seen = arrivals(&emu.envelopes());
        if (from..to).all(|i| seen.contains_key(&format!("item {i}"))) {
            let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
            assert!(twice.is_empty(), "delivered more than once: {twice:?}");
            return;
        }
        assert!(
            Instant::now() < until,
            "items {from}..{to} did not all arrive: {} of them did",
            (from..to)
                .filter(|i| seen.contains_key(&format!("item {i}")))
                .count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tokens_are_refreshed_before_they_expire_on_the_pipelines_threads() {
    let emu = emulator_requiring_tokens();
    let issuer = Issuer::new("refresh", &emu, Duration::from_secs(3), |_| Kind::Valid);
    let telemetry = builder(&emu)
        .credential(issuer.credential())
        .build()
        .unwrap();
    // About five seconds of steady traffic: the first token expires after
    // three, so at least one refresh must come before it does.
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_millis(5200) {
        assert_eq!(telemetry.emit_log(log(n)).unwrap(), Pushed::Accepted);
        n += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    wait_for_logs(&emu, 0, n, Duration::from_secs(5));
    let auth = emu.auth_status().stats;
    assert_eq!(
        (auth.missing, auth.unknown, auth.expired, auth.forbidden),
        (0, 0, 0, 0),
        "{auth:?}"
    );
    assert_eq!(auth.requests_without_token, 0);
    // Refreshed at half the life (1.5 s): tokens 0, 1, 2 and 3 in 5 s.
    let calls = issuer.calls.load(SeqCst);
    assert!((3..=5).contains(&calls), "{calls} calls");
    assert!(auth.by_token.len() >= 3, "{auth:?}");
    for thread in issuer.threads.lock().unwrap().iter() {
        assert!(thread.starts_with("genkit-azure"), "called on {thread:?}");
    }
    assert!(issuer
        .scopes
        .lock()
        .unwrap()
        .iter()
        .all(|s| s == "https://monitor.azure.com//.default"));
    let s = telemetry.stats();
    assert_eq!(accepted(&s), finished(&s) + s.items_pending, "{s:?}");
    issuer.assert_never_shown(&format!("{telemetry:?} {s:?}"), None);
    assert!(telemetry.shutdown(Duration::from_secs(5)).unwrap());
}

/// The first token is refused (401): a new one is fetched at once and the
/// data goes again with it, long before the minute a refused key waits.
fn a_refused_token_is_replaced(storage: Option<&Path>) {
    let emu = emulator_requiring_tokens();
    let issuer = Issuer::new(
        if storage.is_some() {
            "refused-disk"
        } else {
            "refused-memory"
        },
        &emu,
        Duration::from_secs(3600),
        |n| if n == 0 { Kind::Unknown } else { Kind::Valid },
    );
    let mut b = builder(&emu).credential(issuer.credential());
    if let Some(dir) = storage {
        b = b.storage_directory(dir);
    }
    let telemetry = b.build().unwrap();
    let started = Instant::now();
    for i in 0..200 {
        assert_eq!(telemetry.emit_log(log(i)).unwrap(), Pushed::Accepted);
    }
    // Delivered or (with a disk) written there to be sent from it: never lost.
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    wait_for_logs(&emu, 0, 200, Duration::from_secs(10));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let auth = emu.auth_status().stats;
    assert!(auth.unknown >= 1, "{auth:?}");
    assert_eq!((auth.missing, auth.expired), (0, 0), "{auth:?}");
    // Refreshed once, not per request.
    assert_eq!(issuer.calls.load(SeqCst), 2);
    assert!(said("the service refused the Entra ID token (401)").is_some());
    // Settled: everything accepted has its fate, and nothing was dropped.
    std::thread::sleep(Duration::from_millis(200));
    let s = telemetry.stats();
    assert_eq!(accepted(&s), finished(&s) + s.items_pending, "{s:?}");
    assert_eq!(s.items_pending, 0, "{s:?}");
    assert_eq!(
        s.items_rejected
            + s.items_export_failed
            + s.dropped_backlog_full
            + s.dropped_shut_down
            + s.dropped_queue_full,
        0,
        "{s:?}"
    );
    if storage.is_some() {
        assert!(
            s.items_persisted > 0 && s.resent_from_disk_batches > 0,
            "{s:?}"
        );
    } else {
        assert!(s.items_delivered >= 200, "{s:?}");
    }
    issuer.assert_never_shown(&format!("{telemetry:?}"), storage);
    assert!(telemetry.shutdown(Duration::from_secs(5)).unwrap());
    issuer.assert_never_shown("", storage);
}

#[test]
fn a_refused_token_is_replaced_at_once_and_nothing_is_lost() {
    a_refused_token_is_replaced(None);
}

#[test]
fn a_refused_token_is_replaced_at_once_and_nothing_persisted_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    a_refused_token_is_replaced(Some(dir.path()));
}

#[test]
fn a_new_token_refused_too_waits_for_a_person_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator_requiring_tokens();
    let issuer = Issuer::new("forbidden", &emu, Duration::from_secs(3600), |_| {
        Kind::Forbidden
    });
    let telemetry = builder(&emu)
        .credential(issuer.credential())
        .storage_directory(dir.path())
        .build()
        .unwrap();
    for i in 0..20 {
        telemetry.emit_log(log(i)).unwrap();
    }
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    // 403, a new token, 403 again: then the long wait, not a loop.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(issuer.calls.load(SeqCst), 2);
    let auth = emu.auth_status().stats;
    assert_eq!(auth.forbidden, 2, "{auth:?}");
    let message = said("with a new Entra ID token").expect("the refusal is said");
    assert!(
        message.contains("Monitoring Metrics Publisher"),
        "{message}"
    );
    let s = telemetry.stats();
    assert_eq!(s.items_persisted, 20, "{s:?}");
    assert_eq!(emu.stats().items_accepted, 0);
    assert!(telemetry.shutdown(Duration::from_secs(2)).unwrap());
    issuer.assert_never_shown("", Some(dir.path()));
}

#[test]
fn a_failing_credential_is_said_clearly_and_the_data_waits_for_it() {
    let emu = emulator_requiring_tokens();
    let issuer = Issuer::new("failing", &emu, Duration::from_secs(2), |_| Kind::Valid);
    let telemetry = builder(&emu)
        .credential(issuer.credential())
        .retry_delays(Duration::from_millis(50), Duration::from_millis(300))
        .build()
        .unwrap();
    for i in 0..10 {
        telemetry.emit_log(log(i)).unwrap();
    }
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    // From now on the credential fails, quoting the token it gave and a JWT.
    issuer.failing.store(true, SeqCst);
    // The token expires (2 s, not sent in its last tenth): nothing more can go.
    std::thread::sleep(Duration::from_millis(2100));
    for i in 10..30 {
        telemetry.emit_log(log(i)).unwrap();
    }
    std::thread::sleep(Duration::from_secs(1));
    let message =
        said("the credential failed: identity endpoint unreachable").expect("the failure is said");
    assert!(
        message.starts_with(
            "Entra ID: could not get a token for scope https://monitor.azure.com//.default: the credential \
             failed: identity endpoint unreachable (cached token <redacted> rejected; got <redacted>)"
        ),
        "{message}"
    );
    assert!(message.contains("the data is kept"), "{message}");
    // Kept, not dropped, and nothing went without a token.
    let s = telemetry.stats();
    assert_eq!(s.items_pending, 20, "{s:?}");
    assert_eq!(
        s.items_rejected + s.items_export_failed + s.dropped_backlog_full,
        0
    );
    assert_eq!(arrivals(&emu.envelopes()).len(), 10);
    let auth = emu.auth_status().stats;
    assert_eq!(
        (auth.requests_without_token, auth.expired),
        (0, 0),
        "{auth:?}"
    );
    issuer.failing.store(false, SeqCst);
    wait_for_logs(&emu, 0, 30, Duration::from_secs(10));
    assert!(said("the credential gives tokens again").is_some());
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let s = telemetry.stats();
    assert_eq!(accepted(&s), finished(&s) + s.items_pending, "{s:?}");
    issuer.assert_never_shown(&format!("{telemetry:?}"), None);
    assert!(telemetry.shutdown(Duration::from_secs(5)).unwrap());
}

#[test]
fn the_connection_strings_aad_audience_is_the_scope() {
    let emu = emulator_requiring_tokens();
    let issuer = Issuer::new("audience", &emu, Duration::from_secs(3600), |_| Kind::Valid);
    let telemetry = AzureTelemetry::builder()
        .connection_string(format!(
            "{};Authorization=AAD;AADAudience=https://monitor.azure.example",
            emu.connection_string(IKEY)
        ))
        .batch_delay(Duration::from_millis(50))
        .disable_storage()
        .credential(issuer.credential())
        .build()
        .unwrap();
    telemetry.emit_log(log(0)).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    wait_for_logs(&emu, 0, 1, Duration::from_secs(5));
    assert_eq!(
        *issuer.scopes.lock().unwrap(),
        ["https://monitor.azure.example/.default"]
    );
    assert!(telemetry.shutdown(Duration::from_secs(5)).unwrap());
}

#[test]
fn without_a_credential_no_token_is_sent_and_entra_id_is_refused() {
    let emu = emulator();
    let telemetry = builder(&emu).build().unwrap();
    telemetry.emit_log(log(0)).unwrap();
    assert!(telemetry.flush(Duration::from_secs(10)).unwrap());
    let auth = emu.auth_status().stats;
    assert_eq!(
        (auth.requests_with_token, auth.requests_without_token),
        (0, 1)
    );
    telemetry.shutdown(Duration::from_secs(5)).unwrap();

    let err = AzureTelemetry::builder()
        .connection_string(format!("{};Authorization=AAD", emu.connection_string(IKEY)))
        .disable_storage()
        .build()
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ref e) if e.field == "credential"),
        "{err}"
    );
    assert!(err.to_string().contains("Authorization=AAD"), "{err}");
}

#[test]
fn a_token_is_never_offered_over_plain_http_to_a_remote_host() {
    let emu = emulator();
    let issuer = Issuer::new("remote", &emu, Duration::from_secs(3600), |_| Kind::Valid);
    for endpoint in ["http://10.1.2.3", "http://example.com:8080/"] {
        let err = AzureTelemetry::builder()
            .connection_string(format!(
                "InstrumentationKey={IKEY};Authorization=AAD;IngestionEndpoint={endpoint}"
            ))
            .disable_storage()
            .credential(issuer.credential())
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }
    // Refused before a pipeline (and its refresher) started: never called.
    assert_eq!(issuer.calls.load(SeqCst), 0);
}
