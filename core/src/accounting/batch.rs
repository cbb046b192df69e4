//! A batch as flush accounting knows it: an id and how many items it holds.

/// Which batch a payload belongs to, for `flush` accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchRef {
    pub id: u64,
    /// Spans or logs in the batch (not envelopes).
    pub items: u64,
}
