//! gzip written by a DEFLATE encoder of our own, for envelope bodies: the
//! writer marks where each piece of fixed text and each value starts, and
//! the matcher (`matcher.rs`) looks for matches there instead of hashing and
//! searching at every byte as zlib does. Blocks use dynamic Huffman codes
//! (`block.rs`); the member's CRC-32 is zlib-rs's.

mod bits;
mod block;
mod huffman;
mod marks;
mod matcher;

pub(crate) use marks::{mark, template, Mark, ID, TEXT};

use bits::Bits;
use block::{Symbols, MAX_DISTANCE};
use matcher::Matcher;

/// A block is written once this many symbols are gathered (zlib's level 3
/// gathers 16,384): fewer blocks cost fewer code tables, longer ones adapt
/// less to what the text turns into.
const BLOCK_SYMBOLS: usize = 24 * 1024;

/// The longest text [`EnvelopeDeflate::write`] takes in one piece.
const PIECE: usize = 1 << 30;

/// gzip's header: deflate, no flags, no time, no extra flags, unknown OS.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// A gzip encoder kept from one body to the next (its tables are 160 KB).
#[derive(Debug)]
pub(crate) struct EnvelopeDeflate {
    matcher: Matcher,
    symbols: Symbols,
    bits: Bits,
    crc: u32,
    /// Input bytes of the current member.
    len: u64,
    /// Stream position of the next input byte (see `Matcher`).
    pos: u32,
}

impl Default for EnvelopeDeflate {
    fn default() -> Self {
        Self {
            matcher: Matcher::new(),
            symbols: Symbols::default(),
            bits: Bits::default(),
            crc: 0,
            len: 0,
            pos: 1,
        }
    }
}

impl EnvelopeDeflate {
    /// How much of the text before new text a call wants to see.
    pub const HISTORY: usize = MAX_DISTANCE;

    /// An encoder whose stream positions start at `pos`: the fuzz target
    /// starts near the limit where they start again.
    #[cfg(feature = "bench")]
    pub(crate) fn at_position(pos: u32) -> Self {
        Self {
            pos,
            ..Self::default()
        }
    }

    /// Starts a member: its header goes to `out`.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        self.matcher.begin(self.pos);
        self.symbols.clear();
        self.bits = Bits::default();
        self.crc = 0;
        self.len = 0;
        out.extend_from_slice(&HEADER);
    }

    /// Compresses `text[from..]`; `text[..from]` is the text just before it
    /// (up to [`Self::HISTORY`] bytes of it are referred back to), `marks`
    /// are positions in `text`, ascending.
    pub fn write(&mut self, text: &[u8], from: usize, marks: &[Mark], out: &mut Vec<u8>) {
        let new = &text[from..];
        if new.is_empty() {
            return;
        }
        // Positions are 32-bit: a text past a quarter of that (no body is
        // near it) goes in pieces, without its history or marks.
        if text.len() > PIECE {
            for piece in new.chunks(PIECE) {
                self.write(piece, 0, &[], out);
            }
            return;
        }
        // Positions near their limit start again, the tables empty; the
        // history is still the text before, so matches may reach into it.
        if self.pos + text.len() as u32 > u32::MAX / 2 {
            self.matcher.restart();
            self.pos = 1 + from as u32;
        }
        self.crc = zlib_rs::crc32::crc32(self.crc, new);
        self.len += new.len() as u64;
        let base = self.pos - from as u32;
        self.matcher
            .encode(text, from, marks, base, &mut self.symbols);
        self.pos += new.len() as u32;
        if self.symbols.len() >= BLOCK_SYMBOLS {
            self.symbols.write_block(out, &mut self.bits, false);
        }
    }

    /// Ends the member: the last block, the CRC-32 and the length.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.symbols.write_block(out, &mut self.bits, true);
        self.bits.align(out);
        out.extend_from_slice(&self.crc.to_le_bytes());
        out.extend_from_slice(&(self.len as u32).to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelopes::test_support::gunzip;

    /// Fixed pieces, as the writer's `&'static str`s.
    const PIECES: [&str; 6] = [
        "{\"name\":\"Microsoft.ApplicationInsights.Request\",\"time\":",
        ",\"tags\":{\"ai.operation.id\":",
        ",\"ai.cloud.role\":\"checkout\"},\"data\":{\"baseData\":{\"id\":",
        ",\"properties\":{",
        "\"http.route\":",
        "}}},",
    ];

    /// Envelope-like text with its marks, as `Json` writes them: pieces,
    /// string values (some repeating), ids (some repeating); `noise` adds
    /// marks where nothing starts, with any key, twice at one place, at the
    /// very end.
    fn marked_text(rng: &mut fastrand::Rng, n: usize, noise: bool) -> (Vec<u8>, Vec<Mark>) {
        let (mut text, mut marks) = (Vec::new(), Vec::new());
        let trace = format!("\"{:032x}\"", rng.u128(..));
        for _ in 0..n {
            for (i, piece) in PIECES.iter().enumerate() {
                marks.push(mark(text.len(), template(piece.as_bytes())));
                text.extend_from_slice(piece.as_bytes());
                let value = match i {
                    0 => format!("\"2026-11-30T19:{:02}:{:09}Z\"", rng.u8(..60), rng.u32(..)),
                    1 if rng.bool() => trace.clone(),
                    1 | 2 => format!("\"{:016x}\"", rng.u64(..)),
                    4 => format!("\"/api/items/{}\",", rng.u8(..4)),
                    _ => continue,
                };
                // As the writer marks them: a time not at all, an id after
                // its quote, a string value at its quote.
                match i {
                    0 => {}
                    1 | 2 => marks.push(mark(text.len() + 1, ID)),
                    _ => marks.push(mark(text.len(), TEXT)),
                }
                text.extend_from_slice(value.as_bytes());
            }
            if noise && rng.u8(..4) == 0 {
                let at = rng.usize(..=text.len());
                let key = [TEXT, ID, rng.u32(..)][rng.usize(..3)];
                marks.push(mark(at, key));
                marks.push(mark(at, key));
            }
        }
        marks.push(mark(text.len(), TEXT));
        marks.sort_unstable_by_key(|&m| marks::position(m));
        (text, marks)
    }

    /// `text` through `deflate` in parts of `part` bytes, each with the
    /// history it asks for and the marks that fall in its text.
    fn compress(
        deflate: &mut EnvelopeDeflate,
        text: &[u8],
        marks: &[Mark],
        part: usize,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        deflate.begin(&mut out);
        let mut start = 0;
        while start < text.len() {
            let end = (start + part).min(text.len());
            let from = start.min(EnvelopeDeflate::HISTORY);
            let window = &text[start - from..end];
            let ours: Vec<Mark> = marks
                .iter()
                .filter(|&&m| (start..end).contains(&marks::position(m)))
                .map(|&m| mark(marks::position(m) - (start - from), marks::key(m)))
                .collect();
            deflate.write(window, from, &ours, &mut out);
            start = end;
        }
        deflate.finish(&mut out);
        out
    }

    /// Whatever the marks say, and however the text is handed over, the
    /// member reads back (the decoder checks the CRC-32 and the length);
    /// bodies one after the other on one encoder do too (none refers back
    /// into the one before).
    #[test]
    fn any_marks_and_parts_read_back() {
        let mut rng = fastrand::Rng::with_seed(21);
        let mut deflate = EnvelopeDeflate::default();
        for round in 0..12 {
            let (text, marks) = marked_text(&mut rng, 50 + round * 97, round % 2 == 1);
            for part in [1, 700, 40_000, usize::MAX] {
                if part == 1 && text.len() > 20_000 {
                    continue;
                }
                let body = compress(&mut deflate, &text, &marks, part);
                assert!(gunzip(&body) == text, "round {round}, parts of {part}");
            }
        }
        let body = compress(&mut deflate, b"", &[], 10);
        assert!(gunzip(&body).is_empty());
    }

    /// Stream positions near their limit start again from nothing, in the
    /// middle of a body and at a body's start, and the text still reads back.
    #[test]
    fn positions_start_again_before_they_overflow() {
        let mut rng = fastrand::Rng::with_seed(23);
        let (text, marks) = marked_text(&mut rng, 300, true);
        let mut deflate = EnvelopeDeflate::default();
        for before in [50_000u32, 10, 0] {
            deflate.pos = u32::MAX / 2 - before;
            let body = compress(&mut deflate, &text, &marks, 20_000);
            assert!(gunzip(&body) == text, "{before} positions before the limit");
            assert!(deflate.pos < 1 << 20, "started again: {}", deflate.pos);
        }
    }

    /// Bodies of 1,000 envelopes with two ids each, an own and a parent id,
    /// `ids(i)` giving the `i`-th envelope's; their compressed size.
    fn with_ids(mut ids: impl FnMut(u64) -> (String, String)) -> usize {
        const PIECES: [&str; 3] = [
            "{\"name\":\"Microsoft.ApplicationInsights.RemoteDependency\",\"id\":",
            ",\"tags\":{\"ai.operation.parentId\":",
            "}},",
        ];
        let (mut text, mut marks) = (Vec::new(), Vec::new());
        for i in 0..1000 {
            let (own, parent) = ids(i);
            for (piece, id) in PIECES.iter().zip([Some(&own), Some(&parent), None]) {
                marks.push(mark(text.len(), template(piece.as_bytes())));
                text.extend_from_slice(piece.as_bytes());
                if let Some(id) = id {
                    text.push(b'"');
                    marks.push(mark(text.len(), ID));
                    text.extend_from_slice(id.as_bytes());
                    text.push(b'"');
                }
            }
        }
        let mut deflate = EnvelopeDeflate::default();
        let gz = compress(&mut deflate, &text, &marks, 32 * 1024);
        assert!(gunzip(&gz) == text);
        gz.len()
    }

    /// An id that comes back in another place (a span's id as its
    /// children's parent id) is matched there, though the text before it
    /// was matched from an envelope where another id followed.
    #[test]
    fn an_id_that_comes_back_elsewhere_is_matched() {
        let mut rng = fastrand::Rng::with_seed(24);
        let fresh = with_ids(|_| {
            (
                format!("{:016x}", rng.u64(..)),
                format!("{:016x}", rng.u64(..)),
            )
        });
        let mut last = String::new();
        let repeated = with_ids(|_| {
            let own = format!("{:016x}", rng.u64(..));
            (own.clone(), std::mem::replace(&mut last, own))
        });
        // 16 hex digits as literals take about 8 bytes; a match about 3.
        assert!(
            repeated + 1000 * 4 < fresh,
            "parent ids written again: {repeated} B, fresh ones: {fresh} B"
        );
    }

    /// Ids counted up share their first bytes with the ids before them: the
    /// match that runs into them keeps those bytes.
    #[test]
    fn ids_counted_up_are_matched_as_far_as_they_agree() {
        let counted = with_ids(|i| (format!("{:016x}", 2 * i), format!("{:016x}", 2 * i + 1)));
        // 5.5 B an envelope; stopping each match at the id cost 7.9.
        assert!(counted < 6_500, "counted ids: {counted} B");
    }

    /// The marks are what makes it cheap and small: marked, the text takes
    /// fewer bytes than unmarked, and fewer than zlib's level 3.
    #[test]
    fn marks_find_the_repeats() {
        let mut rng = fastrand::Rng::with_seed(22);
        let (text, marks) = marked_text(&mut rng, 2000, false);
        let mut deflate = EnvelopeDeflate::default();
        let marked = compress(&mut deflate, &text, &marks, 32 * 1024).len();
        let unmarked = compress(&mut deflate, &text, &[], 32 * 1024).len();
        let mut zlib = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(3));
        std::io::Write::write_all(&mut zlib, &text).unwrap();
        let zlib = zlib.finish().unwrap().len();
        assert!(marked < unmarked, "marked {marked}, unmarked {unmarked}");
        assert!(marked < zlib, "marked {marked}, zlib's level 3 {zlib}");
    }
}
