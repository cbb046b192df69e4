//! A request body on its way to the service: gzipped JSON array of envelopes,
//! plus the part of a batch it settles when it is finished.
//!
//! A payload is finished exactly once ([`Payload::finish`] consumes it). Its
//! [`Part`] settles the batch (see `accounting/batch.rs`): the parts one batch
//! may become (a 206's retried rest, a 413's halves, a half's halves) share
//! it, and a payload dropped unfinished while the pipeline runs (the task
//! holding it panicked) counts its part as abandoned, so a lost payload is
//! counted and never holds up `flush`.

use crate::accounting::{Fate, Part};
use bytes::Bytes;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::value::RawValue;
use std::io::{Read, Write};

#[derive(Debug)]
pub(crate) struct Payload {
    /// gzip of a JSON array of envelopes.
    pub body: Bytes,
    /// How many envelopes `body` holds; `None` for a file read back from
    /// disk, whose count is not kept. It bounds what an answer may claim.
    pub envelopes: Option<usize>,
    /// The batch this settles; `None` for a file read back from disk (its
    /// batch settled when it was written).
    part: Option<Part>,
    /// How many times this body was sent and failed transiently.
    pub attempts: u32,
}

/// The most one request may hold: the service refuses larger ones (413), so
/// a body past either limit is cut into requests within both before it is
/// ever sent or written to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestLimits {
    /// Bytes of JSON before gzip.
    pub max_bytes: usize,
    /// Envelopes in the array.
    pub max_envelopes: usize,
}

impl RequestLimits {
    /// Whether a body of `json_bytes` holding `envelopes` fits.
    pub fn fit(&self, json_bytes: usize, envelopes: usize) -> bool {
        json_bytes <= self.max_bytes && envelopes <= self.max_envelopes
    }
}

/// One request of a payload cut to fit [`RequestLimits`].
#[derive(Debug)]
pub(crate) enum Piece {
    /// Within the limits: send it.
    Fits(Payload),
    /// One envelope larger than `max_bytes` on its own: it can never be sent.
    TooLarge(Payload),
}

/// What splitting a payload in two gave.
pub(crate) enum Split {
    /// Two payloads with half the envelopes each (the first half first).
    Halves(Payload, Payload),
    /// It holds one envelope (or none): nothing to split.
    Single(Payload),
}

impl Payload {
    /// A body the writer made, holding `envelopes` envelopes, that settles `part`.
    pub fn written(body: Bytes, envelopes: usize, part: Part) -> Self {
        Self {
            body,
            envelopes: Some(envelopes),
            part: Some(part),
            attempts: 0,
        }
    }

    /// A body read back from disk: its batch settled when it was written.
    pub fn read_back(body: Bytes) -> Self {
        Self {
            body,
            envelopes: None,
            part: None,
            attempts: 0,
        }
    }

    /// Notes that some of this payload's data got as far as `fate` (a 206).
    pub fn reached(&mut self, fate: Fate, lost_some: bool) {
        if let Some(part) = &mut self.part {
            part.reached(fate, lost_some);
        }
    }

    /// Finishes this payload with `fate`. Its batch settles when this was its
    /// last open part.
    pub fn finish(mut self, fate: Fate) {
        if let Some(part) = self.part.take() {
            part.finish(fate);
        }
    }

    /// A payload with only the envelopes at `indexes` (as numbered in this
    /// body), taking over this one's place in its batch. On failure this
    /// payload comes back unchanged.
    pub fn subset(self, indexes: &[usize]) -> Result<Payload, (Payload, String)> {
        match self.regroup(|_| vec![indexes.to_vec()]) {
            Ok(mut bodies) => {
                let (body, envelopes) = bodies.pop().unwrap_or_default();
                Ok(self.with_body(body, envelopes))
            }
            Err(e) => Err((self, e)),
        }
    }

    /// Cuts the envelopes, in order, into as few requests within `limits`
    /// as it can (all parts of this one's batch); an envelope over
    /// `max_bytes` on its own becomes a [`Piece::TooLarge`] of its own. On
    /// failure (not gzip of a JSON array) this payload comes back unchanged.
    pub fn fit(self, limits: RequestLimits) -> Result<Vec<Piece>, (Payload, String)> {
        let mut alone = Vec::new();
        let groups = self.regroup(|items| {
            let mut groups: Vec<Vec<usize>> = Vec::new();
            // `[` and `]`, then each envelope and its comma.
            let mut bytes = 2;
            for (i, item) in items.iter().enumerate() {
                let size = item.get().len() + 1;
                if size + 2 > limits.max_bytes {
                    alone.push(groups.len());
                    groups.push(vec![i]);
                    // Nothing joins an envelope that cannot be sent.
                    bytes = usize::MAX;
                    continue;
                }
                match groups.last_mut() {
                    Some(g)
                        if bytes.saturating_add(size) <= limits.max_bytes
                            && g.len() < limits.max_envelopes =>
                    {
                        g.push(i);
                        bytes += size;
                    }
                    _ => {
                        groups.push(vec![i]);
                        bytes = 2 + size;
                    }
                }
            }
            groups
        });
        let mut bodies = match groups {
            Ok(bodies) => bodies.into_iter(),
            Err(e) => return Err((self, e)),
        };
        let mut pieces = Vec::with_capacity(bodies.len());
        let Some(first) = bodies.next() else {
            // No envelope at all: nothing to cut.
            return Ok(vec![Piece::Fits(self)]);
        };
        let rest: Vec<Payload> = bodies
            .map(|(body, envelopes)| Payload {
                body,
                envelopes: Some(envelopes),
                part: self.part.as_ref().map(Part::split),
                attempts: self.attempts,
            })
            .collect();
        for (n, payload) in std::iter::once(self.with_body(first.0, first.1))
            .chain(rest)
            .enumerate()
        {
            pieces.push(if alone.contains(&n) {
                Piece::TooLarge(payload)
            } else {
                Piece::Fits(payload)
            });
        }
        Ok(pieces)
    }

    /// Splits the envelopes into two halves, both parts of this one's batch.
    pub fn split(self) -> Result<Split, (Payload, String)> {
        let halves = self.regroup(|items| match items.len() {
            0 | 1 => Vec::new(),
            n => vec![(0..n / 2).collect(), (n / 2..n).collect()],
        });
        let (first, second) = match halves {
            Ok(mut h) if h.len() == 2 => {
                let second = h.pop().unwrap_or_default();
                (h.pop().unwrap_or_default(), second)
            }
            Ok(_) => return Ok(Split::Single(self)),
            Err(e) => return Err((self, e)),
        };
        let second = Payload {
            body: second.0,
            envelopes: Some(second.1),
            part: self.part.as_ref().map(Part::split),
            attempts: self.attempts,
        };
        Ok(Split::Halves(self.with_body(first.0, first.1), second))
    }

    /// This payload's place in its batch, with another body of `envelopes`.
    fn with_body(mut self, body: Bytes, envelopes: usize) -> Payload {
        Payload {
            body,
            envelopes: Some(envelopes),
            part: self.part.take(),
            attempts: self.attempts,
        }
    }

    /// New bodies and their envelope counts, one per group of indexes (as
    /// numbered in this body) that `groups` returns when shown the
    /// envelopes. Envelopes are copied verbatim, in the group's order;
    /// indexes past the end are skipped.
    fn regroup(
        &self,
        groups: impl FnOnce(&[&RawValue]) -> Vec<Vec<usize>>,
    ) -> Result<Vec<(Bytes, usize)>, String> {
        let json = gunzip(&self.body)?;
        let items: Vec<&RawValue> = serde_json::from_slice(&json)
            .map_err(|e| format!("payload is not a JSON array: {e}"))?;
        groups(&items)
            .into_iter()
            .map(|indexes| {
                let size: usize = indexes
                    .iter()
                    .filter_map(|&i| items.get(i))
                    .map(|item| item.get().len() + 1)
                    .sum();
                let mut out = Vec::with_capacity(size + 2);
                out.push(b'[');
                let mut count = 0;
                for item in indexes.iter().filter_map(|&i| items.get(i)) {
                    if count > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(item.get().as_bytes());
                    count += 1;
                }
                out.push(b']');
                Ok((gzip(&out)?.into(), count))
            })
            .collect()
    }
}

pub(crate) fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::default());
    enc.write_all(data).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

pub(crate) fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() * 4);
    GzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| format!("payload is not gzip: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::{Counters, DropReason, Ledger, Progress};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn owned(body: &[u8], items: u64) -> (Payload, Arc<Progress>, Arc<Counters>) {
        let progress = Arc::new(Progress::default());
        let counters = Arc::new(Counters::default());
        let ledger = Ledger::new(Arc::clone(&progress), Arc::clone(&counters));
        let p = Payload::written(
            gzip(body).unwrap().into(),
            items as usize,
            ledger.open(items),
        );
        (p, progress, counters)
    }

    fn settled(progress: &Progress) -> Option<bool> {
        progress.wait(0, 1, Instant::now() + Duration::from_millis(10))
    }

    #[test]
    fn subsets_keep_the_chosen_envelopes_verbatim() {
        let (p, progress, counters) = owned(br#"[{"a":1},{"b":[2,3]},{"c":"x,y"}]"#, 3);
        let s = p.subset(&[0, 2, 9]).unwrap();
        assert_eq!(gunzip(&s.body).unwrap(), br#"[{"a":1},{"c":"x,y"}]"#);
        assert_eq!(s.envelopes, Some(2), "an index past the end is not counted");
        assert_eq!(settled(&progress), None, "the subset holds the batch open");
        s.finish(Fate::Delivered);
        assert_eq!(settled(&progress), Some(true));
        assert_eq!(counters.snapshot().items_delivered, 3);
        let (back, _) = Payload::read_back(Bytes::from_static(b"nope"))
            .subset(&[0])
            .unwrap_err();
        assert_eq!(&back.body[..], b"nope", "comes back unchanged");
    }

    #[test]
    fn halves_settle_their_batch_once_when_both_are_finished() {
        let (p, progress, counters) = owned(br#"[1,2,3,4,5]"#, 5);
        let Ok(Split::Halves(a, b)) = p.split() else {
            panic!("five envelopes split")
        };
        assert_eq!(gunzip(&a.body).unwrap(), b"[1,2]");
        assert_eq!(gunzip(&b.body).unwrap(), b"[3,4,5]");
        assert_eq!((a.envelopes, b.envelopes), (Some(2), Some(3)));
        let Ok(Split::Halves(b1, b2)) = b.split() else {
            panic!("three envelopes split")
        };
        a.finish(Fate::Delivered);
        b1.finish(Fate::Delivered);
        assert_eq!(settled(&progress), None, "one part is still open");
        b2.finish(Fate::Dropped(DropReason::TooLarge));
        assert_eq!(settled(&progress), Some(false), "an envelope was lost");
        let stats = counters.snapshot();
        assert_eq!(
            (stats.items_delivered, stats.dropped_too_large),
            (5, 0),
            "items count once, under what reached furthest"
        );
        assert_eq!((stats.batches_failed, stats.batches_exported), (1, 0));
    }

    #[test]
    fn fit_cuts_in_order_within_both_limits_and_sets_a_too_large_envelope_apart() {
        // Envelopes of 7 bytes ("[1,2,3]" style numbers padded), one of 40.
        let big = format!("\"{}\"", "z".repeat(38));
        let json = format!(r#"[1111111,2222222,3333333,{big},4444444,5555555]"#);
        let (p, progress, counters) = owned(json.as_bytes(), 6);
        let limits = RequestLimits {
            max_bytes: 20,
            max_envelopes: 2,
        };
        let pieces = p.fit(limits).unwrap();
        let bodies: Vec<(bool, String)> = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Fits(p) => (true, String::from_utf8(gunzip(&p.body).unwrap()).unwrap()),
                Piece::TooLarge(p) => (false, String::from_utf8(gunzip(&p.body).unwrap()).unwrap()),
            })
            .collect();
        assert_eq!(
            bodies,
            vec![
                (true, "[1111111,2222222]".to_string()),
                (true, "[3333333]".to_string()),
                (false, format!("[{big}]")),
                (true, "[4444444,5555555]".to_string()),
            ]
        );
        assert!(bodies
            .iter()
            .filter(|(fits, _)| *fits)
            .all(|(_, b)| b.len() <= 20));
        let counts: Vec<Option<usize>> = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Fits(p) | Piece::TooLarge(p) => p.envelopes,
            })
            .collect();
        assert_eq!(counts, [Some(2), Some(1), Some(1), Some(2)]);
        for piece in pieces {
            match piece {
                Piece::Fits(p) => p.finish(Fate::Delivered),
                Piece::TooLarge(p) => p.finish(Fate::Dropped(DropReason::TooLarge)),
            }
        }
        assert_eq!(
            settled(&progress),
            Some(false),
            "settled once, something lost"
        );
        assert_eq!(counters.snapshot().items_delivered, 6);
    }

    #[test]
    fn a_single_envelope_does_not_split() {
        let (p, progress, counters) = owned(br#"[{"only":1}]"#, 1);
        let Ok(Split::Single(p)) = p.split() else {
            panic!("one envelope stays whole")
        };
        p.finish(Fate::Dropped(DropReason::TooLarge));
        assert_eq!(settled(&progress), Some(false));
        assert_eq!(counters.snapshot().dropped_too_large, 1);
    }

    #[test]
    fn a_payload_dropped_unfinished_settles_as_abandoned() {
        let (p, progress, counters) = owned(b"[1]", 4);
        drop(p);
        assert_eq!(settled(&progress), Some(false), "flush is not held up");
        assert_eq!(counters.snapshot().items_export_failed, 4);
    }
}
