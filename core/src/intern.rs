//! Interned attribute keys and instrumentation scopes.
//!
//! Faces that receive spans from another language see the same few dozen keys
//! (`genkit:name`, `http.route`, ...) on every span. Interning them turns a
//! heap allocation per key per span into a table look-up, and every queued
//! span then shares one copy. Interned strings are leaked on purpose, so a
//! `Key` or scope built from them clones for free; the tables are bounded, and
//! a string past the bound (or too long to be a key) is simply not interned.

use opentelemetry::{InstrumentationScope, Key};
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

const MAX_KEYS: usize = 4096;
const MAX_SCOPES: usize = 256;
const MAX_INTERNED_LEN: usize = 256;

type Table<V> = RwLock<HashMap<&'static str, V>>;

fn keys() -> &'static Table<Key> {
    static KEYS: OnceLock<Table<Key>> = OnceLock::new();
    KEYS.get_or_init(Default::default)
}

/// The key for `s`, shared with every earlier use of the same text.
pub fn key(s: &str) -> Key {
    if let Some(k) = keys().read().unwrap_or_else(|p| p.into_inner()).get(s) {
        return k.clone();
    }
    if s.len() > MAX_INTERNED_LEN {
        return Key::from(s.to_string());
    }
    let mut table = keys().write().unwrap_or_else(|p| p.into_inner());
    if let Some(k) = table.get(s) {
        return k.clone();
    }
    if table.len() >= MAX_KEYS {
        return Key::from(s.to_string());
    }
    let leaked: &'static str = Box::leak(s.to_string().into_boxed_str());
    let k = Key::from_static_str(leaked);
    table.insert(leaked, k.clone());
    k
}

/// Scopes by name, then by version: looked up without allocating.
type Scopes = RwLock<HashMap<String, Vec<(Option<String>, InstrumentationScope)>>>;

fn scopes() -> &'static Scopes {
    static SCOPES: OnceLock<Scopes> = OnceLock::new();
    SCOPES.get_or_init(Default::default)
}

fn find(
    table: &HashMap<String, Vec<(Option<String>, InstrumentationScope)>>,
    name: &str,
    version: Option<&str>,
) -> Option<InstrumentationScope> {
    table
        .get(name)?
        .iter()
        .find(|(v, _)| v.as_deref() == version)
        .map(|(_, s)| s.clone())
}

/// The scope named `name` at `version` (no attributes, no schema URL), shared.
pub fn scope(name: &str, version: Option<&str>) -> InstrumentationScope {
    if let Some(s) = find(
        &scopes().read().unwrap_or_else(|p| p.into_inner()),
        name,
        version,
    ) {
        return s;
    }
    let build = |leak: bool| {
        let text = |s: &str| -> std::borrow::Cow<'static, str> {
            if leak {
                std::borrow::Cow::Borrowed(Box::leak(s.to_string().into_boxed_str()))
            } else {
                std::borrow::Cow::Owned(s.to_string())
            }
        };
        let mut b = InstrumentationScope::builder(text(name));
        if let Some(v) = version {
            b = b.with_version(text(v));
        }
        b.build()
    };
    let mut table = scopes().write().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = find(&table, name, version) {
        return s;
    }
    let count: usize = table.values().map(Vec::len).sum();
    if count >= MAX_SCOPES || name.len() > MAX_INTERNED_LEN {
        return build(false);
    }
    let scope = build(true);
    table
        .entry(name.to_string())
        .or_default()
        .push((version.map(str::to_string), scope.clone()));
    scope
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_gives_equal_keys_and_scopes() {
        assert_eq!(key("genkit:name"), Key::from("genkit:name"));
        assert_eq!(
            key("genkit:name").as_str(),
            key(&String::from("genkit:name")).as_str()
        );
        let long = "k".repeat(MAX_INTERNED_LEN + 1);
        assert_eq!(key(&long).as_str(), long);
        let s = scope("genkit-tracer", Some("v1"));
        assert_eq!(s.name(), "genkit-tracer");
        assert_eq!(s.version(), Some("v1"));
        assert_eq!(scope("genkit-tracer", Some("v1")), s);
        assert_eq!(scope("genkit-tracer", None).version(), None);
    }
}
