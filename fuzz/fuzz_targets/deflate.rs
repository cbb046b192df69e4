//! Fuzz target: core's own DEFLATE encoder (`envelopes/deflate`), which
//! every request body goes through. A body it gets wrong is a batch the
//! service rejects, so whatever the text (runs, repeats at every distance
//! up to the window and past it, matches of the longest length, binary),
//! whatever marks the writer puts in it and however it hands the text over
//! (parts of any size, with any history up to what the encoder asks for),
//! each body must read back byte for byte, CRC-32 and length checked, on
//! its own: none refers back into the body before it, also where stream
//! positions start again.
#![no_main]

#[allow(dead_code)] // the keys and the body check are the attributes target's
mod common;

use arbitrary::Arbitrary;
use genkit_azure::bench_support::MarkedDeflate;
use libfuzzer_sys::fuzz_target;

/// A body is cut at this many bytes: more than a block's worth of symbols
/// (24 K) and than the window (32 KB), so that blocks end inside a body and
/// repeats reach across the whole window; small enough for many inputs a
/// second (every compare the matcher makes is traced).
const MAX_BODY: usize = 40 * 1024;

#[derive(Arbitrary, Debug)]
enum Piece {
    /// Bytes as they are.
    Bytes(Vec<u8>),
    /// `len` pseudo-random bytes drawn from the first `alphabet` + 1 byte
    /// values: long text unlike anything before it (16 is an id's hex), so
    /// that a repeat of it is found only where it was copied from.
    Noise { seed: u64, len: u16, alphabet: u8 },
    /// `len` bytes copied from `back` before, one at a time (so a short
    /// distance repeats itself): matches at every distance, at the window's
    /// edge and past it, and longer than the longest match.
    Repeat { back: Back, len: u16 },
    /// One byte again and again.
    Run { byte: u8, len: u16 },
    /// A piece of fixed text, marked as the writer marks one.
    Template(u8),
}

#[derive(Arbitrary, Debug)]
enum Back {
    Near(u16),
    /// The window's size (32 KB), give or take 128.
    WindowEdge(i8),
}

impl Back {
    fn bytes(&self) -> usize {
        match self {
            Back::Near(b) => *b as usize + 1,
            Back::WindowEdge(d) => (MarkedDeflate::HISTORY as isize + *d as isize) as usize,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Key {
    Text,
    Id,
    Template(u8),
    Any(u32),
}

#[derive(Arbitrary, Debug)]
struct Marked {
    piece: Piece,
    /// A mark where the piece starts.
    mark: Option<Key>,
}

/// How a body's text is handed over: the size of each part (the last one
/// takes the rest) and how much of the text before it each part gets.
#[derive(Arbitrary, Debug)]
struct Part {
    len: u16,
    history: u16,
}

#[derive(Arbitrary, Debug)]
struct Body {
    pieces: Vec<Marked>,
    parts: Vec<Part>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// Start this many positions before the point where positions start
    /// again (about 2^31), rather than at 1.
    near_the_limit: Option<u32>,
    bodies: Vec<Body>,
}

/// Fixed text as the writer's: the same piece always has the same key.
const TEMPLATES: [&str; 6] = [
    "{\"name\":\"Microsoft.ApplicationInsights.RemoteDependency\",\"time\":",
    ",\"tags\":{\"ai.operation.id\":\"",
    "\",\"ai.operation.parentId\":\"",
    "\"},\"data\":{\"baseType\":\"RemoteDependencyData\",\"baseData\":{\"ver\":2,\"id\":\"",
    ",\"properties\":{",
    "}}},",
];

fn key(key: &Key) -> u32 {
    match key {
        Key::Text => MarkedDeflate::TEXT,
        Key::Id => MarkedDeflate::ID,
        Key::Template(i) => {
            MarkedDeflate::template_key(TEMPLATES[*i as usize % TEMPLATES.len()].as_bytes())
        }
        Key::Any(k) => *k,
    }
}

/// The body's text and its marks (ascending positions, several at one
/// position allowed, as an empty piece gives).
fn text(body: &Body) -> (Vec<u8>, Vec<(usize, u32)>) {
    let (mut text, mut marks) = (Vec::new(), Vec::new());
    for marked in &body.pieces {
        if text.len() >= MAX_BODY {
            break;
        }
        if let Some(k) = &marked.mark {
            marks.push((text.len(), key(k)));
        }
        match &marked.piece {
            Piece::Bytes(b) => text.extend_from_slice(b),
            Piece::Noise {
                seed,
                len,
                alphabet,
            } => {
                // splitmix64
                let mut x = *seed;
                text.extend((0..*len).map(|_| {
                    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = x;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    ((z ^ (z >> 31)) % (*alphabet as u64 + 1)) as u8
                }));
            }
            Piece::Repeat { back, len } => {
                let back = back.bytes();
                if back <= text.len() {
                    for _ in 0..*len {
                        text.push(text[text.len() - back]);
                    }
                }
            }
            Piece::Run { byte, len } => text.extend(std::iter::repeat_n(*byte, *len as usize)),
            Piece::Template(i) => {
                let piece = TEMPLATES[*i as usize % TEMPLATES.len()].as_bytes();
                marks.push((text.len(), MarkedDeflate::template_key(piece)));
                text.extend_from_slice(piece);
            }
        }
    }
    text.truncate(MAX_BODY);
    marks.retain(|&(at, _)| at <= text.len());
    (text, marks)
}

fuzz_target!(|input: Input| {
    let mut deflate = match input.near_the_limit {
        Some(before) => {
            MarkedDeflate::at_position((u32::MAX / 2).saturating_sub(before % (1 << 20)))
        }
        None => MarkedDeflate::default(),
    };
    for body in input.bodies.iter().take(4) {
        let (text, marks) = text(body);
        let mut out = Vec::new();
        deflate.begin(&mut out);
        let mut parts = body.parts.iter();
        let mut start = 0;
        while start < text.len() {
            let (len, history) = parts.next().map_or((usize::MAX, usize::MAX), |p| {
                (p.len as usize + 1, p.history as usize)
            });
            let end = start.saturating_add(len).min(text.len());
            let from = history.min(start).min(MarkedDeflate::HISTORY);
            let window = &text[start - from..end];
            // The marks in the part and in the text before it.
            let first = marks.partition_point(|&(at, _)| at < start - from);
            let last = marks.partition_point(|&(at, _)| at <= end);
            let ours: Vec<(usize, u32)> = marks[first..last]
                .iter()
                .map(|&(at, k)| (at - (start - from), k))
                .collect();
            deflate.write(window, from, &ours, &mut out);
            start = end;
        }
        deflate.finish(&mut out);
        assert!(
            common::gunzip(&out) == text,
            "a body of {} bytes did not read back",
            text.len()
        );
    }
});
