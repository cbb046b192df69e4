//! Interned attribute keys and instrumentation scopes.
//!
//! Faces that receive spans from another language see the same few dozen keys
//! (`genkit:name`, `http.route`, ...) on every span. Interning them turns a
//! heap allocation per key per span into a table look-up, and every queued
//! span then shares one copy: a packed span (see `packed_span.rs`) stores a
//! key as its 4-byte id. Interned strings are leaked on purpose, so a `Key`
//! or scope built from them clones for free; the tables are bounded, and a
//! string past the bound (or too long to be a key) is simply not interned.
//!
//! Looking an id up (on the export threads) takes no lock: ids index a fixed
//! array of write-once slots. Only interning (on the host's threads) locks,
//! and after the first few spans that is a shared read lock.

use opentelemetry::{InstrumentationScope, Key};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{OnceLock, RwLock};

const MAX_KEYS: usize = 4096;
const MAX_SCOPES: usize = 256;
const MAX_INTERNED_LEN: usize = 256;

/// Interned keys by id; a slot is set once, before its id is handed out.
static KEY_SLOTS: [OnceLock<Key>; MAX_KEYS] = [const { OnceLock::new() }; MAX_KEYS];
/// Interned scopes by id, likewise.
static SCOPE_SLOTS: [OnceLock<InstrumentationScope>; MAX_SCOPES] =
    [const { OnceLock::new() }; MAX_SCOPES];

fn key_ids() -> &'static RwLock<HashMap<&'static str, u32>> {
    static IDS: OnceLock<RwLock<HashMap<&'static str, u32>>> = OnceLock::new();
    IDS.get_or_init(Default::default)
}

/// The id of `s` as an interned key; `None` when it cannot be interned (too
/// long, or the table is full).
pub fn key_id(s: &str) -> Option<u32> {
    if let Some(&id) = key_ids().read().unwrap_or_else(|p| p.into_inner()).get(s) {
        return Some(id);
    }
    if s.len() > MAX_INTERNED_LEN {
        return None;
    }
    let mut table = key_ids().write().unwrap_or_else(|p| p.into_inner());
    if let Some(&id) = table.get(s) {
        return Some(id);
    }
    let id = table.len();
    if id >= MAX_KEYS {
        return None;
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    // Set before the id is published (under the write lock), so every holder
    // of the id finds its slot filled.
    let _ = KEY_SLOTS[id].set(Key::from_static_str(leaked));
    table.insert(leaked, id as u32);
    Some(id as u32)
}

/// An interned key's id, for a face that keeps it by its own key objects
/// (see `SpanPacker::attribute_str_at`). Only [`interned_key_id`] makes one,
/// so it always names a filled slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyId(pub(crate) u32);

/// [`key_id`] as a [`KeyId`].
pub fn interned_key_id(s: &str) -> Option<KeyId> {
    key_id(s).map(KeyId)
}

/// `key_id` through a small per-thread cache keyed by the text's address.
///
/// Hosts pass the same key objects over and over (Python's interned string
/// literals, C string constants), so the address nearly always finds its
/// entry; the text is still compared, so a different string that happens to
/// reuse an address is never mistaken for the one before it. A hit costs no
/// hashing of the text and no lock.
pub fn key_id_cached(s: &str) -> Option<u32> {
    // Two ways a set: a span's keys are adjacent constants, and with one way
    // two of them sharing a set would evict each other on every span.
    const SETS: usize = 128;
    type Way = std::cell::Cell<(usize, u32)>;
    thread_local! {
        static CACHE: [[Way; 2]; SETS] =
            const { [const { [const { Way::new((0, 0)) }, const { Way::new((0, 0)) }] }; SETS] };
    }
    let addr = s.as_ptr() as usize;
    // Fibonacci hashing spreads nearby addresses over all the sets.
    let set = ((addr ^ s.len()) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57;
    let set = set as usize % SETS;
    let ways = CACHE.with(|c| [c[set][0].get(), c[set][1].get()]);
    for (cached, id) in ways {
        if cached == addr
            && KEY_SLOTS[id as usize]
                .get()
                .is_some_and(|k| k.as_str() == s)
        {
            return Some(id);
        }
    }
    let id = key_id(s)?;
    // The newer entry goes first; the older one moves to the second way.
    CACHE.with(|c| {
        c[set][1].set(ways[0]);
        c[set][0].set((addr, id));
    });
    Some(id)
}

/// The text of the interned key with this id: interned keys live for the
/// life of the process, so it borrows from nothing.
pub(crate) fn key_str_by_id(id: u32) -> Option<&'static str> {
    KEY_SLOTS.get(id as usize)?.get().map(Key::as_str)
}

/// A small fact worked out from a key's text once per interned key, then
/// read by the key's id: the worker asks the same few questions ("which
/// `genkit:*` field is this?") of the same ten or twenty keys on every
/// span, and a string match per attribute per question was a few per cent
/// of its time. Lock-free: a fact is a pure function of the text, so two
/// threads that work one out at once store the same byte.
pub(crate) struct KeyMemo {
    /// The fact plus one; 0 is "not worked out yet".
    slots: [AtomicU8; MAX_KEYS],
}

impl KeyMemo {
    pub const fn new() -> Self {
        Self {
            slots: [const { AtomicU8::new(0) }; MAX_KEYS],
        }
    }

    /// `of(key)`, by `id` once it is known; a key with no id (packed
    /// inline) is worked out each time. A fact of 255 is never kept, only
    /// worked out again.
    #[inline]
    pub fn get(&self, key: &str, id: Option<u32>, of: impl FnOnce(&str) -> u8) -> u8 {
        let Some(slot) = id.and_then(|id| self.slots.get(id as usize)) else {
            return of(key);
        };
        match slot.load(Ordering::Relaxed) {
            0 => {
                let fact = of(key);
                slot.store(fact.wrapping_add(1), Ordering::Relaxed);
                fact
            }
            kept => kept - 1,
        }
    }
}

/// The interned key with this id.
pub fn key_by_id(id: u32) -> Option<Key> {
    KEY_SLOTS.get(id as usize)?.get().cloned()
}

/// The key for `s`, shared with every earlier use of the same text.
pub fn key(s: &str) -> Key {
    key_id(s)
        .and_then(key_by_id)
        .unwrap_or_else(|| Key::from(s.to_string()))
}

/// Scope ids by name, then by version: looked up without allocating.
type Scopes = RwLock<HashMap<String, Vec<(Option<String>, u32)>>>;

fn scope_ids() -> &'static Scopes {
    static SCOPES: OnceLock<Scopes> = OnceLock::new();
    SCOPES.get_or_init(Default::default)
}

fn find(
    table: &HashMap<String, Vec<(Option<String>, u32)>>,
    name: &str,
    version: Option<&str>,
) -> Option<u32> {
    table
        .get(name)?
        .iter()
        .find(|(v, _)| v.as_deref() == version)
        .map(|(_, id)| *id)
}

/// The id of the scope named `name` at `version` (no attributes, no schema
/// URL); `None` when it cannot be interned.
///
/// A thread's spans nearly always come from one tracer, so the last scope
/// found on the thread is tried first, by the address of its name (the
/// text is still compared, as for keys): no lock and no hashing of the name
/// for every span.
pub fn scope_id(name: &str, version: Option<&str>) -> Option<u32> {
    thread_local! {
        static LAST: std::cell::Cell<(usize, u32)> = const { std::cell::Cell::new((0, 0)) };
    }
    let addr = name.as_ptr() as usize;
    let (last_addr, last_id) = LAST.get();
    if last_addr == addr
        && SCOPE_SLOTS[last_id as usize]
            .get()
            .is_some_and(|s| s.name() == name && s.version() == version)
    {
        return Some(last_id);
    }
    let id = scope_id_by_table(name, version)?;
    LAST.set((addr, id));
    Some(id)
}

fn scope_id_by_table(name: &str, version: Option<&str>) -> Option<u32> {
    let read = |name, version| {
        find(
            &scope_ids().read().unwrap_or_else(|p| p.into_inner()),
            name,
            version,
        )
    };
    if let Some(id) = read(name, version) {
        return Some(id);
    }
    if name.len() > MAX_INTERNED_LEN || version.is_some_and(|v| v.len() > MAX_INTERNED_LEN) {
        return None;
    }
    let mut table = scope_ids().write().unwrap_or_else(|p| p.into_inner());
    if let Some(id) = find(&table, name, version) {
        return Some(id);
    }
    let id: usize = table.values().map(Vec::len).sum();
    if id >= MAX_SCOPES {
        return None;
    }
    let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
    let mut builder = InstrumentationScope::builder(leak(name));
    if let Some(v) = version {
        builder = builder.with_version(leak(v));
    }
    let _ = SCOPE_SLOTS[id].set(builder.build());
    table
        .entry(name.to_string())
        .or_default()
        .push((version.map(str::to_string), id as u32));
    Some(id as u32)
}

/// An interned scope's id, for a face that keeps it by its own scope objects
/// (see `SpanPacker::scope_at`). Only [`interned_scope_id`] makes one, so it
/// always names a filled slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeId(pub(crate) u32);

/// [`scope_id`] as a [`ScopeId`].
pub fn interned_scope_id(name: &str, version: Option<&str>) -> Option<ScopeId> {
    scope_id(name, version).map(ScopeId)
}

/// The interned scope with this id.
pub fn scope_by_id(id: u32) -> Option<InstrumentationScope> {
    SCOPE_SLOTS.get(id as usize)?.get().cloned()
}

/// The scope named `name` at `version` (no attributes, no schema URL), shared.
pub fn scope(name: &str, version: Option<&str>) -> InstrumentationScope {
    scope_id(name, version)
        .and_then(scope_by_id)
        .unwrap_or_else(|| {
            let mut b = InstrumentationScope::builder(name.to_string());
            if let Some(v) = version {
                b = b.with_version(v.to_string());
            }
            b.build()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A memo works a key's fact out once per interned key and gives it
    /// back by id; a key with no id, and a fact of 255, are worked out
    /// every time.
    #[test]
    fn a_memo_works_a_fact_out_once_per_interned_key() {
        static MEMO: KeyMemo = KeyMemo::new();
        let calls = std::cell::Cell::new(0);
        let fact = |k: &str| {
            calls.set(calls.get() + 1);
            k.len() as u8
        };
        let id = key_id("memo.test.key");
        assert!(id.is_some());
        assert_eq!(MEMO.get("memo.test.key", id, fact), 13);
        assert_eq!(MEMO.get("memo.test.key", id, fact), 13);
        assert_eq!(calls.get(), 1, "the second read comes from the memo");
        assert_eq!(MEMO.get("inline", None, fact), 6);
        assert_eq!(MEMO.get("inline", None, fact), 6);
        assert_eq!(calls.get(), 3, "a key with no id is worked out each time");
        assert_eq!(
            MEMO.get("k", Some(MAX_KEYS as u32), fact),
            1,
            "an id past the table"
        );
        let max = key_id("memo.test.max");
        for _ in 0..2 {
            assert_eq!(MEMO.get("memo.test.max", max, |_| 255), 255);
        }
        assert_eq!(
            MEMO.get("memo.test.max", max, |_| 7),
            7,
            "255 is never kept"
        );
    }

    #[test]
    fn a_span_packed_by_key_ids_is_the_one_packed_by_key_texts() {
        use crate::ingest::packed_span::SpanPacker;
        use opentelemetry::trace::SpanKind;
        let pack = |by_id: bool| {
            let mut p = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Server, 1, 2);
            let id = |k: &str| interned_key_id(k).expect("interned");
            p.event("e", 1, 1);
            if by_id {
                p.attribute_str_at(id("event.key"), "v");
                p.attribute_str_at(id("s"), "text");
                p.attribute_i64_at(id("i"), -7);
                p.attribute_f64_at(id("f"), 0.5);
                p.attribute_bool_at(id("b"), true);
            } else {
                p.attribute_str("event.key", "v");
                p.attribute_str("s", "text");
                p.attribute_i64("i", -7);
                p.attribute_f64("f", 0.5);
                p.attribute_bool("b", true);
            }
            p.finish().expect("valid")
        };
        assert!(pack(true) == pack(false));
    }

    #[test]
    fn a_scope_packed_by_id_is_the_one_packed_by_name() {
        use crate::ingest::packed_span::SpanPacker;
        use opentelemetry::trace::SpanKind;
        let pack = |by_id: bool| {
            let mut p = SpanPacker::new([1; 16], [2; 8], None, false, SpanKind::Server, 1, 2);
            if by_id {
                p.scope_at(interned_scope_id("tracer", Some("1.0")).expect("interned"));
            } else {
                p.scope("tracer", Some("1.0"));
            }
            p.finish().expect("valid")
        };
        assert!(pack(true) == pack(false));
    }

    /// The thread's last scope is found by its name's address; a name
    /// rewritten in place, or the same name at another version, is still
    /// its own scope.
    #[test]
    fn a_scope_name_reused_in_place_is_looked_up_again() {
        let mut name = String::from("reused-scope-a");
        let a = scope_id(&name, Some("1")).unwrap();
        assert_eq!(scope_id(&name, Some("1")), Some(a));
        let b = scope_id(&name, Some("2")).unwrap();
        assert_ne!(a, b);
        // SAFETY: ASCII replaced by ASCII keeps the text UTF-8.
        unsafe { name.as_bytes_mut()[13] = b'b' };
        let c = scope_id(&name, Some("1")).unwrap();
        assert_ne!(c, a);
        assert_eq!(scope_by_id(c).unwrap().name(), "reused-scope-b");
        assert_eq!(scope_id("reused-scope-a", Some("1")), Some(a));
    }

    #[test]
    fn the_same_text_gives_equal_keys_and_scopes() {
        assert_eq!(key("genkit:name"), Key::from("genkit:name"));
        assert_eq!(
            key("genkit:name").as_str(),
            key(&String::from("genkit:name")).as_str()
        );
        let long = "k".repeat(MAX_INTERNED_LEN + 1);
        assert_eq!(key(&long).as_str(), long);
        assert_eq!(key_id(&long), None);
        let s = scope("genkit-tracer", Some("v1"));
        assert_eq!(s.name(), "genkit-tracer");
        assert_eq!(s.version(), Some("v1"));
        assert_eq!(scope("genkit-tracer", Some("v1")), s);
        assert_eq!(scope("genkit-tracer", None).version(), None);
    }

    #[test]
    fn ids_are_stable_and_resolve_to_their_text() {
        let a = key_id("app.request_id").unwrap();
        assert_eq!(key_id("app.request_id"), Some(a));
        assert_eq!(key_by_id(a).unwrap().as_str(), "app.request_id");
        assert_ne!(key_id("app.user_id"), Some(a));
        assert_eq!(key_by_id(MAX_KEYS as u32), None);
        let s = scope_id("genkit-tracer", Some("v2")).unwrap();
        assert_eq!(scope_id("genkit-tracer", Some("v2")), Some(s));
        assert_eq!(scope_by_id(s).unwrap().version(), Some("v2"));
    }

    #[test]
    fn the_cache_keeps_adjacent_keys_apart() {
        // Keys side by side in memory, as a program's constants are, more
        // of them than the cache has room for, each looked up twice.
        let all: String = (0..400).map(|i| format!("adj.{i:04}")).collect();
        for round in 0..2 {
            for i in 0..400 {
                let k = &all[i * 8..i * 8 + 8];
                let id = key_id_cached(k).unwrap();
                assert_eq!(key_by_id(id).unwrap().as_str(), k, "round {round}");
            }
        }
    }

    #[test]
    fn the_cache_never_confuses_two_texts_at_one_address() {
        let mut buf = String::from("cache.first");
        let first = key_id_cached(&buf).unwrap();
        assert_eq!(key_id_cached(&buf), Some(first));
        // Same address and length, other text.
        buf.replace_range(.., "cache.other");
        let other = key_id_cached(&buf).unwrap();
        assert_ne!(other, first);
        assert_eq!(key_by_id(other).unwrap().as_str(), "cache.other");
        assert_eq!(key_id_cached("cache.first"), Some(first));
    }
}
