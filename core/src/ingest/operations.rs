//! Operation names known when a span starts: every envelope of one operation
//! carries its root's name (`ai.operation.name`), and children end before
//! their root, so the name has to travel downwards at start time, not be
//! looked up when the root finally ends.
//!
//! A face calls [`Operations::start`] from its span processor's `on_start`
//! (the parent's name is inherited, a root names the operation) and
//! [`Operations::end`] when it packs the finished span. Logs and custom
//! telemetry emitted inside a span ask [`Operations::current`]. Microsoft's
//! Java agent does the same with a start-time processor.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

/// Shards, so threads starting spans at once rarely meet on one lock.
const SHARDS: usize = 16;
/// Spans open at once per shard, past which a new one is not registered (its
/// envelopes then fall back to what the span itself says): spans that start
/// and never end must not grow this without bound.
const MAX_OPEN_PER_SHARD: usize = 1 << 16;

/// Span ids are random already: hashing them again is wasted work.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard = Mutex<HashMap<u64, Arc<str>, BuildHasherDefault<IdHasher>>>;

/// The operation name of every span that has started and not yet ended.
pub struct Operations {
    shards: Box<[Shard]>,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations").finish_non_exhaustive()
    }
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl Operations {
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
        span_id: u64,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<str>, BuildHasherDefault<IdHasher>>> {
        // The low bits of a random id spread evenly.
        self.shards[(span_id as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a started span. Its operation is its local parent's; a span
    /// with no parent in this process (none, or a remote one) is a root and
    /// names the operation with `root_name`, which is only called then. A
    /// local parent this registry never saw (it started before the face was
    /// set up) leaves the span unnamed. Returns the span's operation name.
    pub fn start(
        &self,
        span_id: u64,
        local_parent: Option<u64>,
        root_name: impl FnOnce() -> String,
    ) -> Option<Arc<str>> {
        let name = match local_parent {
            Some(parent) => self.current(parent)?,
            None => Arc::from(root_name()),
        };
        let mut shard = self.shard(span_id);
        if shard.len() < MAX_OPEN_PER_SHARD {
            shard.insert(span_id, Arc::clone(&name));
        }
        Some(name)
    }

    /// The operation of a span that has started and not ended.
    pub fn current(&self, span_id: u64) -> Option<Arc<str>> {
        self.shard(span_id).get(&span_id).cloned()
    }

    /// Forgets an ended span, returning its operation name.
    pub fn end(&self, span_id: u64) -> Option<Arc<str>> {
        self.shard(span_id).remove(&span_id)
    }

    /// Spans registered and not yet ended.
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
    fn children_inherit_the_roots_name_and_ending_forgets() {
        let ops = Operations::default();
        assert_eq!(
            ops.start(1, None, || "weather_flow".into()).as_deref(),
            Some("weather_flow")
        );
        let called = std::cell::Cell::new(false);
        let child = ops.start(2, Some(1), || {
            called.set(true);
            "never".into()
        });
        assert_eq!(child.as_deref(), Some("weather_flow"));
        assert!(!called.get(), "a child never names the operation");
        assert_eq!(
            ops.start(3, Some(2), String::new).as_deref(),
            Some("weather_flow")
        );
        assert_eq!(ops.end(3).as_deref(), Some("weather_flow"));
        assert_eq!(ops.end(2).as_deref(), Some("weather_flow"));
        assert_eq!(ops.current(1).as_deref(), Some("weather_flow"));
        assert_eq!(ops.end(1).as_deref(), Some("weather_flow"));
        assert_eq!(ops.open(), 0);
        assert_eq!(ops.end(1), None);
    }

    #[test]
    fn an_unknown_parent_leaves_the_span_unnamed() {
        let ops = Operations::default();
        assert_eq!(ops.start(7, Some(99), || "x".into()), None);
        assert_eq!(ops.open(), 0);
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

    #[test]
    fn spans_that_never_end_cannot_grow_it_without_bound() {
        let ops = Operations::default();
        for id in 0..(SHARDS * MAX_OPEN_PER_SHARD + 100) as u64 {
            ops.start(id, None, || "r".into());
        }
        assert_eq!(ops.open(), SHARDS * MAX_OPEN_PER_SHARD);
    }
}
