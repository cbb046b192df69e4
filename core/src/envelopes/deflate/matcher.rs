//! The matcher: LZ77 for envelope bodies, steered by the writer's marks.
//!
//! An envelope body is mostly the same text again: each envelope of a kind
//! repeats the fixed text of the one before it (field names, tags, property
//! keys), with values between, a few of them new. A general matcher hashes
//! and searches at every byte it does not match; this one looks for a match
//! where the writer says a piece of fixed text or a value starts. A piece of
//! fixed text is matched against its own last copies and the match runs on
//! as long as the bytes agree, through values that did not change; a value
//! is looked up by its first four bytes. Only after a match that ended in a
//! changed value, and in text with no marks, does it search byte by byte
//! through a hash chain, as zlib does at every byte.

use super::block::{Symbols, MAX_DISTANCE, MAX_MATCH};
use super::marks::{self, Mark, ID};

/// A match shorter than this costs about what its literals would.
const MIN_USEFUL: usize = 4;
const HASH_BITS: u32 = 13;
const TEMPLATE_BITS: u32 = 10;
/// Where no mark follows for this long, bytes after a match of fixed text
/// are searched rather than written as literals (text the writer did not
/// mark).
const LONG_GAP: usize = 24;

/// Positions are the stream's (counted from 1, 0 meaning none) and kept
/// across bodies: a candidate before the current body's start is stale.
pub(super) struct Matcher {
    /// Latest position of each four-byte hash.
    hash_head: Box<[u32]>,
    /// The position before each one in its hash's chain, by position
    /// modulo the window (zlib's `prev`).
    hash_prev: Box<[u32]>,
    /// Latest (key, position) of each piece of fixed text.
    template_head: Box<[u64]>,
    /// The piece's position before each one.
    template_prev: Box<[u32]>,
    /// Stream position of the current body's first byte.
    body_start: u32,
    /// The distance of a match the end of the last text cut short: the
    /// next text may go on agreeing there.
    cut: usize,
}

/// Candidates tried where a mark stands, and at each byte searched: most
/// are turned away by one compare, so a deep chain costs little, and the
/// copy that matches longest is often the envelope of the same kind a
/// trace back, behind the other kinds' (16 rather than 4 and 8: 6 % fewer
/// bytes for no measurable time).
const MARK_CHAIN: usize = 16;
const NICE: usize = 64;
/// While searching, a match shorter than this is given up for a longer one
/// at the next byte, if there is one (zlib's lazy matching, here only where
/// the matcher searches): 2.5 % fewer bytes for no measurable time.
const LAZY_BELOW: usize = 16;
const SEARCH_CHAIN: usize = 16;
const WINDOW_MASK: usize = MAX_DISTANCE - 1;

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher").finish_non_exhaustive()
    }
}

/// The text at hand: `text[0]` is at stream position `base`.
struct Marked<'a> {
    text: &'a [u8],
    marks: &'a [Mark],
    base: u32,
}

/// Where the matcher is among the marks: the first it has not passed, and
/// what the last one it passed says of the bytes after it.
struct Passing {
    next: usize,
    after: After,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// Bytes up to the next mark are literals (the rest of an id).
    Literals,
    /// Bytes are searched one by one.
    Search,
}

impl After {
    /// What the bytes after a mark with `key` get, up to the next mark.
    fn mark(key: u32) -> Self {
        if key == ID {
            After::Literals
        } else {
            After::Search
        }
    }
}

impl Matcher {
    pub fn new() -> Self {
        Self {
            hash_head: vec![0; 1 << HASH_BITS].into_boxed_slice(),
            hash_prev: vec![0; MAX_DISTANCE].into_boxed_slice(),
            template_head: vec![0; 1 << TEMPLATE_BITS].into_boxed_slice(),
            template_prev: vec![0; MAX_DISTANCE].into_boxed_slice(),
            body_start: 1,
            cut: 0,
        }
    }

    /// A new body starts at stream position `start`: nothing before it is
    /// a candidate.
    pub fn begin(&mut self, start: u32) {
        self.cut = 0;
        self.body_start = start;
    }

    /// Positions start again from 1, before they would overflow: the
    /// tables are emptied, so no candidate refers to the old ones.
    pub fn restart(&mut self) {
        self.hash_head.fill(0);
        self.hash_prev.fill(0);
        self.template_head.fill(0);
        self.template_prev.fill(0);
        self.begin(1);
    }

    /// Chooses literals and matches for `text[from..]`, where `text[0]` is
    /// at stream position `base` and `text[..from]` came before (matches
    /// may reach back into it). `marks` are positions in `text`, ascending.
    pub fn encode(
        &mut self,
        text: &[u8],
        from: usize,
        marks: &[Mark],
        base: u32,
        out: &mut Symbols,
    ) {
        let end = text.len();
        let t = Marked { text, marks, base };
        let mut p = from;
        let mut at = Passing {
            next: marks.partition_point(|&m| marks::position(m) < from),
            after: After::Search,
        };
        // The distance of a match cut at the longest length or at the end of
        // the text: the text may go on agreeing there.
        let mut again = std::mem::take(&mut self.cut);
        while p < end {
            if again > 0 && again <= p {
                let len = extend(text, p - again, p);
                if len >= MIN_USEFUL {
                    (p, again) = self.take(&t, &mut at, p, len, again, out);
                    continue;
                }
                again = 0;
            }
            // Every mark before `p` was passed, by a match or by literals.
            debug_assert!(marks.get(at.next).is_none_or(|&m| marks::position(m) >= p));
            // Several marks at one position (an empty piece): the last says
            // what starts there.
            while at.next + 1 < marks.len() && marks::position(marks[at.next + 1]) == p {
                self.remember(text, marks[at.next], base);
                at.next += 1;
            }
            if at.next < marks.len() && marks::position(marks[at.next]) == p {
                let key = marks::key(marks[at.next]);
                at.next += 1;
                let (len, distance) = self.at_mark(text, p, key, base);
                at.after = After::mark(key);
                if len >= MIN_USEFUL {
                    (p, again) = self.take(&t, &mut at, p, len, distance, out);
                    continue;
                }
            }
            let stop = marks
                .get(at.next)
                .map_or(end, |&m| marks::position(m).min(end));
            if at.after == After::Literals && stop - p <= LONG_GAP {
                out.literals(&text[p..stop]);
                p = stop;
                continue;
            }
            // Search byte by byte; a match may run past the next mark.
            while p < stop {
                let (mut len, mut distance) = self.search(text, p, base, SEARCH_CHAIN);
                if (MIN_USEFUL..LAZY_BELOW).contains(&len) && p + 1 < end {
                    let (later, its_distance) = self.search(text, p + 1, base, SEARCH_CHAIN);
                    if later > len {
                        out.literal(text[p]);
                        p += 1;
                        (len, distance) = (later, its_distance);
                    }
                }
                if len >= MIN_USEFUL {
                    (p, again) = self.take(&t, &mut at, p, len, distance, out);
                    break;
                }
                out.literal(text[p]);
                p += 1;
            }
        }
        if again > 0 && p == end {
            self.cut = again;
        }
        // Marks at the very end (nothing written after them yet).
        for &m in &marks[at.next..] {
            if marks::position(m) < end {
                self.remember(text, m, base);
            }
        }
    }

    /// Writes a match of `len` bytes from `text[p]`, `distance` back, and
    /// passes the marks it runs over (remembered, not searched from; the
    /// last says what the match ended in); returns where the text goes on,
    /// and the distance to try there first (see [`cut_short`]).
    ///
    /// A match that runs into an id and ends before the mark after it (in
    /// the id, mostly) stops where the id starts instead, so that the id is
    /// looked up there by its own first bytes: a span's id comes back as
    /// its children's parent id, and as the parent id of its `Config[...]`
    /// record, after text the match found in an envelope where another id
    /// followed. Otherwise the match takes a byte or two of the id that
    /// happen to agree, and the rest of the id is written as literals (the
    /// benchmark's Rust host sent 7.5 % more bytes so).
    #[inline(always)]
    fn take(
        &mut self,
        t: &Marked<'_>,
        at: &mut Passing,
        p: usize,
        len: usize,
        distance: usize,
        out: &mut Symbols,
    ) -> (usize, usize) {
        let end = p + len;
        let mut len = len;
        while let Some(&m) = t.marks.get(at.next) {
            let (mark_at, key) = (marks::position(m), marks::key(m));
            if mark_at >= end {
                break;
            }
            // An id followed by a mark at the match's end was matched whole;
            // one the match ran far into shares a prefix with the id there
            // (ids counted up rather than drawn), worth keeping.
            if key == ID
                && mark_at > p
                && end - mark_at < MIN_USEFUL
                && (t.marks.get(at.next + 1)).is_none_or(|&n| marks::position(n) > end)
            {
                len = mark_at - p;
                break;
            }
            self.remember(t.text, m, t.base);
            at.after = After::mark(key);
            at.next += 1;
        }
        if len < MIN_USEFUL {
            out.literals(&t.text[p..p + len]);
            return (p + len, 0);
        }
        out.matched(len, distance);
        (p + len, cut_short(len, distance, p + len == t.text.len()))
    }

    /// The stream position of `text[p]`, counted from 1.
    fn stream(base: u32, p: usize) -> u32 {
        base + p as u32
    }

    /// `text[p..]`'s distance back to a remembered position, if it is in
    /// this body, in `text` and within reach.
    fn reach(&self, candidate: u32, base: u32, p: usize) -> Option<usize> {
        let here = Self::stream(base, p);
        let ok = candidate >= self.body_start
            && candidate >= base
            && candidate < here
            && (here - candidate) as usize <= MAX_DISTANCE;
        ok.then(|| (here - candidate) as usize)
    }

    fn hash_slot(text: &[u8], p: usize) -> Option<usize> {
        let four = text.get(p..p + 4)?;
        let x = u32::from_le_bytes(four.try_into().expect("4 bytes"));
        Some((x.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize)
    }

    fn template_slot(key: u32) -> usize {
        (key.wrapping_mul(0x85eb_ca6b) >> (32 - TEMPLATE_BITS)) as usize
    }

    /// Notes a mark the matcher did not stop at.
    #[inline(always)]
    fn remember(&mut self, text: &[u8], mark: Mark, base: u32) {
        let (p, key) = (marks::position(mark), marks::key(mark));
        let here = Self::stream(base, p);
        if marks::is_template(key) {
            self.insert_template(key, here);
        } else if let Some(slot) = Self::hash_slot(text, p) {
            self.insert_hash(slot, here);
        }
    }

    /// Puts `here` at the head of the piece `key`'s chain; the old head.
    fn insert_template(&mut self, key: u32, here: u32) -> u32 {
        let slot = &mut self.template_head[Self::template_slot(key)];
        let last = std::mem::replace(slot, u64::from(key) << 32 | u64::from(here));
        // Another piece in the same slot starts no chain of this one.
        let last = if (last >> 32) as u32 == key {
            last as u32
        } else {
            0
        };
        self.template_prev[here as usize & WINDOW_MASK] = last;
        last
    }

    fn insert_hash(&mut self, slot: usize, here: u32) -> u32 {
        let last = std::mem::replace(&mut self.hash_head[slot], here);
        self.hash_prev[here as usize & WINDOW_MASK] = last;
        last
    }

    /// The longest match among up to `chain` candidates from `first` on,
    /// following `prev`.
    fn longest(
        &self,
        text: &[u8],
        p: usize,
        base: u32,
        first: u32,
        prev: &[u32],
        chain: usize,
    ) -> (usize, usize) {
        let mut best = (0, 0);
        let mut candidate = first;
        for _ in 0..chain {
            let Some(distance) = self.reach(candidate, base, p) else {
                break;
            };
            let from = p - distance;
            // A candidate that differs where the best so far ends cannot be
            // longer (zlib's test): most are turned away by one compare.
            let beats = best.0 == 0
                || text
                    .get(p + best.0)
                    .is_some_and(|&b| b == text[from + best.0]);
            if beats {
                let len = extend(text, from, p);
                if len > best.0 {
                    best = (len, distance);
                    if len >= NICE {
                        break;
                    }
                }
            }
            let next = prev[candidate as usize & WINDOW_MASK];
            if next >= candidate {
                break;
            }
            candidate = next;
        }
        best
    }

    /// The longest match found where a mark with `key` stands, remembering
    /// the mark.
    fn at_mark(&mut self, text: &[u8], p: usize, key: u32, base: u32) -> (usize, usize) {
        let here = Self::stream(base, p);
        if marks::is_template(key) {
            let first = self.insert_template(key, here);
            let best = self.longest(text, p, base, first, &self.template_prev, MARK_CHAIN);
            if best.0 >= MIN_USEFUL {
                return best;
            }
        }
        self.search(text, p, base, MARK_CHAIN)
    }

    /// Candidates by the hash of `text[p..p + 4]`, whose chain `p` joins.
    #[inline]
    fn search(&mut self, text: &[u8], p: usize, base: u32, chain: usize) -> (usize, usize) {
        let Some(slot) = Self::hash_slot(text, p) else {
            return (0, 0);
        };
        let first = self.insert_hash(slot, Self::stream(base, p));
        self.longest(text, p, base, first, &self.hash_prev, chain)
    }
}

/// The distance to try first after a match of `len`: its own when the
/// longest length or the end of the text cut it short, as the text may go
/// on agreeing there; none otherwise (the next byte differs).
#[inline]
fn cut_short(len: usize, distance: usize, at_end: bool) -> usize {
    if len == MAX_MATCH || at_end {
        distance
    } else {
        0
    }
}

/// How many bytes from `text[p..]` equal those from `text[from..]`
/// (`from` < `p`), up to the longest match and the end of the text.
#[inline]
fn extend(text: &[u8], from: usize, p: usize) -> usize {
    assert!(from < p && p <= text.len());
    let max = (text.len() - p).min(MAX_MATCH);
    let t = text.as_ptr();
    let mut n = 0;
    // SAFETY: `from < p` and `p + max <= text.len()`, so every byte read,
    // at `from + i` or `p + i` for `i < max`, is within `text`. This runs
    // for every candidate; slices' checks and conversions were a fifth of
    // the encoder's time.
    unsafe {
        while n + 8 <= max {
            let x = t.add(from + n).cast::<u64>().read_unaligned()
                ^ t.add(p + n).cast::<u64>().read_unaligned();
            if x != 0 {
                return n + (u64::from_le(x).trailing_zeros() / 8) as usize;
            }
            n += 8;
        }
        while n < max && *t.add(from + n) == *t.add(p + n) {
            n += 1;
        }
    }
    n
}
