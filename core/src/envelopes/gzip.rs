//! The gzip of a request body, written with deflate states kept between
//! bodies: a fresh state is about 300 KB allocated and zeroed per body, which
//! cost as much per span as the JSON of a small batch's envelopes.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::sync::Mutex;

/// Deflate states at one level, waiting for the next body. Bodies are written
/// one at a time on each export task, so a couple of states cover them all.
#[derive(Debug)]
pub(crate) struct Deflaters {
    level: Compression,
    spare: Mutex<Vec<Compress>>,
}

/// States kept beyond this many are dropped (each is a few hundred KB).
const KEEP: usize = 2;

impl Deflaters {
    pub fn new(level: Compression) -> Self {
        Self {
            level,
            spare: Mutex::new(Vec::new()),
        }
    }

    /// A gzip member being written, with a kept state when there is one.
    pub fn start(&self) -> Gzip<'_> {
        let kept = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let deflate = kept.unwrap_or_else(|| Compress::new(self.level, false));
        let mut out = Vec::with_capacity(16 * 1024);
        out.extend_from_slice(&header(self.level));
        Gzip {
            owner: self,
            deflate: Some(deflate),
            crc: Crc::new(),
            out,
        }
    }

    fn keep(&self, mut deflate: Compress) {
        deflate.reset();
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() < KEEP {
            spare.push(deflate);
        }
    }
}

/// One gzip member (RFC 1952): header, raw deflate, CRC-32 and length.
pub(crate) struct Gzip<'a> {
    owner: &'a Deflaters,
    /// Taken back by `finish`; a body abandoned half-way drops its state, so
    /// a kept state never holds another body's unfinished stream.
    deflate: Option<Compress>,
    crc: Crc,
    out: Vec<u8>,
}

impl Gzip<'_> {
    /// Compresses `input` into the body.
    pub fn write(&mut self, input: &[u8]) -> std::io::Result<()> {
        self.crc.update(input);
        self.run(input, FlushCompress::None).map(|_| ())
    }

    /// Ends the stream and returns the whole member.
    pub fn finish(mut self) -> std::io::Result<Vec<u8>> {
        // `run` returns from a finish only at the stream's end (or an error).
        self.run(&[], FlushCompress::Finish)?;
        let mut out = std::mem::take(&mut self.out);
        out.extend_from_slice(&self.crc.sum().to_le_bytes());
        out.extend_from_slice(&self.crc.amount().to_le_bytes());
        if let Some(deflate) = self.deflate.take() {
            self.owner.keep(deflate);
        }
        Ok(out)
    }

    /// Feeds all of `input`, growing the output as the compressor asks.
    /// A call that takes nothing in and gives nothing out is an error, not
    /// a loop: a body is never left half-written by a spinning thread.
    fn run(&mut self, mut input: &[u8], flush: FlushCompress) -> std::io::Result<Status> {
        let deflate = self.deflate.as_mut().expect("present until finish");
        loop {
            if self.out.capacity() - self.out.len() < 1024 {
                self.out.reserve(self.out.capacity().max(16 * 1024));
            }
            let (before_in, before_out) = (deflate.total_in(), deflate.total_out());
            let status = deflate
                .compress_vec(input, &mut self.out, flush)
                .map_err(std::io::Error::other)?;
            input = &input[(deflate.total_in() - before_in) as usize..];
            let room_left = self.out.len() < self.out.capacity();
            match status {
                Status::StreamEnd => return Ok(status),
                // All taken in and the compressor did not fill the output:
                // nothing is pending for this call.
                _ if input.is_empty() && room_left && flush != FlushCompress::Finish => {
                    return Ok(status)
                }
                _ if (deflate.total_in(), deflate.total_out()) == (before_in, before_out) => {
                    return Err(std::io::Error::other(
                        "gzip: the compressor made no progress",
                    ));
                }
                _ => {}
            }
        }
    }
}

/// The member header: no name, no time, the level's hint, OS unknown.
fn header(level: Compression) -> [u8; 10] {
    let xfl = match level.level() {
        9 => 2,
        0 | 1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(body).read_to_end(&mut out).expect("gzip");
        out
    }

    /// Bodies written one after the other on kept states read back exactly,
    /// whatever their sizes, byte for byte what flate2's own encoder writes.
    #[test]
    fn kept_states_write_whole_members() {
        let deflaters = Deflaters::new(Compression::new(3));
        let mut rng = fastrand::Rng::with_seed(3);
        for size in [0usize, 1, 100, 40_000, 300_000, 5] {
            let text: Vec<u8> = (0..size)
                .map(|_| b"abcdefgh {}\","[rng.usize(..12)])
                .collect();
            let mut gz = deflaters.start();
            for part in text.chunks(7_000) {
                gz.write(part).unwrap();
            }
            let body = gz.finish().unwrap();
            assert_eq!(gunzip(&body), text, "{size} bytes");
            let mut theirs = flate2::write::GzEncoder::new(Vec::new(), Compression::new(3));
            std::io::Write::write_all(&mut theirs, &text).unwrap();
            assert!(
                body == theirs.finish().unwrap(),
                "{size} bytes: not flate2's member"
            );
        }
        assert!(
            deflaters.spare.lock().unwrap().len() == 1,
            "the state was kept"
        );
    }

    /// A body dropped before its end gives its state up rather than keep a
    /// stream in the middle.
    #[test]
    fn an_abandoned_body_keeps_no_state() {
        let deflaters = Deflaters::new(Compression::new(3));
        let mut gz = deflaters.start();
        gz.write(b"half a body").unwrap();
        drop(gz);
        assert!(deflaters.spare.lock().unwrap().is_empty());
        let mut gz = deflaters.start();
        gz.write(b"[1,2,3]").unwrap();
        assert_eq!(gunzip(&gz.finish().unwrap()), b"[1,2,3]");
    }
}
