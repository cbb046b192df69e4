//! DEFLATE blocks with dynamic Huffman codes (RFC 1951 3.2.7): the literals
//! and matches the matcher chose are gathered with their counts, and a block
//! writes the codes those counts call for, then the symbols in them.

use super::bits::Bits;
use super::huffman::{codes, lengths};

/// Literal and length symbols: 256 bytes, the end of a block, 29 lengths.
const LIT_LEN: usize = 286;
const END_OF_BLOCK: usize = 256;
const DISTANCES: usize = 30;
/// Code length symbols: lengths 0-15 and three repeat codes.
const CODE_LENGTHS: usize = 19;
/// The order code length codes' own lengths are written in.
const CODE_LENGTH_ORDER: [usize; CODE_LENGTHS] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

pub(super) const MIN_MATCH: usize = 3;
pub(super) const MAX_MATCH: usize = 258;
pub(super) const MAX_DISTANCE: usize = 32 * 1024;

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE: [u16; DISTANCES] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; DISTANCES] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// The length code (0-28, symbol 257 and up) of every length less 3.
static LENGTH_CODE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut code = 0;
    while code < 28 {
        let mut len = LENGTH_BASE[code] as usize;
        while len < LENGTH_BASE[code + 1] as usize {
            table[len - MIN_MATCH] = code as u8;
            len += 1;
        }
        code += 1;
    }
    // 258 has a code of its own rather than 284's last extra value.
    table[MAX_MATCH - MIN_MATCH] = 28;
    table
};

/// The distance code of every distance less 1: the first 256 directly, the
/// rest by their value over 128 (codes above 15 span multiples of 128).
static DISTANCE_CODE: [u8; 512] = {
    let mut table = [0u8; 512];
    let mut code = 0;
    while code < DISTANCES {
        let start = DISTANCE_BASE[code] as usize - 1;
        let end = start + (1 << DISTANCE_EXTRA[code]);
        let mut d = start;
        while d < end {
            if d < 256 {
                table[d] = code as u8;
            } else {
                table[256 + (d >> 7)] = code as u8;
            }
            d += 1;
        }
        code += 1;
    }
    table
};

#[inline]
fn distance_code(d: usize) -> usize {
    let less = d - 1;
    if less < 256 {
        DISTANCE_CODE[less] as usize
    } else {
        DISTANCE_CODE[256 + (less >> 7)] as usize
    }
}

/// A match is flagged by the top bit; its length less 3 sits in bits 16-23
/// and its distance less 1 in bits 0-14. A literal is its byte.
const MATCH: u32 = 1 << 31;

/// The symbols of the block being gathered, and their counts.
pub(super) struct Symbols {
    symbols: Vec<u32>,
    lit_len: [u32; LIT_LEN],
    distance: [u32; DISTANCES],
}

impl std::fmt::Debug for Symbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbols")
            .field("pending", &self.symbols.len())
            .finish_non_exhaustive()
    }
}

impl Default for Symbols {
    fn default() -> Self {
        Self {
            symbols: Vec::new(),
            lit_len: [0; LIT_LEN],
            distance: [0; DISTANCES],
        }
    }
}

impl Symbols {
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Forgets what was gathered, keeping the room: a body's symbols would
    /// otherwise grow by copies into fresh pages every time.
    pub fn clear(&mut self) {
        self.symbols.clear();
        self.lit_len.fill(0);
        self.distance.fill(0);
    }

    #[inline]
    pub fn literal(&mut self, b: u8) {
        self.symbols.push(u32::from(b));
        self.lit_len[b as usize] += 1;
    }

    /// Literals for each of `bytes`.
    #[inline]
    pub fn literals(&mut self, bytes: &[u8]) {
        self.symbols.reserve(bytes.len());
        for &b in bytes {
            self.literal(b);
        }
    }

    /// A match of `len` bytes (3 to 258) `distance` back (1 to 32,768).
    #[inline]
    pub fn matched(&mut self, len: usize, distance: usize) {
        debug_assert!((MIN_MATCH..=MAX_MATCH).contains(&len));
        debug_assert!((1..=MAX_DISTANCE).contains(&distance));
        self.symbols
            .push(MATCH | ((len - MIN_MATCH) as u32) << 16 | (distance - 1) as u32);
        self.lit_len[257 + LENGTH_CODE[len - MIN_MATCH] as usize] += 1;
        self.distance[distance_code(distance)] += 1;
    }

    /// Writes the gathered symbols as one block (the stream's last when
    /// `last`) and starts gathering the next.
    pub fn write_block(&mut self, out: &mut Vec<u8>, bits: &mut Bits, last: bool) {
        self.lit_len[END_OF_BLOCK] += 1;
        let mut lit_lens = [0u8; LIT_LEN];
        lengths(&self.lit_len, 15, &mut lit_lens);
        let mut dist_lens = [0u8; DISTANCES];
        lengths(&self.distance, 15, &mut dist_lens);
        let hlit = 257.max(last_used(&lit_lens));
        let hdist = 1.max(last_used(&dist_lens));

        // The lengths of both codes, run-length coded with 16, 17 and 18
        // (runs may cross from one code's lengths into the other's).
        let mut all = [0u8; LIT_LEN + DISTANCES];
        all[..hlit].copy_from_slice(&lit_lens[..hlit]);
        all[hlit..hlit + hdist].copy_from_slice(&dist_lens[..hdist]);
        let runs = run_lengths(&all[..hlit + hdist]);
        let mut cl_counts = [0u32; CODE_LENGTHS];
        for &(sym, _) in &runs {
            cl_counts[sym as usize] += 1;
        }
        let mut cl_lens = [0u8; CODE_LENGTHS];
        lengths(&cl_counts, 7, &mut cl_lens);
        let mut cl_codes = [0u16; CODE_LENGTHS];
        codes(&cl_lens, &mut cl_codes);
        let hclen = 4.max(
            CODE_LENGTH_ORDER
                .iter()
                .rposition(|&s| cl_lens[s] > 0)
                .map_or(0, |i| i + 1),
        );

        out.reserve(self.symbols.len() * 4 + 512);
        bits.put(out, u32::from(last) | 2 << 1, 3);
        bits.put(out, (hlit - 257) as u32, 5);
        bits.put(out, (hdist - 1) as u32, 5);
        bits.put(out, (hclen - 4) as u32, 4);
        for &s in &CODE_LENGTH_ORDER[..hclen] {
            bits.put(out, u32::from(cl_lens[s]), 3);
        }
        for &(sym, extra) in &runs {
            let s = sym as usize;
            bits.put(out, u32::from(cl_codes[s]), u32::from(cl_lens[s]));
            match sym {
                16 => bits.put(out, u32::from(extra), 2),
                17 => bits.put(out, u32::from(extra), 3),
                18 => bits.put(out, u32::from(extra), 7),
                _ => {}
            }
        }

        let mut lit_codes = [0u16; LIT_LEN];
        codes(&lit_lens, &mut lit_codes);
        let mut dist_codes = [0u16; DISTANCES];
        codes(&dist_lens, &mut dist_codes);
        // What each literal and each length writes, its code and extra bits
        // as one value with their count (at most 15 + 5 bits), and each
        // distance code's code, length, base and extra bits: one look-up a
        // symbol rather than five (the tables cost less than a hundred
        // symbols; a block has thousands).
        let literal: [(u32, u32); 256] =
            std::array::from_fn(|b| (u32::from(lit_codes[b]), u32::from(lit_lens[b])));
        let length: [(u32, u32); 256] = std::array::from_fn(|less| {
            let code = LENGTH_CODE[less] as usize;
            let sym_bits = u32::from(lit_lens[257 + code]);
            let extra = (less + MIN_MATCH - LENGTH_BASE[code] as usize) as u32;
            (
                u32::from(lit_codes[257 + code]) | extra << sym_bits,
                sym_bits + u32::from(LENGTH_EXTRA[code]),
            )
        });
        let distance: [(u32, u32, u32, u32); DISTANCES] = std::array::from_fn(|code| {
            (
                u32::from(dist_codes[code]),
                u32::from(dist_lens[code]),
                u32::from(DISTANCE_BASE[code]),
                u32::from(DISTANCE_EXTRA[code]),
            )
        });
        for &s in &self.symbols {
            if s & MATCH == 0 {
                let (value, count) = literal[s as usize];
                bits.put(out, value, count);
                continue;
            }
            let (value, count) = length[((s >> 16) & 0xff) as usize];
            bits.put(out, value, count);
            let d = (s & 0x7fff) as usize + 1;
            let (code, sym_bits, base, extra_bits) = distance[distance_code(d)];
            bits.put(
                out,
                code | (d as u32 - base) << sym_bits,
                sym_bits + extra_bits,
            );
        }
        bits.put(
            out,
            u32::from(lit_codes[END_OF_BLOCK]),
            u32::from(lit_lens[END_OF_BLOCK]),
        );
        self.clear();
    }
}

/// One past the last symbol with a code.
fn last_used(lens: &[u8]) -> usize {
    lens.iter().rposition(|&l| l > 0).map_or(0, |i| i + 1)
}

/// Code lengths as code length symbols and their extra values: 16 repeats
/// the previous length 3-6 times, 17 writes 3-10 zeros, 18 writes 11-138.
fn run_lengths(lens: &[u8]) -> Vec<(u8, u8)> {
    let mut runs = Vec::with_capacity(lens.len());
    let mut i = 0;
    while i < lens.len() {
        let l = lens[i];
        let run = lens[i..].iter().take_while(|&&x| x == l).count();
        let mut left = run;
        if l == 0 {
            while left >= 11 {
                let k = left.min(138);
                runs.push((18, (k - 11) as u8));
                left -= k;
            }
            if left >= 3 {
                runs.push((17, (left - 3) as u8));
                left = 0;
            }
        } else {
            runs.push((l, 0));
            left -= 1;
            while left >= 3 {
                let k = left.min(6);
                runs.push((16, (k - 3) as u8));
                left -= k;
            }
        }
        runs.extend(std::iter::repeat_n((l, 0), left));
        i += run;
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(raw)
            .read_to_end(&mut out)
            .expect("a valid raw deflate stream");
        out
    }

    /// Every length and every distance code's edges, in blocks of their
    /// own and together, read back through zlib's inflate.
    #[test]
    fn every_length_and_distance_reads_back() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut text: Vec<u8> = (0..MAX_DISTANCE + 300).map(|_| rng.u8(..)).collect();
        let mut symbols = Symbols::default();
        symbols.literals(&text.clone());
        let (mut out, mut bits) = (Vec::new(), Bits::default());
        symbols.write_block(&mut out, &mut bits, false);
        let mut distances: Vec<usize> = DISTANCE_BASE
            .iter()
            .flat_map(|&b| [b as usize, b as usize + 1])
            .chain([MAX_DISTANCE - 1, MAX_DISTANCE])
            .collect();
        distances.dedup();
        for len in MIN_MATCH..=MAX_MATCH {
            let distance = distances[len % distances.len()];
            for _ in 0..len {
                text.push(text[text.len() - distance]);
            }
            symbols.matched(len, distance);
            if len % 50 == 0 {
                symbols.write_block(&mut out, &mut bits, false);
            }
        }
        symbols.literal(b'!');
        text.push(b'!');
        symbols.write_block(&mut out, &mut bits, true);
        bits.align(&mut out);
        assert!(inflate(&out) == text);
    }

    /// An empty last block (the end of a stream with nothing in it) is
    /// valid, with the codes of a lone symbol.
    #[test]
    fn an_empty_block_reads_back() {
        let (mut out, mut bits) = (Vec::new(), Bits::default());
        Symbols::default().write_block(&mut out, &mut bits, true);
        bits.align(&mut out);
        assert!(inflate(&out).is_empty());
    }

    /// Long runs of one length and of zeros use every repeat code.
    #[test]
    fn run_lengths_use_repeat_codes() {
        let mut lens = vec![8u8; 10];
        lens.extend([0u8; 150]);
        lens.extend([0u8; 2]);
        lens.push(5);
        let runs = run_lengths(&lens);
        let expand: Vec<u8> = runs
            .iter()
            .scan(0u8, |prev, &(s, e)| {
                let out = match s {
                    16 => vec![*prev; 3 + e as usize],
                    17 => vec![0; 3 + e as usize],
                    18 => vec![0; 11 + e as usize],
                    l => vec![l],
                };
                *prev = *out.last().unwrap();
                Some(out)
            })
            .flatten()
            .collect();
        assert_eq!(expand, lens);
        assert!(runs.iter().any(|r| r.0 == 16) && runs.iter().any(|r| r.0 == 18));
    }
}
