//! Reading only some members of a JSON text, in one pass, the way
//! `serde_json::Value`'s accessors read them, without building a `Value`:
//! a member of a kind other than the one looked for reads as absent (the
//! `None` of `as_f64`, `as_str`, `as_array`, `get`), a member named twice
//! counts as its last value (as a `Value` keeps it), and every other member
//! is stepped over with serde's `IgnoredAny`, unallocated and without
//! recursing, however deep it nests.
//!
//! Reading Genkit's JSON attributes into `Value`s allocated every string
//! and map of them, for the few members the pipeline reads: `reply.rs` (a
//! model's response) and `logs.rs` (a request's `config`) read them so.

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// A part of a JSON text read as `Value`'s accessors would read it: a JSON
/// value of any kind the part does not look for reads as its default (the
/// `None` of `as_f64`, `as_str`, `as_array`, `get`), and is stepped over.
pub(super) trait Part<'de>: Default {
    fn number(_: f64) -> Self {
        Self::default()
    }
    fn text(_: &str) -> Self {
        Self::default()
    }
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::default())
    }
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::default())
    }
}

/// Deserializes any JSON value into the part `T` (see [`Part`]).
pub(super) struct Lenient<T>(pub T);

impl<'de, T: Part<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PartVisitor(PhantomData)).map(Lenient)
    }
}

struct PartVisitor<T>(PhantomData<T>);

impl<'de, T: Part<'de>> Visitor<'de> for PartVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_u64<E>(self, v: u64) -> Result<T, E> {
        Ok(T::number(v as f64))
    }
    fn visit_i64<E>(self, v: i64) -> Result<T, E> {
        Ok(T::number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<T, E> {
        Ok(T::number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<T, E> {
        Ok(T::text(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::object(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::array(seq)
    }
}

/// An object member's name, borrowed from the text unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Calls `member` with each member's name, for it to read the value (or
/// step over it with [`skip`]).
pub(super) fn members<'de, A: MapAccess<'de>>(
    mut map: A,
    mut member: impl FnMut(&str, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
        member(&key, &mut map)?;
    }
    Ok(())
}

/// Reads the current member's value as the part `T`.
pub(super) fn value<'de, T: Part<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<T, A::Error> {
    map.next_value::<Lenient<T>>().map(|Lenient(t)| t)
}

pub(super) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(drop)
}

/// A number (`as_f64`).
#[derive(Default)]
pub(super) struct Number(pub Option<f64>);

impl Part<'_> for Number {
    fn number(x: f64) -> Self {
        Number(Some(x))
    }
}

/// A string (`as_str`).
#[derive(Default)]
pub(super) struct Text(pub Option<String>);

impl Part<'_> for Text {
    fn text(s: &str) -> Self {
        Text(Some(s.to_string()))
    }
}
