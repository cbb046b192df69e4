//! Operation names known when a span starts: every envelope of one operation
//! carries its root's name (`ai.operation.name`), and children end before
//! their root, so the name has to be known from the root's start, not looked
//! up when the root finally ends.
//!
//! In one process, the spans of a trace under a local root are that root's
//! operation, so names are kept per trace: a face registers a root when it
//! starts ([`Operations::root_started`]: no parent, or a remote one) and
//! does nothing for other spans, which keeps the host's per-span cost to
//! reading the parent. Packing a span, or emitting a log or custom item
//! inside one, looks the name up by trace id ([`Operations::name`]); the
//! root's end forgets it ([`Operations::root_ended`]). (Microsoft's Java
//! agent does the same with a start-time processor.)
//!
//! A trace that re-enters the process (a call to itself) keeps the first
//! root's name until that root ends.
//!
//! Some servers start their request span before routing, named by the method
//! alone, and rename it once routed (FastAPI's own tracing does). Such a
//! root's name is provisional ([`Operations::root_started_provisional`]):
//! the first span started under it, which starts after routing, names the
//! operation again from the root as it is then
//! ([`Operations::child_started`]).
//!
//! The trace's sampling decision lives here too: made once, when its root
//! starts ([`Sampler::decide`]), so children and the logs inside the trace
//! follow it and traces arrive whole. A span of a trace with no root
//! registered (it ended first, or the registry was full) asks the sampler
//! again ([`Sampler::decide_unregistered`]).

use super::sampling::{Sampled, Sampler};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// Shards, so threads starting spans at once rarely meet on one lock.
const SHARDS: usize = 16;
/// Operations open at once per shard, past which a new one is not
/// registered (its envelopes then fall back to what the spans say): roots
/// that start and never end must not grow this without bound.
const MAX_OPEN_PER_SHARD: usize = 1 << 14;

/// Trace ids are random already: hashing them again is wasted work.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// An open operation: its name and how many of its roots are open.
struct Open {
    name: Arc<str>,
    roots: u32,
    /// The root's span id while its name may still change.
    provisional: Option<u64>,
    /// Its first root's sampling decision.
    sampled: Sampled,
}

/// What a span or log of a trace belongs to: its operation's name (when
/// its root is registered) and the trace's sampling decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub name: Option<Arc<str>>,
    pub sampled: Sampled,
}

type Shard = Mutex<HashMap<u128, Open, BuildHasherDefault<IdHasher>>>;

/// The operation name of every trace with a root open in this process.
pub struct Operations {
    shards: Box<[Shard]>,
    /// Operations whose name is provisional: while none is, a child's start
    /// needs no lock.
    provisional: AtomicUsize,
    sampler: Sampler,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations").finish_non_exhaustive()
    }
}

impl Default for Operations {
    /// Keeps every trace.
    fn default() -> Self {
        Self::new(Sampler::All)
    }
}

impl Operations {
    /// A registry whose roots decide with `sampler`.
    pub fn new(sampler: Sampler) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            provisional: AtomicUsize::new(0),
            sampler,
        }
    }

    /// How roots are sampled.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }

    /// The name a root span gives its operation: `METHOD route` for a
    /// request that says both (its Request's name), else the span's name.
    pub fn root_name(span_name: &str, method: Option<&str>, route: Option<&str>) -> String {
        match (method, route) {
            (Some(m), Some(r)) => format!("{m} {r}"),
            _ => span_name.to_string(),
        }
    }

    fn shard(
        &self,
        trace_id: u128,
    ) -> MutexGuard<'_, HashMap<u128, Open, BuildHasherDefault<IdHasher>>> {
        // The low bits of a random id spread evenly.
        self.shards[(trace_id as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// A root span (no parent, or a remote one) started: it names the
    /// trace's operation with `name`, which is only called when the trace has
    /// no open operation yet, and decides whether the trace is kept. Returns
    /// the trace's decision (a trace that comes back keeps its first).
    pub fn root_started(&self, trace_id: u128, name: impl FnOnce() -> String) -> Sampled {
        self.start_root(trace_id, None, None, name)
    }

    /// [`Self::root_started`] for a root whose name may change before its
    /// first child starts (a request span started before routing).
    pub fn root_started_provisional(
        &self,
        trace_id: u128,
        root_span_id: u64,
        name: impl FnOnce() -> String,
    ) -> Sampled {
        self.start_root(trace_id, Some(root_span_id), None, name)
    }

    /// [`Self::root_started`] (provisional with the root's span id) for a
    /// root whose decision was made before it started: an OpenTelemetry
    /// sampler made it from [`Self::sampler`] (its root counted then), and
    /// it must not be made twice.
    pub fn root_started_decided(
        &self,
        trace_id: u128,
        provisional_root_span_id: Option<u64>,
        sampled: Sampled,
        name: impl FnOnce() -> String,
    ) -> Sampled {
        self.start_root(trace_id, provisional_root_span_id, Some(sampled), name)
    }

    fn start_root(
        &self,
        trace_id: u128,
        provisional: Option<u64>,
        decided: Option<Sampled>,
        name: impl FnOnce() -> String,
    ) -> Sampled {
        let mut shard = self.shard(trace_id);
        if let Some(open) = shard.get_mut(&trace_id) {
            open.roots = open.roots.saturating_add(1);
            return open.sampled;
        }
        let sampled = decided.unwrap_or_else(|| self.sampler.decide(trace_id.to_be_bytes()));
        if shard.len() < MAX_OPEN_PER_SHARD {
            let name = Arc::from(name());
            if provisional.is_some() {
                self.provisional.fetch_add(1, Relaxed);
            }
            shard.insert(
                trace_id,
                Open {
                    name,
                    roots: 1,
                    provisional,
                    sampled,
                },
            );
        }
        sampled
    }

    /// Whether some operation's name is provisional: a face checks this
    /// before doing anything for a span that is not a root.
    pub fn any_provisional(&self) -> bool {
        self.provisional.load(Relaxed) > 0
    }

    /// A span with a local parent started. If the parent is a root whose
    /// name is provisional, `name` (the parent's name as it is now) names the
    /// operation for good.
    pub fn child_started(
        &self,
        trace_id: u128,
        parent_span_id: u64,
        name: impl FnOnce() -> Option<String>,
    ) {
        let mut shard = self.shard(trace_id);
        let Some(open) = shard.get_mut(&trace_id) else {
            return;
        };
        if open.provisional != Some(parent_span_id) {
            return;
        }
        open.provisional = None;
        self.provisional.fetch_sub(1, Relaxed);
        if let Some(name) = name() {
            open.name = Arc::from(name);
        }
    }

    /// The operation of a trace whose root is open.
    pub fn name(&self, trace_id: u128) -> Option<Arc<str>> {
        self.shard(trace_id)
            .get(&trace_id)
            .map(|o| Arc::clone(&o.name))
    }

    /// The operation a log or custom item inside the trace belongs to, and
    /// whether the trace is kept.
    pub fn of_trace(&self, trace_id: u128) -> Operation {
        let known = self
            .shard(trace_id)
            .get(&trace_id)
            .map(|o| (Arc::clone(&o.name), o.sampled));
        self.operation(trace_id, known)
    }

    fn operation(&self, trace_id: u128, known: Option<(Arc<str>, Sampled)>) -> Operation {
        match known {
            Some((name, sampled)) => Operation {
                name: Some(name),
                sampled,
            },
            None => Operation {
                name: None,
                sampled: self.sampler.decide_unregistered(trace_id.to_be_bytes()),
            },
        }
    }

    /// A root span ended: returns its operation's name, forgotten once the
    /// trace's last open root has ended.
    pub fn root_ended(&self, trace_id: u128) -> Option<Arc<str>> {
        self.root_end(trace_id).map(|(name, _)| name)
    }

    fn root_end(&self, trace_id: u128) -> Option<(Arc<str>, Sampled)> {
        let mut shard = self.shard(trace_id);
        let open = shard.get_mut(&trace_id)?;
        let known = (Arc::clone(&open.name), open.sampled);
        open.roots -= 1;
        if open.roots == 0 {
            if open.provisional.is_some() {
                self.provisional.fetch_sub(1, Relaxed);
            }
            shard.remove(&trace_id);
        }
        Some(known)
    }

    /// The name for a span that ended: a root's end forgets the operation.
    pub fn span_ended(&self, trace_id: u128, is_root: bool) -> Option<Arc<str>> {
        self.ended(trace_id, is_root).name
    }

    /// [`Self::span_ended`], with the trace's sampling decision, which the
    /// packed span carries.
    pub fn ended(&self, trace_id: u128, is_root: bool) -> Operation {
        let known = if is_root {
            self.root_end(trace_id)
        } else {
            self.shard(trace_id)
                .get(&trace_id)
                .map(|o| (Arc::clone(&o.name), o.sampled))
        };
        self.operation(trace_id, known)
    }

    /// Operations open now.
    pub fn open(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_names_its_trace_until_it_ends() {
        let ops = Operations::default();
        ops.root_started(7, || "weather_flow".into());
        assert_eq!(ops.span_ended(7, false).as_deref(), Some("weather_flow"));
        assert_eq!(ops.name(7).as_deref(), Some("weather_flow"));
        assert_eq!(ops.span_ended(7, true).as_deref(), Some("weather_flow"));
        assert_eq!(ops.open(), 0);
        assert_eq!(ops.name(7), None);
        assert_eq!(ops.span_ended(7, true), None);
    }

    #[test]
    fn a_trace_that_comes_back_keeps_its_first_name_until_both_roots_end() {
        let ops = Operations::default();
        ops.root_started(1, || "GET /a".into());
        let called = std::cell::Cell::new(false);
        ops.root_started(1, || {
            called.set(true);
            "GET /b".into()
        });
        assert!(!called.get(), "an open operation is not renamed");
        assert_eq!(ops.root_ended(1).as_deref(), Some("GET /a"));
        assert_eq!(ops.name(1).as_deref(), Some("GET /a"));
        assert_eq!(ops.root_ended(1).as_deref(), Some("GET /a"));
        assert_eq!(ops.open(), 0);
    }

    #[test]
    fn a_provisional_name_is_settled_by_the_first_child_under_the_root() {
        let ops = Operations::default();
        assert!(!ops.any_provisional());
        ops.root_started_provisional(5, 50, || "POST".into());
        assert!(ops.any_provisional());
        ops.child_started(5, 51, || Some("not the root".into()));
        assert_eq!(
            ops.name(5).as_deref(),
            Some("POST"),
            "only the root's own child settles it"
        );
        ops.child_started(5, 50, || Some("POST /api/flow".into()));
        assert!(!ops.any_provisional());
        assert_eq!(ops.name(5).as_deref(), Some("POST /api/flow"));
        ops.child_started(5, 50, || panic!("settled once"));
        assert_eq!(ops.root_ended(5).as_deref(), Some("POST /api/flow"));

        ops.root_started_provisional(6, 60, || "GET".into());
        assert_eq!(
            ops.root_ended(6).as_deref(),
            Some("GET"),
            "a root with no child keeps its name"
        );
        assert!(!ops.any_provisional());
    }

    #[test]
    fn a_request_names_its_operation_by_method_and_route() {
        assert_eq!(
            Operations::root_name("GET /x", Some("GET"), Some("/items/{id}")),
            "GET /items/{id}"
        );
        assert_eq!(Operations::root_name("GET /x", Some("GET"), None), "GET /x");
        assert_eq!(
            Operations::root_name("weather_flow", None, None),
            "weather_flow"
        );
    }

    /// An id whose score (see `sampling.rs`) is `score`: from the official
    /// vectors there.
    const LOW: u128 = 0x5b8aa5a2d2c872e8321cf37308d69df2; // 0.0728
    const HIGH: u128 = 0xffffffffffffffffffffffffffffffff; // 0.9996

    #[test]
    fn a_root_decides_once_and_its_trace_follows() {
        let ops = Operations::new(Sampler::Fixed(0.5));
        let kept = ops.root_started(LOW, || "kept".into());
        assert!(kept.keep && kept.percentage == 50.0);
        let dropped = ops.root_started(HIGH, || "dropped".into());
        assert!(!dropped.keep);
        assert_eq!(ops.of_trace(LOW).sampled, kept);
        assert_eq!(ops.ended(HIGH, false).sampled, dropped);
        assert_eq!(ops.ended(HIGH, false).name.as_deref(), Some("dropped"));
        assert_eq!(ops.ended(HIGH, true).sampled, dropped);
        // Gone with its root: a fixed ratio decides the same again.
        assert_eq!(ops.of_trace(HIGH).name, None);
        assert_eq!(ops.of_trace(HIGH).sampled, dropped);
    }

    #[test]
    fn a_decision_made_before_the_start_is_not_made_again() {
        let ops = Operations::new(Sampler::Fixed(0.5));
        let decided = Sampled {
            keep: true,
            percentage: 50.0,
        };
        // HIGH alone would be dropped: the decision given wins.
        assert_eq!(
            ops.root_started_decided(HIGH, Some(9), decided, || "GET".into()),
            decided
        );
        assert!(ops.any_provisional());
        assert_eq!(ops.of_trace(HIGH).sampled, decided);
        // A trace that comes back keeps its first decision.
        let again = ops.root_started(HIGH, || unreachable!());
        assert_eq!(again, decided);
        ops.root_ended(HIGH);
        ops.root_ended(HIGH);
        assert_eq!(ops.open(), 0);
        assert!(!ops.any_provisional());
    }

    #[test]
    fn roots_that_never_end_cannot_grow_it_without_bound() {
        let ops = Operations::default();
        for id in 0..(SHARDS * MAX_OPEN_PER_SHARD + 100) as u128 {
            ops.root_started(id, || "r".into());
        }
        assert_eq!(ops.open(), SHARDS * MAX_OPEN_PER_SHARD);
    }
}
