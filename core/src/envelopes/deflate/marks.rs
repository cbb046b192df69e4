//! Marks: where the JSON writer says what comes next, so that the matcher
//! knows where to look for a match instead of hashing every byte. A mark is
//! a position in the text and what starts there: a piece of the envelope's
//! fixed text (keyed by its identity), a string value, or an id.

/// A mark: the position in the low 32 bits, its key in the high 32.
pub(crate) type Mark = u64;

/// A string value: it may repeat anywhere (a trace's attributes), so it is
/// looked up by its first bytes, and its bytes are searched one by one.
pub(crate) const TEXT: u32 = 0;
/// A random id: looked up once, by its first bytes (a trace id repeats in
/// every span of its trace); no match inside one is worth looking for.
pub(crate) const ID: u32 = 1;
/// Keys of fixed text have this bit set (see [`template`]).
const TEMPLATE_BIT: u32 = 1 << 2;

pub(crate) fn mark(position: usize, key: u32) -> Mark {
    debug_assert!(position <= u32::MAX as usize);
    position as u64 | u64::from(key) << 32
}

pub(super) fn position(mark: Mark) -> usize {
    mark as u32 as usize
}

pub(super) fn key(mark: Mark) -> u32 {
    (mark >> 32) as u32
}

pub(super) fn is_template(key: u32) -> bool {
    key & TEMPLATE_BIT != 0
}

/// The key of a piece of fixed text, from where it lives: the writer's
/// pieces are `&'static str`s, kept for the process, and rendered strings
/// (the instrumentation key, a body's property keys), kept at least for the
/// body, each at one address. Two pieces that share a key only cost a match
/// candidate that is checked and found short.
#[inline]
pub(crate) fn template(text: &[u8]) -> u32 {
    let at = text.as_ptr() as usize as u64;
    (at.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32 | TEMPLATE_BIT
}
