//! What the writer knows of a span attribute's key from its text alone,
//! worked out once per key and body rather than once per attribute: whether
//! it is a tag, a field the envelope already says, one of the `_MS.` keys,
//! GenAI content, read by the view's standard mapping, the `genkit:*`
//! attribute it names, and its property key as JSON, escaped and cut.
//!
//! Every span of a batch carries much the same ten or twenty keys, and these
//! questions (several string matches each) and the key's JSON were most of
//! what writing a property cost. Keys are told apart by their interned id;
//! a key packed inline has none and is worked out where it is met.

use super::genkit::messages::is_content_key;
use super::genkit::GenkitKey;
use super::json::RenderedStr;
use super::tags;
use super::view::{item_maps, view_reads, Item};
use super::writer::MAX_PROPERTY_KEY;
use crate::ingest::Attr;

/// The facts of one key.
#[derive(Debug)]
pub(crate) struct KeyFacts {
    /// The tag it is written as (an `ai.*` key), if any.
    pub tag: Option<&'static str>,
    /// `_MS.*`: the writer's own properties, never taken from attributes.
    pub reserved: bool,
    /// Said by a Request's or a RemoteDependency's fields already.
    maps_request: bool,
    maps_dependency: bool,
    /// A GenAI message key, whose values have a larger limit.
    pub content: bool,
    /// Read by the view's standard mapping.
    pub view_reads: bool,
    /// The `genkit:*` attribute it names, if any (what the view redacts).
    pub genkit: GenkitKey,
    /// `"key"` escaped and cut to `MAX_PROPERTY_KEY`.
    pub json: RenderedStr,
}

impl KeyFacts {
    fn of(key: &str) -> Self {
        Self {
            tag: tags::tag(key).map(|(tag, _)| tag),
            reserved: key.starts_with("_MS."),
            maps_request: item_maps(Item::Request, key),
            maps_dependency: item_maps(Item::Dependency, key),
            content: is_content_key(key),
            view_reads: view_reads(key),
            genkit: GenkitKey::of_text(key),
            json: RenderedStr::new(key, MAX_PROPERTY_KEY),
        }
    }

    /// Whether an envelope of `item` says this key in a field already.
    pub fn maps(&self, item: Item) -> bool {
        match item {
            Item::Request => self.maps_request,
            Item::Dependency => self.maps_dependency,
        }
    }
}

/// Facts by interned key id, filled as keys are met: kept for one body.
#[derive(Debug, Default)]
pub(crate) struct KeyTable {
    by_id: Vec<Option<KeyFacts>>,
    /// The facts of the last key met with no id.
    inline: Option<KeyFacts>,
}

impl KeyTable {
    /// The facts of `a`'s key: a lookup by id once they are known, which
    /// is every time but the first for each key of a body.
    #[inline]
    pub fn of(&mut self, a: &Attr<'_>) -> &KeyFacts {
        if let Some(id) = a.key_id {
            if let Some(Some(_)) = self.by_id.get(id as usize) {
                return self.by_id[id as usize].as_ref().expect("present");
            }
        }
        self.first(a)
    }

    /// [`KeyTable::of`] for a key not met yet in this body, or inline.
    #[cold]
    #[inline(never)]
    fn first(&mut self, a: &Attr<'_>) -> &KeyFacts {
        let Some(id) = a.key_id else {
            return self.inline.insert(KeyFacts::of(a.key));
        };
        let i = id as usize;
        if i >= self.by_id.len() {
            self.by_id.resize_with(i + 1, || None);
        }
        self.by_id[i].insert(KeyFacts::of(a.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelopes::json::Json;
    use crate::ingest::{intern, ValueRef};

    fn attr(key: &str, interned: bool) -> Attr<'_> {
        Attr {
            key,
            key_id: if interned { intern::key_id(key) } else { None },
            value: ValueRef::Bool(true),
        }
    }

    /// A key's facts say what the functions they stand for say, whether the
    /// key is interned or inline, and the same on a second meeting.
    #[test]
    fn facts_say_what_the_writer_would_work_out() {
        let long = "k".repeat(MAX_PROPERTY_KEY + 10);
        let keys = [
            "http.request.method",
            "url.full",
            "server.address",
            "db.system",
            "ai.user.id",
            "ai.operation.name",
            "_MS.links",
            "gen_ai.input.messages",
            "genkit:path",
            "genkit:input",
            "app.\"quoted\"\n",
            long.as_str(),
        ];
        let mut table = KeyTable::default();
        for round in 0..2 {
            for key in keys {
                for interned in [true, false] {
                    let f = table.of(&attr(key, interned));
                    let (mut fresh, mut rendered) = (Json::default(), Json::default());
                    fresh.str(key, MAX_PROPERTY_KEY);
                    rendered.rendered(&f.json);
                    assert_eq!(rendered.buf, fresh.buf, "{key} round {round}");
                    assert_eq!(rendered.cut, fresh.cut, "{key}");
                    assert_eq!(f.tag, tags::tag(key).map(|(t, _)| t), "{key}");
                    assert_eq!(f.reserved, key.starts_with("_MS."), "{key}");
                    assert_eq!(f.content, is_content_key(key), "{key}");
                    assert_eq!(f.view_reads, view_reads(key), "{key}");
                    assert_eq!(f.genkit, GenkitKey::of_text(key), "{key}");
                    for item in [Item::Request, Item::Dependency] {
                        assert_eq!(f.maps(item), item_maps(item, key), "{key}");
                    }
                }
            }
        }
        assert!(table.of(&attr("url.full", true)).maps(Item::Dependency));
        let mut j = Json::default();
        j.rendered(&table.of(&attr(&long, true)).json);
        assert_eq!(j.cut, 1, "a long key is cut, and counted");
    }
}
