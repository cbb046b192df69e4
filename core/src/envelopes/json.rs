//! JSON output for envelopes, written by hand into a byte buffer: quoted and
//! escaped strings cut to a field's limit at a character boundary, numbers,
//! hex ids, and the two time formats Application Insights reads.
//!
//! Hand-written because the envelope writer emits a few fixed shapes with
//! values borrowed from packed spans: serde would need a struct (or a map) per
//! envelope to serialise from, which is the per-envelope cost this replaces.

use super::deflate::{self, Mark};
use crate::text::truncated;

/// The index of the first byte at or after `from` that needs escaping.
///
/// Eight bytes at a time: the envelope writer escapes every string it
/// writes, nearly all of them plain and short, so a byte-by-byte table walk
/// was most of its time outside gzip. A word has such a byte when some byte
/// is below 0x20, or equal to `"` or `\`: the classic "has a zero byte" test
/// (`(x - 0x01..) & !x & 0x80..`) applied to `x`, `x ^ '"'..` and
/// `x ^ '\'..`, with "below 0x20" as `(x - 0x20..) & !x & 0x80..`. The test
/// can flag a byte after a true one (borrows), never miss one and never flag
/// one before it, so the lowest flagged byte is the one. The last few bytes
/// are read as a word padded with spaces (which need no escaping).
#[inline]
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let found = escape_mask(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = bytes.get(i..).filter(|r| !r.is_empty())?;
    let found = escape_mask(padded(rest));
    (found != 0).then(|| i + (found.trailing_zeros() / 8) as usize)
}

/// Copies `src` to the start of `dst` (which has room for it and 16 bytes
/// more, which may be written with anything) and says whether any byte of
/// `src` needs escaping (see [`escape_mask`]).
#[inline]
fn copy_words(src: &[u8], dst: &mut [std::mem::MaybeUninit<u8>]) -> bool {
    let n = src.len();
    assert!(dst.len() >= n + 16);
    if n >= 16 {
        return copy_blocks(src, dst);
    }
    let out = dst.as_mut_ptr().cast::<u8>();
    let found = if n >= 8 {
        // Two words, overlapping in the middle.
        let lo = u64::from_le_bytes(src[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(src[n - 8..].try_into().expect("8 bytes"));
        // SAFETY: both words end within `n` <= `dst.len()`.
        unsafe {
            out.cast::<[u8; 8]>().write_unaligned(lo.to_le_bytes());
            out.add(n - 8).cast::<[u8; 8]>().write_unaligned(hi.to_le_bytes());
        }
        escape_mask(lo) | escape_mask(hi)
    } else if n > 0 {
        let x = padded(src);
        // SAFETY: eight bytes from the start, within `n + 16`.
        unsafe { out.cast::<[u8; 8]>().write_unaligned(x.to_le_bytes()) };
        escape_mask(x)
    } else {
        0
    };
    found != 0
}

/// [`copy_words`] for 16 bytes or more, 16 at a time with SSE2 (part of
/// every x86-64), the last block overlapping the one before it.
#[cfg(target_arch = "x86_64")]
fn copy_blocks(src: &[u8], dst: &mut [std::mem::MaybeUninit<u8>]) -> bool {
    use std::arch::x86_64::*;
    let n = src.len();
    debug_assert!(n >= 16 && dst.len() >= n);
    let (from, to) = (src.as_ptr(), dst.as_mut_ptr().cast::<u8>());
    // SAFETY: SSE2 is in the x86-64 baseline; every load reads 16 bytes
    // within `src` and every store writes 16 bytes within `dst`.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let control = _mm_set1_epi8(0x1f);
        let flag = |v: __m128i| {
            let below = _mm_cmpeq_epi8(_mm_min_epu8(v, control), v);
            let marks = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
            _mm_or_si128(below, marks)
        };
        let mut seen = _mm_setzero_si128();
        let mut i = 0;
        while i + 16 <= n {
            let v = _mm_loadu_si128(from.add(i).cast());
            _mm_storeu_si128(to.add(i).cast(), v);
            seen = _mm_or_si128(seen, flag(v));
            i += 16;
        }
        if i < n {
            let v = _mm_loadu_si128(from.add(n - 16).cast());
            _mm_storeu_si128(to.add(n - 16).cast(), v);
            seen = _mm_or_si128(seen, flag(v));
        }
        _mm_movemask_epi8(seen) != 0
    }
}

/// [`copy_words`] for 16 bytes or more, a word at a time.
#[cfg(not(target_arch = "x86_64"))]
fn copy_blocks(src: &[u8], dst: &mut [std::mem::MaybeUninit<u8>]) -> bool {
    copy_words_swar(src, dst)
}

/// Word-at-a-time copy and check for any length (also what the tests hold
/// the SSE2 blocks against).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn copy_words_swar(src: &[u8], dst: &mut [std::mem::MaybeUninit<u8>]) -> bool {
    let n = src.len();
    let out = dst.as_mut_ptr().cast::<u8>();
    let mut found = 0;
    let mut i = 0;
    while i + 8 <= n {
        let w = u64::from_le_bytes(src[i..i + 8].try_into().expect("8 bytes"));
        // SAFETY: the word ends within `n` <= `dst.len()`.
        unsafe { out.add(i).cast::<[u8; 8]>().write_unaligned(w.to_le_bytes()) };
        found |= escape_mask(w);
        i += 8;
    }
    if i < n {
        let x = padded(&src[i..]);
        // SAFETY: eight bytes from `i` < `n`, within `n + 16`.
        unsafe { out.add(i).cast::<[u8; 8]>().write_unaligned(x.to_le_bytes()) };
        found |= escape_mask(x);
    }
    found != 0
}

/// Up to seven bytes as a little-endian word padded with spaces, read with
/// two overlapping loads rather than a copy (most texts end here).
fn padded(rest: &[u8]) -> u64 {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    let n = rest.len();
    let x = match n {
        4.. => {
            let lo = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
            let hi = u32::from_le_bytes(rest[n - 4..n].try_into().expect("4 bytes"));
            u64::from(lo) | u64::from(hi) << (8 * (n - 4))
        }
        2.. => {
            let lo = u16::from_le_bytes(rest[..2].try_into().expect("2 bytes"));
            let hi = u16::from_le_bytes(rest[n - 2..n].try_into().expect("2 bytes"));
            u64::from(lo) | u64::from(hi) << (8 * (n - 2))
        }
        _ => u64::from(rest[0]),
    };
    x | SPACES << (8 * n)
}

/// The high bit of each byte of `x` (little endian) that may need escaping;
/// the lowest one set surely does (see [`next_escape`]).
fn escape_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    let control = x.wrapping_sub(ONES * 0x20);
    (control | (quote.wrapping_sub(ONES) & !quote) | (backslash.wrapping_sub(ONES) & !backslash))
        & !x
        & HIGH
}

/// An envelope body being written: the JSON text, and how many strings had
/// to be cut to their field's limit.
#[derive(Debug, Default)]
pub(crate) struct Json {
    pub buf: Vec<u8>,
    pub cut: u64,
    /// The whole second [`Json::time`] wrote last, as text.
    second: LastSecond,
    /// Where pieces of fixed text and values start, for the compressor
    /// (`deflate/marks.rs`); kept only by a body's text.
    pub marks: Option<Vec<Mark>>,
    /// Where the last piece of fixed text ended: a piece written right
    /// after it needs no mark of its own, as a match of the first runs on
    /// through it (half the marks an envelope would have otherwise).
    fixed_end: usize,
}

/// `YYYY-MM-DDTHH:MM:SS` of one whole second: the envelopes of a body are
/// mostly within a second of each other, so the calendar is worked out once
/// for them, not for every envelope.
#[derive(Debug)]
struct LastSecond {
    secs: u64,
    text: [u8; 19],
}

impl Default for LastSecond {
    fn default() -> Self {
        // No time is `u64::MAX` seconds after 1970 in nanoseconds.
        Self {
            secs: u64::MAX,
            text: [0; 19],
        }
    }
}

/// A string as JSON, rendered once to be written many times (a property
/// key, the instrumentation key): escaped and cut to its limit, and whether
/// the cut shortened it, counted at every write as a fresh [`Json::str`]
/// would count it.
#[derive(Debug)]
pub(crate) struct RenderedStr {
    json: Box<[u8]>,
    cut: bool,
}

impl RenderedStr {
    pub fn new(s: &str, max: usize) -> Self {
        let mut j = Json::default();
        j.str(s, max);
        Self {
            json: j.buf.into_boxed_slice(),
            cut: j.cut > 0,
        }
    }
}

impl Json {
    /// A body's text, which keeps marks for the compressor.
    pub fn marked() -> Self {
        Self {
            marks: Some(Vec::new()),
            fixed_end: usize::MAX,
            ..Self::default()
        }
    }

    /// Marks that what is written next starts with `key`.
    #[inline]
    fn mark(&mut self, key: u32) {
        if let Some(marks) = &mut self.marks {
            marks.push(deflate::mark(self.buf.len(), key));
        }
    }

    /// Marks that a piece of fixed text starts here, unless one just ended.
    #[inline]
    fn mark_fixed(&mut self, piece: &[u8]) {
        if self.buf.len() != self.fixed_end {
            self.mark(deflate::template(piece));
        }
    }

    /// Keeps the last `keep` bytes of the text (what the compressor refers
    /// back to) and forgets the marks, which it has read.
    pub fn keep_last(&mut self, keep: usize) {
        let len = self.buf.len();
        self.buf.copy_within(len - keep.., 0);
        self.buf.truncate(keep);
        if let Some(marks) = &mut self.marks {
            marks.clear();
        }
        self.fixed_end = usize::MAX;
    }

    /// What [`Json::str`] writes for the string `s` was rendered from.
    pub fn rendered(&mut self, s: &RenderedStr) {
        self.raw_bytes(&s.json);
        self.cut += u64::from(s.cut);
    }

    /// Fixed text (see [`deflate::template`]: text written from one place
    /// in memory compresses best).
    pub fn raw(&mut self, s: &str) {
        self.raw_bytes(s.as_bytes());
    }

    /// [`Json::raw`] for a piece already in bytes.
    #[inline]
    fn raw_bytes(&mut self, piece: &[u8]) {
        self.mark_fixed(piece);
        self.buf.extend_from_slice(piece);
        self.fixed_end = self.buf.len();
    }

    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// `s` as a JSON string, cut to at most `max` bytes at a character boundary.
    #[inline]
    pub fn str(&mut self, s: &str, max: usize) {
        let t = if s.len() <= max {
            s
        } else {
            self.cut += 1;
            truncated(s, max)
        };
        self.mark(deflate::TEXT);
        self.buf.push(b'"');
        self.escaped(t);
        self.buf.push(b'"');
    }

    /// `"key":"value"` with both cut to their limits.
    pub fn field_str(&mut self, key: &str, value: &str, max: usize) {
        self.key(key);
        self.str(value, max);
    }

    /// `,"key":"value"` with the value cut to its limit.
    pub fn field_str_after_comma(&mut self, key: &str, value: &str, max: usize) {
        self.buf.push(b',');
        self.field_str(key, value, max);
    }

    /// `"key":` for a key known to need no escaping (a schema field name).
    pub fn key(&mut self, key: &str) {
        self.mark_fixed(key.as_bytes());
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.fixed_end = self.buf.len();
    }

    /// The text of `s` escaped for a JSON string, without quotes.
    #[inline]
    pub fn escaped(&mut self, s: &str) {
        if !self.copy_if_plain(s.as_bytes()) {
            self.escaped_each(s);
        }
    }

    /// Appends `bytes` when none of them needs escaping, and says whether it
    /// did; otherwise the buffer is left as it was.
    ///
    /// The copy and the check are one pass over words, written into the
    /// buffer's spare room before its length is moved: nearly every string
    /// the writer writes is plain, and a separate scan then `memcpy` cost
    /// about 150 instructions a string.
    #[inline]
    fn copy_if_plain(&mut self, bytes: &[u8]) -> bool {
        let n = bytes.len();
        // Room for the string and for a whole word past its end.
        self.buf.reserve(n + 16);
        let at = self.buf.len();
        let spare = &mut self.buf.spare_capacity_mut()[..n + 16];
        if copy_words(bytes, spare) {
            return false;
        }
        // SAFETY: `copy_words` wrote all `n` bytes of `bytes` at `at..at + n`.
        unsafe { self.buf.set_len(at + n) };
        true
    }

    /// [`Json::escaped`] for a text that has something to escape.
    fn escaped_each(&mut self, s: &str) {
        let bytes = s.as_bytes();
        // Most text needs no escaping at all: copy the runs between the
        // bytes that do, found eight at a time (see `next_escape`).
        self.buf.reserve(bytes.len());
        let mut start = 0;
        while let Some(i) = next_escape(bytes, start) {
            self.buf.extend_from_slice(&bytes[start..i]);
            match bytes[i] {
                b'"' => self.buf.extend_from_slice(b"\\\""),
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                c => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.buf.extend_from_slice(b"\\u00");
                    self.buf.push(HEX[(c >> 4) as usize]);
                    self.buf.push(HEX[(c & 15) as usize]);
                }
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
    }

    /// Lowercase hex of `bytes`, quoted (trace and span ids). The id is
    /// marked after its quote: a match of the text before may take the
    /// quote, and the id is looked up by its own first bytes.
    pub fn hex(&mut self, bytes: &[u8]) {
        self.buf.push(b'"');
        self.mark(deflate::ID);
        hex_into(&mut self.buf, bytes);
        self.buf.push(b'"');
    }

    pub fn u64(&mut self, n: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// A number; a non-finite one (a sum that overflowed) has no JSON form
    /// and is written as 0.
    pub fn f64(&mut self, f: f64) {
        if f.is_finite() {
            with_f64_text(f, |t| self.buf.extend_from_slice(t.as_bytes()));
        } else {
            self.buf.push(b'0');
        }
    }

    /// `"time":"..."`: RFC 3339 UTC with microseconds, as the official distro sends.
    pub fn time(&mut self, unix_nanos: u64) {
        let secs = unix_nanos / 1_000_000_000;
        let micros = (unix_nanos % 1_000_000_000) / 1000;
        if self.second.secs != secs {
            let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
            let rem = secs % 86_400;
            let t = &mut self.second.text;
            write_digits(&mut t[0..4], y.clamp(0, 9999) as u64);
            t[4] = b'-';
            write_digits(&mut t[5..7], mo as u64);
            t[7] = b'-';
            write_digits(&mut t[8..10], d as u64);
            t[10] = b'T';
            write_digits(&mut t[11..13], rem / 3600);
            t[13] = b':';
            write_digits(&mut t[14..16], rem / 60 % 60);
            t[16] = b':';
            write_digits(&mut t[17..19], rem % 60);
            self.second.secs = secs;
        }
        let mut t = [0u8; 30];
        t[0] = b'"';
        t[1..20].copy_from_slice(&self.second.text);
        t[20] = b'.';
        write_digits(&mut t[21..27], micros);
        t[27] = b'Z';
        t[28] = b'"';
        self.buf.extend_from_slice(&t[..29]);
    }

    /// A duration as `d.hh:mm:ss.ffffff`, quoted.
    pub fn duration(&mut self, nanos: u64) {
        let micros = nanos / 1000;
        let secs = micros / 1_000_000;
        self.buf.push(b'"');
        self.u64(secs / 86_400);
        let mut t = [0u8; 16];
        t[0] = b'.';
        write_digits(&mut t[1..3], secs / 3600 % 24);
        t[3] = b':';
        write_digits(&mut t[4..6], secs / 60 % 60);
        t[6] = b':';
        write_digits(&mut t[7..9], secs % 60);
        t[9] = b'.';
        write_digits(&mut t[10..16], micros % 1_000_000);
        self.buf.extend_from_slice(&t);
        self.buf.push(b'"');
    }
}

/// Appends the lowercase hex of `bytes`. Ids are 8 or 16 bytes, three of
/// them an envelope: eight bytes at a time become their sixteen digits in
/// one 128-bit word ([`hex_word`]), where a byte at a time through a table
/// cost about 190 instructions an id.
pub(crate) fn hex_into(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        out.extend_from_slice(&hex_word(w.try_into().expect("8 bytes")));
    }
    for &b in words.remainder() {
        out.extend_from_slice(&hex_word([b, 0, 0, 0, 0, 0, 0, 0])[..2]);
    }
}

/// The sixteen lowercase hex digits of eight bytes, in order, computed in
/// one `u128` (SWAR: no lane ever carries into the next).
#[inline]
fn hex_word(bytes: [u8; 8]) -> [u8; 16] {
    const LOW_BYTES: u128 = 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    const NIBBLES: u128 = 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
    const ONES: u128 = 0x0101_0101_0101_0101_0101_0101_0101_0101;
    // Byte i goes to the low half of 16-bit lane i (little-endian, so the
    // lane's first byte in memory).
    let mut x = u128::from(u64::from_le_bytes(bytes));
    x = (x | x << 32) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    x = (x | x << 16) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    x = (x | x << 8) & LOW_BYTES;
    // Each lane: the high nibble first, then the low one.
    let n = (x >> 4) & NIBBLES | (x & NIBBLES) << 8;
    // A nibble above 9 gets 'a' - '0' - 10 = 39 more.
    let above_nine = ((n + 6 * ONES) >> 4) & ONES;
    (n + 0x30 * ONES + above_nine * 39).to_le_bytes()
}

/// `bytes` as lowercase hex, in a string of its own.
pub(crate) fn hex_string(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(2 * bytes.len());
    hex_into(&mut out, bytes);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Writes `n` as exactly `out.len()` decimal digits (zero padded).
fn write_digits(out: &mut [u8], mut n: u64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `x` as Rust's `Display` writes it (the shortest text that reads back as
/// `x`, in plain decimals, a whole number without `.0`: what the reference
/// crate's `Value::as_str` gives), handed to `f`.
///
/// Written by `zmij` on the stack: `Display` through `fmt` cost about 1,000
/// instructions a number, and the writer formats one for every float
/// attribute and every envelope's `sampleRate`. Up to 15 significant digits
/// only one decimal of that length reads back as `x`, so both write the
/// same; past that two may, and `zmij` does not always pick the one
/// `Display` picks. Those, and `zmij`'s exponent form, are left to `Display`.
pub(crate) fn with_f64_text<R>(x: f64, f: impl FnOnce(&str) -> R) -> R {
    if x.is_finite() {
        let mut buf = zmij::Buffer::new();
        let t = buf.format_finite(x);
        let plain = !t.as_bytes().contains(&b'e');
        if plain && significant_digits(t) <= 15 {
            return f(t.strip_suffix(".0").unwrap_or(t));
        }
    }
    f(&x.to_string())
}

/// The digits of a plain decimal after its leading zeros (trailing zeros
/// count too: an over-count only sends a number to the slow path).
fn significant_digits(t: &str) -> usize {
    let digits = t.bytes().filter(u8::is_ascii_digit);
    digits.skip_while(|&d| d == b'0').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hex digits as `format!` writes them, for every byte value and for
    /// ids of every length up to two words and a half.
    #[test]
    fn hex_is_what_format_writes() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        hex_into(&mut out, &all);
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..=20 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let mut out = b"x".to_vec();
            hex_into(&mut out, &bytes);
            let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(String::from_utf8(out).unwrap(), format!("x{expected}"), "{len}");
            assert_eq!(hex_string(&bytes), expected);
        }
    }

    /// A body's text marks where fixed text, strings and ids start; fixed
    /// text right after fixed text needs no mark, fixed text after a value
    /// does. Text that is not a body's keeps none.
    #[test]
    fn marks_say_what_starts_where() {
        use super::deflate::{mark, template, ID, TEXT};
        const HEAD: &str = "{\"a\":";
        const MORE: &str = ",\"b\":";
        let mut j = Json::marked();
        j.raw(HEAD);
        j.raw(MORE);
        j.u64(7);
        j.key("c");
        j.str("x", 10);
        j.hex(&[1, 2]);
        j.raw(MORE);
        let c = j.buf.iter().position(|&b| b == b'c').unwrap() - 1;
        let want = [
            mark(0, template(HEAD.as_bytes())),
            mark(c, template(b"c")),
            mark(c + 4, TEXT),
            mark(c + 8, ID),
            mark(c + 13, template(MORE.as_bytes())),
        ];
        let text = String::from_utf8_lossy(&j.buf).into_owned();
        assert_eq!(j.marks.as_deref(), Some(&want[..]), "{text}");
        j.keep_last(3);
        assert_eq!(j.marks.as_deref(), Some(&[][..]));
        j.raw(MORE);
        assert_eq!(j.marks.as_ref().unwrap().len(), 1, "a mark again after the history");
        let mut plain = Json::default();
        plain.raw(HEAD);
        plain.str("x", 10);
        assert!(plain.marks.is_none());
    }

    fn out(f: impl FnOnce(&mut Json)) -> String {
        let mut j = Json::default();
        f(&mut j);
        String::from_utf8(j.buf).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does_and_cut_at_characters() {
        for s in ["plain", "q\"b\\n\nr\rt\t\u{1}\u{1f}é😀", "", "\u{7f}"] {
            assert_eq!(
                out(|j| j.str(s, usize::MAX)),
                serde_json::to_string(s).unwrap()
            );
        }
        let mut j = Json::default();
        j.str("aé", 2);
        assert_eq!(
            (String::from_utf8(j.buf).unwrap(), j.cut),
            ("\"a\"".into(), 1)
        );
    }

    /// Bytes that need escaping inside a JSON string: `"`, `\` and controls.
    fn needs_escape(b: u8) -> bool {
        b < 0x20 || b == b'"' || b == b'\\'
    }

    /// The word-at-a-time scan finds exactly the first byte the plain
    /// definition does, from every start, in every word position.
    #[test]
    fn the_word_at_a_time_scan_finds_the_first_byte_to_escape() {
        let mut rng = fastrand::Rng::with_seed(3);
        let pool = [
            b'"', b'\\', 0, 0x1f, 0x20, b'a', 0x7f, 0x80, 0xc3, 0xff, b'!', b'#', b']',
        ];
        for len in 0..40 {
            for _ in 0..300 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| match rng.u8(..4) {
                        0 => rng.u8(..),
                        _ => pool[rng.usize(..pool.len())],
                    })
                    .collect();
                for from in 0..=len {
                    let expected = bytes[from..].iter().position(|&b| needs_escape(b));
                    assert_eq!(
                        next_escape(&bytes, from),
                        expected.map(|p| from + p),
                        "{bytes:?} from {from}"
                    );
                }
            }
        }
    }

    /// The copy that checks as it goes: at every length across the word and
    /// block sizes, it copies exactly the bytes and flags a string exactly
    /// when some byte needs escaping; the SSE2 blocks and the words agree.
    #[test]
    fn copying_in_words_flags_exactly_the_strings_to_escape() {
        let mut rng = fastrand::Rng::with_seed(5);
        let pool = [b'"', b'\\', 0, 0x1f, 0x20, b'a', 0x7f, 0x80, 0xc3, 0xff, b'~'];
        for len in 0..70 {
            for round in 0..400 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| match (round % 4, rng.u8(..8)) {
                        // Mostly plain strings, as the writer sees them.
                        (0..=2, 1..) => b'a' + rng.u8(..26),
                        _ => pool[rng.usize(..pool.len())],
                    })
                    .collect();
                let expected = bytes.iter().any(|&b| needs_escape(b));
                let mut words = vec![std::mem::MaybeUninit::new(0xAA); len + 16];
                let mut fast = words.clone();
                assert_eq!(copy_words_swar(&bytes, &mut words), expected, "{bytes:?}");
                assert_eq!(copy_words(&bytes, &mut fast), expected, "{bytes:?}");
                let copied = |d: &[std::mem::MaybeUninit<u8>]| -> Vec<u8> {
                    // SAFETY: both copies wrote all `len` bytes.
                    d[..len].iter().map(|b| unsafe { b.assume_init() }).collect()
                };
                assert_eq!(copied(&words), bytes);
                assert_eq!(copied(&fast), bytes);
            }
        }
    }

    /// Every byte that needs escaping, at every position of a word and
    /// next to multi-byte characters, found by the word-at-a-time scan: the
    /// output reads back (through serde_json) as the very text written.
    #[test]
    fn the_word_at_a_time_scan_misses_no_byte_that_needs_escaping() {
        let tricky = [
            '"', '\\', '\n', '\u{0}', '\u{8}', '\u{1f}', ' ', '!', '#', '[', ']', 'é', '😀',
            '\u{7f}', 'a',
        ];
        let mut rng = fastrand::Rng::with_seed(8);
        for len in 0..40 {
            for _ in 0..200 {
                let s: String = (0..len)
                    .map(|_| tricky[rng.usize(..tricky.len())])
                    .collect();
                let text = out(|j| j.str(&s, usize::MAX));
                assert_eq!(serde_json::from_str::<String>(&text).unwrap(), s, "{text}");
                for b in text[1..text.len() - 1].bytes() {
                    assert!(b >= 0x20, "a raw control byte in {text:?}");
                }
            }
        }
    }

    #[test]
    fn times_and_durations_use_the_service_formats() {
        // 2026-11-24T21:04:55.572456Z
        let t = 1_795_554_295_572_456_789u64;
        assert_eq!(out(|j| j.time(t)), "\"2026-11-24T21:04:55.572456Z\"");
        assert_eq!(out(|j| j.time(0)), "\"1970-01-01T00:00:00.000000Z\"");
        // Leap day.
        assert_eq!(
            out(|j| j.time(951_782_400_000_000_000)),
            "\"2000-02-29T00:00:00.000000Z\""
        );
        assert_eq!(
            out(|j| j.duration(123_456_789_123_000)),
            "\"1.10:17:36.789123\""
        );
        assert_eq!(out(|j| j.duration(0)), "\"0.00:00:00.000000\"");
    }

    /// One body writes many times: each says what a body of its own would,
    /// within a second, across seconds and days, and back again.
    #[test]
    fn times_written_one_after_another_each_say_their_own() {
        let t = 1_795_554_295_572_456_789u64;
        let day = 86_400 * 1_000_000_000;
        let times = [t, t + 1_000, t + 999_999_999, t + 1_000_000_000, t + day, t, 0, t];
        let mut j = Json::default();
        let mut expected = String::new();
        for (i, &x) in times.iter().enumerate() {
            if i > 0 {
                j.byte(b',');
                expected.push(',');
            }
            j.time(x);
            expected.push_str(&out(|k| k.time(x)));
        }
        assert_eq!(String::from_utf8(j.buf).unwrap(), expected);
        assert!(expected.contains("\"2026-11-25T21:04:55.572456Z\""));
    }

    #[test]
    fn numbers_and_ids() {
        assert_eq!(out(|j| j.u64(42)), "42");
        assert_eq!(out(|j| j.f64(322.5)), "322.5");
        assert_eq!(out(|j| j.f64(5.0)), "5");
        assert_eq!(out(|j| j.f64(f64::INFINITY)), "0");
        assert_eq!(out(|j| j.hex(&[0, 0xab, 0x1f])), "\"00ab1f\"");
    }
}
