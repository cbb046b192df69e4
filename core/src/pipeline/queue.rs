//! The ingest and spill queues, bounded twice: in items (tokio's channel,
//! `queue_capacity`) and in bytes of content (`max_queue_bytes`). A Genkit
//! span carries its prompt and the model's output, so a count alone would let
//! a burst of large responses (images as data URLs) hold gigabytes while the
//! worker is behind; past either bound the caller's item spills or is dropped
//! and counted, as it always was past the count, and the caller never waits.

use super::msg::Msg;
use super::pending::Weighed;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc::{
    self,
    error::{SendError, TrySendError},
};

/// A queue of `capacity` items and `max_bytes` bytes of content.
pub(crate) fn queue(capacity: usize, max_bytes: u64) -> (Sender, Receiver) {
    let (tx, rx) = mpsc::channel(capacity);
    let bytes = Arc::new(Bytes {
        queued: AtomicU64::new(0),
        max: max_bytes,
    });
    (
        Sender {
            tx,
            bytes: Arc::clone(&bytes),
        },
        Receiver { rx, bytes },
    )
}

/// The bytes of content queued, shared by both ends.
#[derive(Debug)]
struct Bytes {
    queued: AtomicU64,
    max: u64,
}

impl Bytes {
    /// Takes room for `n` bytes; false, taking none, when that would pass
    /// the bound. An item alone in the queue is taken whatever its size:
    /// it is in memory already, and the writer cuts its values.
    #[inline]
    fn take(&self, n: u64) -> bool {
        let queued = self.queued.fetch_add(n, Relaxed) + n;
        if queued > self.max && queued > n {
            self.give_back(n);
            return false;
        }
        true
    }

    #[inline]
    fn give_back(&self, n: u64) {
        self.queued.fetch_sub(n, Relaxed);
    }
}

/// What a message holds for the byte bound: a span's packed bytes (its
/// length is in the handle: the span's own bytes are not touched), a
/// record's content as a batch weighs it; markers nothing.
#[inline]
fn size(msg: &Msg) -> u64 {
    let n = match msg {
        Msg::Span(span) => span.heap_bytes(),
        Msg::Log(log) => log.weight(),
        Msg::Custom(custom) => custom.weight(),
        Msg::Metric(point) => point.weight(),
        Msg::MetricsCollected | Msg::ProducerJoined | Msg::Flush(_) | Msg::Shutdown(_) => 0,
    };
    n as u64
}

#[derive(Debug, Clone)]
pub(crate) struct Sender {
    tx: mpsc::Sender<Msg>,
    bytes: Arc<Bytes>,
}

impl Sender {
    /// Queues `msg` without waiting: `Full` (giving it back) when either
    /// bound is reached, `Closed` once the consumer closed the queue.
    #[inline]
    pub fn try_send(&self, msg: Msg) -> Result<(), TrySendError<Msg>> {
        let n = size(&msg);
        if !self.bytes.take(n) {
            return Err(TrySendError::Full(msg));
        }
        self.tx
            .try_send(msg)
            .inspect_err(|_| self.bytes.give_back(n))
    }

    /// Queues a control marker, waiting for room in items: a marker holds
    /// no content, so the byte bound never refuses it.
    pub async fn send_marker(&self, marker: Msg) -> Result<(), SendError<Msg>> {
        debug_assert_eq!(size(&marker), 0, "a marker, not an item");
        self.tx.send(marker).await
    }

    /// Content bytes queued now (tests).
    #[cfg(test)]
    pub fn queued_bytes(&self) -> u64 {
        self.bytes.queued.load(Relaxed)
    }
}

#[derive(Debug)]
pub(crate) struct Receiver {
    rx: mpsc::Receiver<Msg>,
    bytes: Arc<Bytes>,
}

impl Receiver {
    /// The next message, waiting for one; `None` once every sender is gone
    /// or the queue is closed and empty. Cancel-safe, as tokio's `recv`: the
    /// room is given back in the same poll that takes the message.
    #[inline]
    pub async fn recv(&mut self) -> Option<Msg> {
        let msg = self.rx.recv().await?;
        Some(self.taken(msg))
    }

    /// The next message if one is queued now.
    #[inline]
    pub fn try_recv(&mut self) -> Option<Msg> {
        let msg = self.rx.try_recv().ok()?;
        Some(self.taken(msg))
    }

    /// The next item left in a queue this consumer closed, or `None` once
    /// none is left or `deadline` passed. `recv`, not `try_recv`: a push
    /// that took its place before the close may not have put its item in
    /// yet, and `try_recv` would call the queue empty while that item
    /// (already counted as accepted) is on its way; `recv` waits for every
    /// such push.
    pub async fn left_after_close(&mut self, deadline: Instant) -> Option<Msg> {
        tokio::time::timeout_at(deadline.into(), self.recv())
            .await
            .ok()
            .flatten()
    }

    pub fn close(&mut self) {
        self.rx.close();
    }

    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    #[inline]
    fn taken(&self, msg: Msg) -> Msg {
        self.bytes.give_back(size(&msg));
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::LogRecord;
    use opentelemetry::logs::Severity;

    fn log(body_bytes: usize) -> Msg {
        let record = LogRecord::new(Severity::Info, "x".repeat(body_bytes));
        Msg::Log(Box::new(record))
    }

    /// Past its bytes the queue refuses, with room in items; what the
    /// consumer takes gives the room back.
    #[tokio::test]
    async fn bounded_in_bytes_as_in_items() {
        let (tx, mut rx) = queue(100, 10_000);
        let each = size(&log(3_000));
        for _ in 0..3 {
            tx.try_send(log(3_000)).unwrap();
        }
        assert_eq!(tx.queued_bytes(), 3 * each);
        assert!(matches!(
            tx.try_send(log(3_000)),
            Err(TrySendError::Full(_))
        ));
        assert_eq!(tx.queued_bytes(), 3 * each, "a refusal takes no room");
        assert!(tx.try_send(log(10)).is_ok(), "a small one still fits");
        rx.recv().await.unwrap();
        assert!(tx.try_send(log(3_000)).is_ok(), "room given back");
        while rx.try_recv().is_some() {}
        assert_eq!(tx.queued_bytes(), 0);
    }

    /// An item larger than the whole bound goes through when nothing else
    /// is queued, and only then.
    #[tokio::test]
    async fn one_item_past_the_bound_passes_alone() {
        let (tx, mut rx) = queue(100, 10_000);
        tx.try_send(log(50_000)).unwrap();
        assert!(matches!(tx.try_send(log(10)), Err(TrySendError::Full(_))));
        rx.recv().await.unwrap();
        tx.try_send(log(10)).unwrap();
        assert!(matches!(
            tx.try_send(log(50_000)),
            Err(TrySendError::Full(_))
        ));
    }

    /// The count bound still holds, and a refusal by count gives its bytes
    /// back.
    #[tokio::test]
    async fn bounded_in_items_too() {
        let (tx, _rx) = queue(2, u64::MAX);
        tx.try_send(log(1)).unwrap();
        tx.try_send(log(1)).unwrap();
        let before = tx.queued_bytes();
        assert!(matches!(tx.try_send(log(1)), Err(TrySendError::Full(_))));
        assert_eq!(tx.queued_bytes(), before);
    }
}
