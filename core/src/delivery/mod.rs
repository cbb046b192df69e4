//! Delivery: getting each payload to the service exactly once, or counting why not.
//!
//! - A fresh payload is sent at once, unless the endpoint is known to be down
//!   or asked us to wait (`Retry-After`): then it joins the backlog without a
//!   request, so exports of other batches never wait on a failing one.
//! - Transient failures put the payload in the backlog. One retry driver sends
//!   the backlog oldest first, each attempt gated by the endpoint's health:
//!   after a failure nothing is sent to the endpoint before `Retry-After` (when
//!   given, exactly) or a jittered exponential backoff has passed. The first
//!   success reopens the gate for everyone.
//! - 206: only the items whose own status is retryable go back to the backlog;
//!   the rest are counted as rejected. 400 and other permanent answers drop the
//!   payload, counted per request and per item, with one rate-limited diagnostic.
//! - 401 and 403 (a wrong key, a missing role assignment, local auth disabled)
//!   and quota answers keep the data and close the gate for a long wait: a
//!   person has to act, and the data must still be there when they have.
//!   With Entra ID, the first refusal of a token is different: the token may
//!   be what is wrong (revoked, expired early), so a new one is asked for and
//!   the payload goes again as soon as it is here; only a refusal of that
//!   new token means a person has to act. No token at all (a failing
//!   credential) keeps the data and retries with the usual backoff.
//! - Too large: a body past the service's request limits ([`RequestLimits`])
//!   is cut into requests within them before it is sent or written to disk
//!   ([`fit`]), so none is sent that the service would refuse for its size; an
//!   envelope over the byte limit on its own is dropped, counted. Should the
//!   service still answer 413, the payload is split in halves and each is
//!   sent; only a single envelope that is still too large is dropped, counted.
//!
//! A payload's batch settles (for `flush`) when it is delivered, persisted,
//! rejected, or dropped: [`Payload::finish`], exactly once per part.

mod backoff;
mod payload;
mod response;
mod sender;
mod storage;
mod storage_error;
#[cfg(test)]
mod tests;
mod tls;

pub(crate) use backoff::Backoff;
use backoff::MAX_RETRY_AFTER;
pub(crate) use payload::{Payload, RequestLimits};
use payload::{Piece, Split};
pub(crate) use response::read_body;
pub(crate) use sender::{http_client, Sender};
pub(crate) use storage::{default_directory, Storage, StorageSettings};
pub(crate) use storage_error::StorageError;

use crate::accounting::{Counters, DropReason, Fate};
use crate::diagnostics::Diagnostics;
use sender::Verdict;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use storage::Leased;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

/// The service's limits on one request, as far as they are known: its
/// documented limit is 64,000 telemetry items per batch (we stay at half);
/// its limit on a request's bytes is not documented, so we keep every body
/// under 16 MiB of JSON (a default batch, `max_batch_bytes` = 1 MiB of
/// content, is far below both). Bodies are cut to fit before they are sent.
pub(crate) const REQUEST_LIMITS: RequestLimits = RequestLimits {
    max_bytes: 16 * 1024 * 1024,
    max_envelopes: 32_768,
};

/// Cuts a freshly written body (`json_bytes` of JSON) into requests within
/// `limits`. An envelope too large to ever be sent is
/// finished here, dropped and counted (`dropped_too_large`,
/// `envelopes_dropped_too_large`) with one diagnostic; what comes back fits.
pub(crate) fn fit(
    payload: Payload,
    json_bytes: usize,
    limits: RequestLimits,
    counters: &Counters,
    diagnostics: &Diagnostics,
) -> Vec<Payload> {
    if limits.fit(json_bytes, payload.envelopes.unwrap_or(usize::MAX)) {
        return vec![payload];
    }
    match payload.fit(limits) {
        Ok(pieces) => pieces
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Fits(p) => Some(p),
                Piece::TooLarge(p) => {
                    Counters::add(&counters.envelopes_dropped_too_large, 1);
                    diagnostics.say("too-large", || {
                        format!(
                            "an envelope larger than the {} bytes one request may hold was \
                             dropped (a span or log with very many or very large attributes)",
                            limits.max_bytes
                        )
                    });
                    p.finish(Fate::Dropped(DropReason::TooLarge));
                    None
                }
            })
            .collect(),
        // Our own writer's output is always gzip of a JSON array; should it
        // not be, the whole payload goes on and a 413 splits it.
        Err((payload, _)) => vec![payload],
    }
}

/// `now + wait`, or as late as the clock allows: a wait read from the wire or
/// a setting must never panic the task that computes it.
fn later_by(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait)
        .or_else(|| now.checked_add(MAX_RETRY_AFTER))
        .unwrap_or(now)
}

#[derive(Debug, Default)]
struct Health {
    /// No request before this instant.
    not_before: Option<Instant>,
    consecutive_failures: u32,
}

#[derive(Debug)]
pub(crate) struct Delivery {
    sender: Sender,
    backoff: Backoff,
    health: Mutex<Health>,
    backlog: Mutex<VecDeque<Payload>>,
    backlog_changed: Notify,
    max_backlog_bytes: u64,
    /// Requests in flight at once (first attempts and retries alike).
    send_slots: Arc<Semaphore>,
    /// Compressed bytes of fresh payloads waiting for a send slot.
    waiting_bytes: AtomicU64,
    counters: Arc<Counters>,
    diagnostics: Arc<Diagnostics>,
    /// Where payloads wait when they cannot be delivered now; `None` or
    /// disabled means they wait in memory only.
    storage: Option<Arc<Storage>>,
    /// Set by shutdown: attempts must end by then, and what is not delivered
    /// by then goes to disk.
    drain_by: Mutex<Option<Instant>>,
    /// The longest the endpoint's `Retry-After` may close the gate
    /// ([`MAX_RETRY_AFTER`]; shorter in tests, which cannot wait an hour).
    max_retry_after: Duration,
    /// What one request may hold ([`REQUEST_LIMITS`]; smaller in tests).
    limits: RequestLimits,
    /// Tests make the retry driver panic through this, to prove it is restarted.
    #[cfg(test)]
    panic_next_retry: std::sync::atomic::AtomicBool,
}

/// Below this much time left in a shutdown, a payload goes to disk unsent.
const MIN_ATTEMPT: Duration = Duration::from_millis(50);

/// What became of an attempt at a payload, and of the parts a 413 split it into.
#[derive(Default)]
struct Outcome {
    /// The service accepted some of it.
    delivered: bool,
    /// What must wait and be sent again: the payload, the retryable part of
    /// it, or halves of it. Empty when every part was finished.
    retry: Vec<Payload>,
}

/// What became of one request.
enum Attempted {
    /// Delivered, or finished for good (counted, settled).
    Done { delivered: bool },
    /// Must wait and be sent again (the whole payload or the retryable part of it).
    Retry(Payload),
    /// Too large: send these halves instead.
    Split(Payload, Payload),
}

/// How often the backlog driver looks at the disk even when nothing woke it:
/// files left by other or crashed processes, and expired leases.
const DISK_POLL: Duration = Duration::from_secs(5);

impl Delivery {
    pub fn new(
        sender: Sender,
        backoff: Backoff,
        max_backlog_bytes: u64,
        max_concurrent_sends: usize,
        counters: Arc<Counters>,
        storage: Option<Arc<Storage>>,
    ) -> Self {
        Self {
            sender,
            backoff,
            health: Mutex::default(),
            backlog: Mutex::default(),
            backlog_changed: Notify::new(),
            max_backlog_bytes,
            send_slots: Arc::new(Semaphore::new(max_concurrent_sends)),
            waiting_bytes: AtomicU64::new(0),
            counters,
            diagnostics: Arc::default(),
            storage,
            drain_by: Mutex::new(None),
            max_retry_after: MAX_RETRY_AFTER,
            limits: REQUEST_LIMITS,
            #[cfg(test)]
            panic_next_retry: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// What one request may hold (tests make it small).
    pub fn with_request_limits(mut self, limits: RequestLimits) -> Self {
        self.limits = limits;
        self
    }

    /// [`Delivery::deliver`] for a body just written: cut to the request
    /// limits first ([`fit`]).
    pub async fn deliver_written(&self, payload: Payload, json_bytes: usize) {
        let (limits, counters, diagnostics) = (self.limits, &self.counters, &self.diagnostics);
        let pieces = fit(payload, json_bytes, limits, counters, diagnostics);
        for p in pieces {
            self.deliver(p).await;
        }
    }

    #[cfg(test)]
    fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Starts draining for shutdown: from now on attempts end by `deadline`
    /// and what cannot be sent by then is persisted.
    pub fn drain_by(&self, deadline: std::time::Instant) {
        *self.drain_by.lock().unwrap_or_else(|p| p.into_inner()) = Some(deadline.into());
        self.backlog_changed.notify_one();
    }

    /// Time left before the drain deadline; `None` when not draining.
    fn drain_left(&self) -> Option<Duration> {
        let by = (*self.drain_by.lock().unwrap_or_else(|p| p.into_inner()))?;
        Some(by.saturating_duration_since(Instant::now()))
    }

    pub fn diagnostics(&self) -> &Arc<Diagnostics> {
        &self.diagnostics
    }

    /// The first attempt at a fresh payload.
    pub async fn deliver(&self, payload: Payload) {
        if self.gate_closed() {
            return self.to_backlog(payload).await;
        }
        let slot = match Arc::clone(&self.send_slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Every slot is busy: wait, compressed, unless too much already waits.
                let size = payload.body.len() as u64;
                if self.waiting_bytes.load(Relaxed) + size > self.max_backlog_bytes {
                    return self.to_backlog(payload).await;
                }
                self.waiting_bytes.fetch_add(size, Relaxed);
                let slot = Arc::clone(&self.send_slots).acquire_owned().await;
                Counters::sub(&self.waiting_bytes, size);
                match slot {
                    Ok(slot) if !self.gate_closed() => slot,
                    _ => return self.to_backlog(payload).await,
                }
            }
        };
        let outcome = self.attempt(payload).await;
        drop(slot);
        self.to_backlog_all(outcome.retry).await;
    }

    async fn send_slot(&self) -> tokio::sync::OwnedSemaphorePermit {
        Arc::clone(&self.send_slots)
            .acquire_owned()
            .await
            .expect("the send semaphore is never closed")
    }

    /// Runs the retry driver ([`Delivery::run_retries`]) for the life of the
    /// pipeline, starting it again whenever it panics: a bug in one retry
    /// must cost at most the payload in hand (counted when it is dropped),
    /// never every later delivery from the backlog and the disk.
    pub async fn supervise_retries(self: Arc<Self>) {
        let mut restarts: u32 = 0;
        loop {
            let driver = tokio::spawn(Arc::clone(&self).run_retries());
            match driver.await {
                Ok(()) => return,
                Err(e) if e.is_panic() => {
                    restarts = restarts.saturating_add(1);
                    Counters::add(&self.counters.retry_driver_restarts, 1);
                    self.diagnostics.say("retry-driver-panic", || {
                        "the retry driver panicked (see the message above) and was restarted; \
                         the batch it held is counted as failed. Please report this"
                            .to_string()
                    });
                    // A panic that recurs at once must not spin: pause as
                    // after a failed request, longer each time.
                    tokio::time::sleep(self.backoff.delay(restarts)).await;
                }
                // Cancelled: the runtime is stopping.
                Err(_) => return,
            }
        }
    }

    /// Resends the backlog, oldest first, whenever the endpoint allows:
    /// payloads waiting in memory, then files on disk (ours, or left by a
    /// process that died). Runs for the life of the pipeline.
    pub async fn run_retries(self: Arc<Self>) {
        loop {
            let next = self
                .backlog
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            if let Some(payload) = next {
                Counters::sub(&self.counters.backlog_bytes, payload.body.len() as u64);
                #[cfg(test)]
                if self.panic_next_retry.swap(false, Relaxed) {
                    panic!("injected by a test: the retry driver fails with a payload in hand");
                }
                let persistable = self.storage.as_ref().is_some_and(|s| s.enabled());
                if !self.wait_for_gate().await {
                    if persistable {
                        // Shutting down and the endpoint may not be asked
                        // before the deadline: keep it on disk.
                        self.to_backlog(payload).await;
                        continue;
                    }
                    // Nowhere to keep it but here: wait for the endpoint as
                    // long as the runtime lives (shutdown counts it if not).
                    self.wait_for_endpoint().await;
                }
                Counters::add(&self.counters.retries, 1);
                let slot = self.send_slot().await;
                let outcome = self.attempt(payload).await;
                drop(slot);
                self.to_backlog_all(outcome.retry).await;
                continue;
            }
            // Wait for the endpoint before taking a file, so a file is never
            // held (and kept from the disk cap's eviction) while we wait.
            if self.drain_left().is_none() && self.wait_for_gate().await {
                if let Some(leased) = self.lease_from_disk().await {
                    self.resend_from_disk(leased).await;
                    continue;
                }
            }
            let _ = tokio::time::timeout(DISK_POLL, self.backlog_changed.notified()).await;
        }
    }

    async fn lease_from_disk(self: &Arc<Self>) -> Option<Leased> {
        let storage = self.storage.clone().filter(|s| s.enabled())?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || storage.lease_oldest(&this.counters, &this.diagnostics))
            .await
            .ok()
            .flatten()
    }

    async fn resend_from_disk(self: &Arc<Self>, leased: Leased) {
        let Some(storage) = self.storage.clone() else {
            return;
        };
        Counters::add(&self.counters.retries, 1);
        let payload = Payload::read_back(leased.body.clone());
        let slot = self.send_slot().await;
        let outcome = self.attempt(payload).await;
        drop(slot);
        let this = Arc::clone(self);
        let _ = tokio::task::spawn_blocking(move || match &outcome.retry[..] {
            [] => {
                if outcome.delivered {
                    Counters::add(&this.counters.resent_from_disk_batches, 1);
                }
                storage.delete(leased, &this.counters);
            }
            [p] if p.body == leased.body => storage.release(leased),
            parts => {
                // A 206's retryable part, or a 413's halves: keep those, then
                // let the old file go (or keep it whole if they can't be kept).
                let bodies: Vec<&[u8]> = parts.iter().map(|p| &p.body[..]).collect();
                if storage.write_all(&bodies, &this.counters, &this.diagnostics) {
                    storage.delete(leased, &this.counters);
                } else {
                    storage.release(leased);
                }
            }
        })
        .await;
    }

    /// Sends a payload, and the halves of it a 413 asks for, until each part
    /// is finished or must wait.
    async fn attempt(&self, payload: Payload) -> Outcome {
        let mut outcome = Outcome::default();
        let mut todo = vec![payload];
        let mut first = true;
        while let Some(part) = todo.pop() {
            // The caller checked the gate for the first request; a half that
            // failed closes it for the halves after it.
            if !first && self.gate_closed() {
                outcome.retry.push(part);
                continue;
            }
            first = false;
            match self.attempt_one(part).await {
                Attempted::Done { delivered } => outcome.delivered |= delivered,
                Attempted::Retry(part) => outcome.retry.push(part),
                Attempted::Split(a, b) => {
                    // The first half goes first.
                    todo.push(b);
                    todo.push(a);
                }
            }
        }
        outcome
    }

    async fn attempt_one(&self, mut payload: Payload) -> Attempted {
        let left = self.drain_left();
        if left.is_some_and(|l| l < MIN_ATTEMPT) {
            return Attempted::Retry(payload);
        }
        match self.sender.send(&payload, left).await {
            Verdict::Delivered => {
                self.healthy();
                payload.finish(Fate::Delivered);
                Attempted::Done { delivered: true }
            }
            Verdict::Partial {
                accepted,
                retry,
                rejected,
            } => {
                self.healthy();
                self.count_rejected_envelopes(&rejected);
                // What this answer settled for good: accepted envelopes, and
                // (when none was accepted) rejected ones.
                let settled = if accepted == 0 && !rejected.is_empty() {
                    Fate::Rejected
                } else {
                    Fate::Delivered
                };
                payload.reached(settled, !rejected.is_empty());
                if retry.is_empty() {
                    payload.finish(settled);
                    return Attempted::Done {
                        delivered: accepted > 0,
                    };
                }
                match payload.subset(&retry) {
                    Ok(mut rest) => {
                        rest.attempts += 1;
                        Attempted::Retry(rest)
                    }
                    Err((payload, e)) => {
                        Counters::add(
                            &self.counters.envelopes_dropped_unreadable,
                            retry.len() as u64,
                        );
                        self.diagnostics.say("unreadable-payload", || {
                            format!("could not re-send part of a batch: {e}")
                        });
                        payload.finish(Fate::Dropped(DropReason::Unreadable));
                        Attempted::Done {
                            delivered: accepted > 0,
                        }
                    }
                }
            }
            Verdict::Transient {
                reason,
                retry_after,
            } => {
                self.failed(retry_after);
                self.diagnostics.say("transient", || {
                    format!("ingestion is failing ({reason}); keeping the data and retrying")
                });
                payload.attempts += 1;
                Attempted::Retry(payload)
            }
            Verdict::Quota {
                status,
                retry_after,
            } => {
                self.failed(Some(retry_after.unwrap_or_else(|| self.backoff.long())));
                self.diagnostics.say("quota", || {
                    format!("the service answered {status}: quota or daily cap reached; keeping the data and retrying later")
                });
                payload.attempts += 1;
                Attempted::Retry(payload)
            }
            Verdict::Refused {
                status,
                retry_after,
                token,
            } => {
                payload.attempts += 1;
                let auth = self.sender.auth();
                if let (Some(auth), Some(token)) = (auth, &token) {
                    if auth.refused(token) {
                        // A new token may pass: the payload goes again as
                        // soon as one is here (the attempt waits for it),
                        // not in a minute. A Retry-After still holds.
                        if let Some(wait) = retry_after {
                            self.failed(Some(wait));
                        }
                        self.diagnostics.say("token-refused", || {
                            format!(
                                "the service refused the Entra ID token ({status}); getting a new \
                                 one and sending the data again"
                            )
                        });
                        return Attempted::Retry(payload);
                    }
                }
                let wait = retry_after.unwrap_or_else(|| self.backoff.long());
                self.failed(Some(wait));
                let every = wait.as_secs().max(1);
                if auth.is_some() {
                    self.diagnostics.say("refused", || {
                        format!(
                            "the service refused the data ({status}) with a new Entra ID token: the \
                             identity may lack the 'Monitoring Metrics Publisher' role on the resource, \
                             or the token may be for another audience (AADAudience); keeping the data \
                             and retrying every {every}s"
                        )
                    });
                } else {
                    self.diagnostics.say("refused", || {
                        format!(
                            "the service refused the data ({status}): the connection string's key may be wrong, \
                             the identity may lack the 'Monitoring Metrics Publisher' role, or the resource may \
                             have local authentication disabled; keeping the data and retrying every {every}s"
                        )
                    });
                }
                Attempted::Retry(payload)
            }
            Verdict::NoToken { reason } => {
                self.failed(None);
                self.diagnostics.say("no-token", || {
                    format!("nothing was sent: {reason}; keeping the data and retrying")
                });
                payload.attempts += 1;
                Attempted::Retry(payload)
            }
            Verdict::TooLarge => {
                // The endpoint answered, so it is up.
                self.healthy();
                match payload.split() {
                    Ok(Split::Halves(a, b)) => Attempted::Split(a, b),
                    Ok(Split::Single(payload)) => {
                        Counters::add(&self.counters.envelopes_dropped_too_large, 1);
                        self.diagnostics.say("too-large", || {
                            "the service refused an envelope as too large (413) even alone; it was dropped"
                                .to_string()
                        });
                        payload.finish(Fate::Dropped(DropReason::TooLarge));
                        Attempted::Done { delivered: false }
                    }
                    Err((payload, e)) => {
                        self.diagnostics.say("unreadable-payload", || {
                            format!("could not split a batch the service called too large: {e}")
                        });
                        payload.finish(Fate::Dropped(DropReason::Unreadable));
                        Attempted::Done { delivered: false }
                    }
                }
            }
            Verdict::Permanent { status, reason } => {
                // The endpoint answered, so it is up: don't slow other payloads.
                self.healthy();
                Counters::add(&self.counters.batches_rejected, 1);
                self.counters.count_request_rejected(status);
                self.diagnostics
                    .say("permanent", || format!("{reason}; the batch was dropped"));
                payload.finish(Fate::Rejected);
                Attempted::Done { delivered: false }
            }
        }
    }

    fn count_rejected_envelopes(&self, statuses: &[u16]) {
        Counters::add(&self.counters.envelopes_rejected, statuses.len() as u64);
        for &s in statuses {
            self.counters.count_envelope_rejected(s);
        }
    }

    async fn to_backlog_all(&self, payloads: Vec<Payload>) {
        for p in payloads {
            self.to_backlog(p).await;
        }
    }

    /// Puts a payload aside for a later attempt: on disk when persistence is
    /// on (its batch then counts as settled, since a crash can no longer lose
    /// it), else in the bounded memory backlog.
    async fn to_backlog(&self, payload: Payload) {
        if let Some(storage) = self.storage.clone().filter(|s| s.enabled()) {
            let body = payload.body.clone();
            let counters = Arc::clone(&self.counters);
            let diagnostics = Arc::clone(&self.diagnostics);
            let written =
                tokio::task::spawn_blocking(move || storage.write(&body, &counters, &diagnostics))
                    .await
                    .unwrap_or(false);
            if written {
                payload.finish(Fate::Persisted);
                self.backlog_changed.notify_one();
                return;
            }
        }
        self.to_memory(payload);
    }

    fn to_memory(&self, payload: Payload) {
        let size = payload.body.len() as u64;
        let mut evicted = Vec::new();
        let mut backlog = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        // Memory is bounded: past the limit the oldest payloads go, counted.
        // (Spilling them to disk instead is the persistence layer's job.)
        while !backlog.is_empty()
            && self.counters.backlog_bytes.load(Relaxed) + size > self.max_backlog_bytes
        {
            if let Some(old) = backlog.pop_front() {
                Counters::sub(&self.counters.backlog_bytes, old.body.len() as u64);
                evicted.push(old);
            }
        }
        Counters::add(&self.counters.backlog_bytes, size);
        backlog.push_back(payload);
        drop(backlog);
        self.backlog_changed.notify_one();
        if !evicted.is_empty() {
            self.diagnostics.say("backlog-full", || {
                "the retry backlog is full; dropping the oldest batch".to_string()
            });
        }
        // Settled outside the backlog's lock: settling wakes flush waiters.
        for old in evicted {
            old.finish(Fate::Dropped(DropReason::BacklogFull));
        }
    }

    fn gate_closed(&self) -> bool {
        let h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        h.not_before.is_some_and(|t| Instant::now() < t)
    }

    /// Memory-backlog payloads go to disk (shutdown: the process is about to end).
    pub async fn persist_memory_backlog(&self) {
        if self.storage.as_ref().is_none_or(|s| !s.enabled()) {
            return;
        }
        loop {
            let next = self
                .backlog
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            let Some(p) = next else { return };
            Counters::sub(&self.counters.backlog_bytes, p.body.len() as u64);
            self.to_backlog(p).await;
        }
    }

    /// Waits until the endpoint may be asked, whatever the drain deadline.
    async fn wait_for_endpoint(&self) {
        self.wait(false).await;
    }

    /// Waits until the endpoint may be asked. Returns false when a shutdown's
    /// deadline comes first.
    async fn wait_for_gate(&self) -> bool {
        self.wait(true).await
    }

    async fn wait(&self, respect_drain: bool) -> bool {
        loop {
            let until = self
                .health
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .not_before;
            let drain_by = *self.drain_by.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(t) if Instant::now() < t => {
                    if respect_drain && drain_by.is_some_and(|d| t > d) {
                        return false;
                    }
                    tokio::time::sleep_until(t).await;
                }
                _ => return true,
            }
        }
    }

    fn failed(&self, retry_after: Option<Duration>) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        h.consecutive_failures = h.consecutive_failures.saturating_add(1);
        let wait = match retry_after {
            Some(asked) => asked.min(self.max_retry_after),
            None => self.backoff.delay(h.consecutive_failures),
        };
        let until = later_by(Instant::now(), wait);
        h.not_before = Some(h.not_before.map_or(until, |t| t.max(until)));
    }

    fn healthy(&self) {
        let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        h.consecutive_failures = 0;
        // A success does not cancel a Retry-After still in force.
        if h.not_before.is_some_and(|t| Instant::now() >= t) {
            h.not_before = None;
        }
    }
}
