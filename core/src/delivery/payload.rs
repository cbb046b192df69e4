//! A request body on its way to the service: gzipped JSON array of envelopes,
//! plus the batch it settles when it is finished.
//!
//! A payload is finished exactly once ([`Payload::finish`] consumes it). The
//! parts one batch may become (a 206's retried rest, a 413's halves, a half's
//! halves) share one [`Owner`]: the batch settles when its last open part is
//! finished, with the fate that reached furthest (see [`Fate`]). A payload
//! dropped unfinished while the pipeline runs (the task holding it panicked)
//! settles its part as abandoned, so a lost payload is counted and never
//! holds up `flush`.

use crate::accounting::{BatchRef, Counters, DropReason, Fate, Progress};
use bytes::Bytes;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::value::RawValue;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub(crate) struct Payload {
    /// gzip of a JSON array of envelopes.
    pub body: Bytes,
    batch: Batch,
    /// The furthest this part's own data got so far (`Delivered` once a 206
    /// accepted some of it).
    reached: Option<Fate>,
    /// Some envelope of this part was already lost (rejected or dropped).
    lossy: bool,
    /// How many times this body was sent and failed transiently.
    pub attempts: u32,
}

/// Which batch a payload settles.
#[derive(Debug)]
enum Batch {
    /// Nothing to settle: a file read back from disk (its batch settled when
    /// it was written), or a metric body without a flush waiting for it.
    None,
    /// Fresh from an export; delivery adopts it before the first attempt.
    Fresh(BatchRef),
    /// Adopted: settled through the owner its parts share.
    Owned(Arc<Owner>),
}

/// The batch behind one or more payload parts.
#[derive(Debug)]
pub(crate) struct Owner {
    batch: BatchRef,
    progress: Arc<Progress>,
    counters: Arc<Counters>,
    /// Set when shutdown starts: from then on a payload dropped unfinished
    /// is being stopped with the runtime, and shutdown counts it.
    stopping: Arc<AtomicBool>,
    state: Mutex<OwnerState>,
}

#[derive(Debug)]
struct OwnerState {
    /// Parts not finished yet.
    open: u32,
    fate: Option<Fate>,
    lossy: bool,
}

/// What splitting a payload in two gave.
pub(crate) enum Split {
    /// Two payloads with half the envelopes each (the first half first).
    Halves(Payload, Payload),
    /// It holds one envelope (or none): nothing to split.
    Single(Payload),
}

impl Payload {
    pub fn new(body: Bytes, batch: Option<BatchRef>) -> Self {
        Self {
            body,
            batch: batch.map_or(Batch::None, Batch::Fresh),
            reached: None,
            lossy: false,
            attempts: 0,
        }
    }

    /// Makes the payload settle its batch through `progress` when finished.
    /// `stopping` tells a drop at shutdown from a drop by a panic.
    pub fn adopt(
        &mut self,
        progress: &Arc<Progress>,
        counters: &Arc<Counters>,
        stopping: &Arc<AtomicBool>,
    ) {
        if let Batch::Fresh(batch) = self.batch {
            self.batch = Batch::Owned(Arc::new(Owner {
                batch,
                progress: Arc::clone(progress),
                counters: Arc::clone(counters),
                stopping: Arc::clone(stopping),
                state: Mutex::new(OwnerState {
                    open: 1,
                    fate: None,
                    lossy: false,
                }),
            }));
        }
    }

    /// Notes that the service accepted some of this part's data (a 206).
    pub fn reached(&mut self, fate: Fate, lost_some: bool) {
        self.reached = self.reached.max(Some(fate));
        self.lossy |= lost_some;
    }

    /// Finishes this part with `fate`. Its batch settles when this was the
    /// last open part.
    pub fn finish(mut self, fate: Fate) {
        self.reached(fate, fate.is_loss());
        self.close();
    }

    /// Settles this part through its owner (once: the batch is taken out).
    fn close(&mut self) {
        let Batch::Owned(owner) = std::mem::replace(&mut self.batch, Batch::None) else {
            return;
        };
        let fate = self.reached.unwrap_or(Fate::Dropped(DropReason::Abandoned));
        let mut state = owner.state.lock().unwrap_or_else(|p| p.into_inner());
        state.fate = state.fate.max(Some(fate));
        state.lossy |= self.lossy;
        state.open = state.open.saturating_sub(1);
        if state.open > 0 {
            return;
        }
        let (fate, lossy) = (state.fate.unwrap_or(fate), state.lossy);
        drop(state);
        owner
            .progress
            .settle_as(&owner.counters, owner.batch, fate, lossy);
    }

    /// A payload with only the envelopes at `indexes` (as numbered in this
    /// body), taking over this one's place in its batch. On failure this
    /// payload comes back unchanged.
    pub fn subset(self, indexes: &[usize]) -> Result<Payload, (Payload, String)> {
        match self.regroup(|_| vec![indexes.to_vec()]) {
            Ok(mut bodies) => {
                let body = bodies.pop().unwrap_or_default();
                Ok(self.with_body(body))
            }
            Err(e) => Err((self, e)),
        }
    }

    /// Splits the envelopes into two halves, both parts of this one's batch
    /// (which must be adopted: only delivery splits).
    pub fn split(self) -> Result<Split, (Payload, String)> {
        let halves = self.regroup(|n| match n {
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
            body: second,
            batch: match &self.batch {
                Batch::Owned(owner) => {
                    owner.state.lock().unwrap_or_else(|p| p.into_inner()).open += 1;
                    Batch::Owned(Arc::clone(owner))
                }
                Batch::Fresh(_) | Batch::None => Batch::None,
            },
            reached: self.reached,
            lossy: self.lossy,
            attempts: self.attempts,
        };
        Ok(Split::Halves(self.with_body(first), second))
    }

    /// This payload's place in its batch, with another body.
    fn with_body(mut self, body: Bytes) -> Payload {
        Payload {
            body,
            batch: std::mem::replace(&mut self.batch, Batch::None),
            reached: self.reached,
            lossy: self.lossy,
            attempts: self.attempts,
        }
    }

    /// New bodies, one per group of indexes (as numbered in this body) that
    /// `groups` returns when told how many envelopes there are. Envelopes
    /// are copied verbatim, in the group's order; indexes past the end are
    /// skipped.
    fn regroup(&self, groups: impl FnOnce(usize) -> Vec<Vec<usize>>) -> Result<Vec<Bytes>, String> {
        let json = gunzip(&self.body)?;
        let items: Vec<&RawValue> = serde_json::from_slice(&json)
            .map_err(|e| format!("payload is not a JSON array: {e}"))?;
        groups(items.len())
            .into_iter()
            .map(|indexes| {
                let mut out = Vec::with_capacity(json.len());
                out.push(b'[');
                for (n, item) in indexes.iter().filter_map(|&i| items.get(i)).enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(item.get().as_bytes());
                }
                out.push(b']');
                Ok(gzip(&out)?.into())
            })
            .collect()
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        let Batch::Owned(owner) = &self.batch else {
            return;
        };
        // At shutdown the runtime drops what is still in flight; shutdown
        // counts those items itself (`dropped_shut_down`).
        if owner.stopping.load(Relaxed) {
            return;
        }
        // Otherwise nothing finished it: the task holding it panicked.
        self.reached(Fate::Dropped(DropReason::Abandoned), true);
        self.close();
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
    use std::time::{Duration, Instant};

    fn owned(body: &[u8], items: u64) -> (Payload, Arc<Progress>, Arc<Counters>) {
        let progress = Arc::new(Progress::default());
        let counters = Arc::new(Counters::default());
        let batch = BatchRef {
            id: progress.allocate(),
            items,
        };
        let mut p = Payload::new(gzip(body).unwrap().into(), Some(batch));
        p.adopt(&progress, &counters, &Arc::new(AtomicBool::new(false)));
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
        assert_eq!(settled(&progress), None, "the subset holds the batch open");
        s.finish(Fate::Delivered);
        assert_eq!(settled(&progress), Some(true));
        assert_eq!(counters.snapshot().items_delivered, 3);
        let (back, _) = Payload::new(Bytes::from_static(b"nope"), None)
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
    fn a_payload_dropped_unfinished_settles_as_abandoned_unless_stopping() {
        let (p, progress, counters) = owned(b"[1]", 4);
        drop(p);
        assert_eq!(settled(&progress), Some(false), "flush is not held up");
        assert_eq!(counters.snapshot().items_export_failed, 4);

        let progress = Arc::new(Progress::default());
        let counters = Arc::new(Counters::default());
        let batch = BatchRef {
            id: progress.allocate(),
            items: 2,
        };
        let mut p = Payload::new(gzip(b"[1]").unwrap().into(), Some(batch));
        let stopping = Arc::new(AtomicBool::new(true));
        p.adopt(&progress, &counters, &stopping);
        drop(p);
        assert_eq!(settled(&progress), None, "shutdown counts it instead");
        assert_eq!(counters.snapshot().items_export_failed, 0);
    }
}
