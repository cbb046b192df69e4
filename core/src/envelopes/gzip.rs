//! The gzip of a request body, written with states kept between bodies: a
//! fresh zlib state is about 300 KB allocated and zeroed per body, which cost
//! as much per span as the JSON of a small batch's envelopes.
//!
//! Level 3, the default, is our own encoder (`deflate/`), which finds its
//! matches where the writer marks them. The other levels are zlib's, through
//! zlib-rs's own `z_stream`s (`libz-rs-sys`, its zlib API, which exports no
//! symbols unless asked to), whose states can be reset and kept.

use super::deflate::{EnvelopeDeflate, Mark};
use libz_rs_sys as zlib;
use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What one `gzip_level` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preset {
    /// zlib at this level.
    Zlib(c_int),
    /// Our envelope-aware encoder.
    Ours,
}

/// By `gzip_level`, 0 to 9: zlib's own levels, but for 3. On the benchmark's
/// bodies of 1,024 spans the whole writer, JSON included, takes 1.31 µs a
/// span for 35.2 bytes (zlib's level 6: 2.8 µs for 34.2); with zlib's level
/// 3 tuned to follow longer hash chains (the default before it) it took
/// 1.68 µs for 40.0 (in one process, before this encoder's tuning: 1.55
/// against 1.75 µs, the same bytes); see `bench/ANALYSIS.md`.
const PRESETS: [Preset; 10] = {
    use Preset::Zlib;
    [
        Zlib(0),
        Zlib(1),
        Zlib(2),
        Preset::Ours,
        Zlib(4),
        Zlib(5),
        Zlib(6),
        Zlib(7),
        Zlib(8),
        Zlib(9),
    ]
};

/// One gzip stream of zlib-rs: boxed, as zlib's state points back to it,
/// and ended when dropped. zlib writes the member's header and trailer,
/// computing the CRC-32 as it copies the input into its window rather than
/// in a pass of its own.
struct Deflater {
    stream: Box<zlib::z_stream>,
}

// SAFETY: the stream and the state it owns are used by one thread at a time
// (`&mut self`); nothing in them is tied to the thread that made them.
unsafe impl Send for Deflater {}

impl Deflater {
    fn new(level: c_int) -> std::io::Result<Self> {
        let mut stream = Box::new(zlib::z_stream::default());
        // SAFETY: a zeroed stream (no allocator: zlib-rs's own) initialised
        // once; 15 + 16 asks for a 32 KB window in a gzip member.
        let rc = unsafe {
            zlib::deflateInit2_(
                &mut *stream,
                level,
                zlib::Z_DEFLATED,
                15 + 16,
                8,
                zlib::Z_DEFAULT_STRATEGY,
                zlib::zlibVersion(),
                std::mem::size_of::<zlib::z_stream>() as c_int,
            )
        };
        if rc != zlib::Z_OK {
            return Err(std::io::Error::other(format!(
                "gzip: the compressor did not start ({rc})"
            )));
        }
        Ok(Deflater { stream })
    }

    fn reset(&mut self) {
        // SAFETY: an initialised stream.
        unsafe { zlib::deflateReset(&mut *self.stream) };
    }

    /// One `deflate` call from `input` into `out`'s spare capacity: how many
    /// bytes it took in, and whether the stream ended.
    fn deflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        finish: bool,
    ) -> std::io::Result<(usize, bool)> {
        let room = out.spare_capacity_mut();
        let (in_start, out_start) = (input.as_ptr(), room.as_mut_ptr().cast::<u8>());
        let s = &mut *self.stream;
        s.next_in = in_start.cast_mut();
        s.avail_in = input.len().min(u32::MAX as usize) as u32;
        s.next_out = out_start;
        s.avail_out = room.len().min(u32::MAX as usize) as u32;
        let flush = if finish {
            zlib::Z_FINISH
        } else {
            zlib::Z_NO_FLUSH
        };
        // SAFETY: an initialised stream whose input and output point into
        // `input` and `out`'s spare room, both live for the call; zlib reads
        // at most `avail_in` bytes and writes at most `avail_out`.
        let rc = unsafe { zlib::deflate(s, flush) };
        // zlib's own counts are `unsigned long`, 32 bits on Windows: the
        // pointers say how far it went.
        let taken = s.next_in as usize - in_start as usize;
        let written = s.next_out as usize - out_start as usize;
        s.next_in = std::ptr::null_mut();
        s.next_out = std::ptr::null_mut();
        s.avail_in = 0;
        s.avail_out = 0;
        // SAFETY: zlib initialised the `written` bytes after the old length.
        unsafe { out.set_len(out.len() + written) };
        match rc {
            zlib::Z_STREAM_END => Ok((taken, true)),
            // No room or nothing to do: the caller sees no progress.
            zlib::Z_OK | zlib::Z_BUF_ERROR => Ok((taken, false)),
            rc => Err(std::io::Error::other(format!(
                "gzip: the compressor failed ({rc})"
            ))),
        }
    }
}

impl Drop for Deflater {
    fn drop(&mut self) {
        // SAFETY: an initialised stream, ended once.
        unsafe { zlib::deflateEnd(&mut *self.stream) };
    }
}

/// A kept compressor: zlib's, or ours for envelope bodies.
enum State {
    Zlib(Deflater),
    Ours(Box<EnvelopeDeflate>),
}

impl State {
    fn new(preset: Preset) -> std::io::Result<Self> {
        Ok(match preset {
            Preset::Ours => State::Ours(Box::default()),
            Preset::Zlib(level) => State::Zlib(Deflater::new(level)?),
        })
    }
}

/// Deflate states at one level, waiting for the next body. Bodies are written
/// one at a time on each export task, so a couple of states cover them all.
pub(crate) struct Deflaters {
    level: u32,
    spare: Mutex<Vec<State>>,
    /// The last body's size, the next one's first room: a body's output
    /// then grows in place instead of by copies into fresh pages.
    last_len: AtomicUsize,
}

impl std::fmt::Debug for Deflaters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflaters")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// States kept beyond this many are dropped (each is a few hundred KB).
const KEEP: usize = 2;

/// A body's first room is the last one's size and an eighth, within these:
/// after a body of large prompts, a small one does not hold megabytes.
const FIRST_ROOM: std::ops::RangeInclusive<usize> = 16 * 1024..=1024 * 1024;

impl Deflaters {
    /// Levels above 9 are 9.
    pub fn new(level: u32) -> Self {
        Self {
            level: level.min(9),
            spare: Mutex::new(Vec::new()),
            last_len: AtomicUsize::new(0),
        }
    }

    /// A gzip member being written, with a kept state when there is one.
    pub fn start(&self) -> std::io::Result<Gzip<'_>> {
        let kept = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut deflate = match kept {
            Some(kept) => kept,
            None => State::new(PRESETS[self.level as usize])?,
        };
        let last = self.last_len.load(Ordering::Relaxed);
        let room = (last + last / 8).clamp(*FIRST_ROOM.start(), *FIRST_ROOM.end());
        let mut out = Vec::with_capacity(room);
        if let State::Ours(ours) = &mut deflate {
            ours.begin(&mut out);
        }
        Ok(Gzip {
            owner: self,
            deflate: Some(deflate),
            out,
            #[cfg(test)]
            history: Vec::new(),
        })
    }

    fn keep(&self, mut deflate: State) {
        if let State::Zlib(zlib) = &mut deflate {
            zlib.reset();
        }
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < KEEP {
            spare.push(deflate);
        }
    }
}

/// One gzip member (RFC 1952) being written.
pub(crate) struct Gzip<'a> {
    owner: &'a Deflaters,
    /// Taken back by `finish`; a body abandoned half-way drops its state, so
    /// a kept state never holds another body's unfinished stream.
    deflate: Option<State>,
    out: Vec<u8>,
    /// What [`Gzip::write`] keeps of the text it was given.
    #[cfg(test)]
    history: Vec<u8>,
}

impl Gzip<'_> {
    /// Compresses `input` into the body, unmarked, keeping what the
    /// compressor asks to see of it next time.
    #[cfg(test)]
    pub fn write(&mut self, input: &[u8]) -> std::io::Result<()> {
        let mut text = std::mem::take(&mut self.history);
        let from = text.len();
        text.extend_from_slice(input);
        let keep = self.write_after(&text, from, &[])?;
        text.drain(..text.len() - keep);
        self.history = text;
        Ok(())
    }

    /// Compresses `text[from..]` into the body, where `text[..from]` is the
    /// text that came just before it, and `marks` say where pieces of fixed
    /// text and values start in `text` (`deflate/marks.rs`). Says how many
    /// of `text`'s last bytes the next call should get before its own.
    pub fn write_after(
        &mut self,
        text: &[u8],
        from: usize,
        marks: &[Mark],
    ) -> std::io::Result<usize> {
        match self.deflate.as_mut().expect("present until finish") {
            State::Ours(ours) => {
                ours.write(text, from, marks, &mut self.out);
                Ok(text.len().min(EnvelopeDeflate::HISTORY))
            }
            State::Zlib(_) => self.run(&text[from..], false).map(|()| 0),
        }
    }

    /// Ends the stream and returns the whole member.
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        match self.deflate.as_mut().expect("present until finish") {
            State::Ours(ours) => ours.finish(&mut self.out),
            // `run` returns from a finish only at the stream's end (or an error).
            State::Zlib(_) => self.run(&[], true)?,
        }
        let out = std::mem::take(&mut self.out);
        self.owner.last_len.store(out.len(), Ordering::Relaxed);
        if let Some(deflate) = self.deflate.take() {
            self.owner.keep(deflate);
        }
        Ok(out)
    }

    /// Feeds all of `input`, growing the output as the compressor asks.
    /// A call that takes nothing in and gives nothing out is an error, not
    /// a loop: a body is never left half-written by a spinning thread.
    fn run(&mut self, mut input: &[u8], finish: bool) -> std::io::Result<()> {
        let Some(State::Zlib(deflate)) = self.deflate.as_mut() else {
            unreachable!("zlib's state, present until finish")
        };
        loop {
            if self.out.capacity() - self.out.len() < 1024 {
                self.out.reserve(self.out.capacity().max(16 * 1024));
            }
            let before_out = self.out.len();
            let (taken, ended) = deflate.deflate(input, &mut self.out, finish)?;
            input = &input[taken..];
            let room_left = self.out.len() < self.out.capacity();
            if ended {
                return Ok(());
            }
            // All taken in and the compressor did not fill the output:
            // nothing is pending for this call.
            if input.is_empty() && room_left && !finish {
                return Ok(());
            }
            if taken == 0 && self.out.len() == before_out {
                return Err(std::io::Error::other(
                    "gzip: the compressor made no progress",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelopes::test_support::gunzip;
    use flate2::Compression;

    /// `text` gzipped, handed over `part` bytes at a time.
    fn ours_in(deflaters: &Deflaters, text: &[u8], part: usize) -> Vec<u8> {
        let mut gz = deflaters.start().unwrap();
        for part in text.chunks(part) {
            gz.write(part).unwrap();
        }
        gz.finish().unwrap()
    }

    fn ours(deflaters: &Deflaters, text: &[u8]) -> Vec<u8> {
        ours_in(deflaters, text, 7_000)
    }

    fn flate2s(level: u32, text: &[u8]) -> Vec<u8> {
        let mut theirs = flate2::write::GzEncoder::new(Vec::new(), Compression::new(level));
        std::io::Write::write_all(&mut theirs, text).unwrap();
        theirs.finish().unwrap()
    }

    /// `n` envelopes of spans the shape the writer gives them, with random
    /// ids as the SDK makes them, in traces of 5.
    fn envelopes(n: usize) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(8);
        let mut body = b"[".to_vec();
        let (mut trace, mut root) = (0, 0);
        for i in 0..n {
            if i % 5 == 0 {
                (trace, root) = (rng.u128(..), rng.u64(..));
            }
            let (span, parent) = (rng.u64(..), root);
            let (t, user) = (i / 5, i / 5 % 1000);
            body.extend_from_slice(
                format!(
                    "{}{{\"name\":\"Microsoft.ApplicationInsights.RemoteDependency\",\
                     \"time\":\"2026-11-30T11:36:25.{:06}Z\",\
                     \"iKey\":\"00000000-0000-0000-0000-000000000000\",\"sampleRate\":100.0,\
                     \"tags\":{{\"ai.cloud.role\":\"genkit-azure-bench\",\
                     \"ai.cloud.roleInstance\":\"vm\",\"ai.internal.nodeName\":\"vm\",\
                     \"ai.internal.sdkVersion\":\"genkit-azure:rust:0.1.0\",\
                     \"ai.operation.id\":\"{trace:032x}\",\"ai.operation.parentId\":\"{parent:016x}\",\
                     \"ai.operation.name\":\"POST /answer\"}},\"data\":{{\
                     \"baseType\":\"RemoteDependencyData\",\"baseData\":{{\"ver\":2,\
                     \"id\":\"{span:016x}\",\"name\":\"step {}\",\
                     \"duration\":\"0.00:00:00.{:06}\",\"resultCode\":\"0\",\"success\":true,\
                     \"type\":\"InProc\",\"properties\":{{\"genkit:name\":\"generate\",\
                     \"genkit:path\":\"/{{answer_flow,t:flow}}/{{generate,t:util}}\",\
                     \"genkit:type\":\"action\",\"genkit:state\":\"success\",\
                     \"app.request_id\":\"req-{t:08}\",\"app.user_id\":\"user-{user}\",\
                     \"app.items\":\"{}\",\"app.cached\":\"true\"}}}}}}}}",
                    if i == 0 { "" } else { "," },
                    rng.u32(..1_000_000),
                    i % 5,
                    rng.u32(..1_000),
                    t % 50,
                )
                .as_bytes(),
            );
        }
        body.push(b']');
        body
    }

    /// At every level, bodies written one after the other on kept states
    /// read back (the decoder checks the CRC-32 and the length), whatever
    /// their sizes and however they are handed over; the header is gzip's
    /// without a name or a time.
    #[test]
    fn kept_states_write_whole_members() {
        let mut rng = fastrand::Rng::with_seed(3);
        for level in 0..=9 {
            let deflaters = Deflaters::new(level);
            for size in [0usize, 1, 100, 40_000, 300_000, 5] {
                let text: Vec<u8> = (0..size)
                    .map(|_| b"abcdefgh {}\","[rng.usize(..12)])
                    .collect();
                for part in [7_000, usize::MAX] {
                    let body = ours_in(&deflaters, &text, part);
                    assert_eq!(gunzip(&body), text, "level {level}, {size} bytes");
                    assert_eq!(body[..8], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "level {level}");
                }
            }
            assert!(
                deflaters.spare.lock().unwrap().len() == 1,
                "level {level}: the state was kept"
            );
        }
    }

    /// Our level reads back, again on a kept state (which must start from
    /// nothing: the same body compresses alike); on unmarked text, where it
    /// searches every byte it does not match, it keeps up with zlib's level 2.
    #[test]
    fn our_level_reads_back_and_searches_unmarked_text() {
        let body = envelopes(1024);
        let deflaters = Deflaters::new(3);
        let first = ours(&deflaters, &body);
        let again = ours(&deflaters, &body);
        assert_eq!(gunzip(&first), body);
        assert!(first == again, "a kept state compresses alike");
        let zlibs = flate2s(2, &body).len();
        assert!(
            first.len() < zlibs,
            "{} bytes, zlib's level 2 {zlibs}",
            first.len()
        );
        let mut rng = fastrand::Rng::with_seed(5);
        let noise: Vec<u8> = (0..100_000).map(|_| rng.u8(..)).collect();
        assert_eq!(gunzip(&ours(&Deflaters::new(3), &noise)), noise);
    }

    /// A body starts with room for what the last one took (and an eighth),
    /// within 16 KB and 1 MB.
    #[test]
    fn a_body_starts_with_the_last_ones_room() {
        let deflaters = Deflaters::new(3);
        assert_eq!(deflaters.start().unwrap().out.capacity(), 16 * 1024);
        let body = envelopes(1024);
        let len = ours(&deflaters, &body).len();
        assert!(len > 16 * 1024, "{len}");
        let room = deflaters.start().unwrap().out.capacity();
        assert!(
            (len..len + len / 8 + 1).contains(&room),
            "{room} after {len}"
        );
        let mut rng = fastrand::Rng::with_seed(6);
        let noise: Vec<u8> = (0..3 << 20).map(|_| rng.u8(..)).collect();
        ours(&deflaters, &noise);
        assert_eq!(deflaters.start().unwrap().out.capacity(), 1024 * 1024);
    }

    /// A body dropped before its end gives its state up rather than keep a
    /// stream in the middle.
    #[test]
    fn an_abandoned_body_keeps_no_state() {
        let deflaters = Deflaters::new(3);
        let mut gz = deflaters.start().unwrap();
        gz.write(b"half a body").unwrap();
        drop(gz);
        assert!(deflaters.spare.lock().unwrap().is_empty());
        let mut gz = deflaters.start().unwrap();
        gz.write(b"[1,2,3]").unwrap();
        assert_eq!(gunzip(&gz.finish().unwrap()), b"[1,2,3]");
    }
}
