//! Items gathering into a batch. A batch closes at `max_items` or at
//! `max_bytes` of content, whichever comes first: Genkit spans carry prompts
//! and model output, so a count alone would let a batch (and the memory it
//! holds while it gathers and while it is mapped) grow with the payloads.

use super::msg::Msg;
use crate::envelopes::Batch;
use crate::ingest::{Custom, LogRecord, MetricPoint, PackedSpan};
use opentelemetry::{KeyValue, Value};
use std::mem;

/// When a gathering batch is full.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchLimits {
    pub max_items: usize,
    pub max_bytes: usize,
}

/// Something with a size worth counting against `max_bytes`.
pub(crate) trait Weighed {
    /// About the bytes of content it holds.
    fn weight(&self) -> usize;
}

impl Weighed for PackedSpan {
    fn weight(&self) -> usize {
        // A `Config[...]` record it carries weighs what it would as a log
        // record of its own (its text and seven short attributes).
        self.heap_bytes()
            + if self.has_config_log() {
                CONFIG_LOG_WEIGHT
            } else {
                0
            }
    }
}

/// About what a model call's `Config[...]` log record weighs as a
/// [`LogRecord`]: the 64 below, a 60-byte text, 180 bytes of attributes.
const CONFIG_LOG_WEIGHT: usize = 300;

fn attributes_weight(attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| {
            kv.key.as_str().len()
                + match &kv.value {
                    Value::String(s) => s.as_str().len(),
                    _ => 8,
                }
        })
        .sum()
}

impl Weighed for LogRecord {
    fn weight(&self) -> usize {
        64 + self.body.len() + attributes_weight(&self.attributes)
    }
}

impl Weighed for Custom {
    fn weight(&self) -> usize {
        64 + self.text_bytes() + attributes_weight(self.properties())
    }
}

impl Weighed for MetricPoint {
    fn weight(&self) -> usize {
        64 + self.name.len() + attributes_weight(&self.attributes)
    }
}

impl<T: Weighed> Weighed for Box<T> {
    fn weight(&self) -> usize {
        (**self).weight()
    }
}

#[derive(Debug)]
pub(crate) struct Pending<T> {
    items: Vec<T>,
    bytes: usize,
    limits: BatchLimits,
}

impl<T: Weighed> Pending<T> {
    pub fn new(limits: BatchLimits) -> Self {
        Self {
            items: Vec::new(),
            bytes: 0,
            limits,
        }
    }

    /// Adds an item; true when the batch is now full.
    pub fn push(&mut self, item: T) -> bool {
        self.bytes += item.weight();
        self.items.push(item);
        self.items.len() >= self.limits.max_items || self.bytes >= self.limits.max_bytes
    }

    /// The gathered items, leaving this empty, with room for as many as
    /// they were: the next batch is likely as long, and growing a vector by
    /// doubling copies it and touches fresh pages at every step.
    pub fn take(&mut self) -> Vec<T> {
        self.bytes = 0;
        let room = Vec::with_capacity(self.items.len());
        mem::replace(&mut self.items, room)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Spans, logs and custom telemetry gathering at once, each kind into
/// batches of its own (one request body holds one kind). Logs and custom
/// items stay in the boxes they were queued in: a batch of 1,024 records
/// held by value would be a 160 KB vector, which the allocator maps afresh
/// (and the kernel zeroes) for every batch.
#[derive(Debug)]
pub(crate) struct Gathering {
    spans: Pending<PackedSpan>,
    logs: Pending<Box<LogRecord>>,
    custom: Pending<Box<Custom>>,
}

impl Gathering {
    pub fn new(limits: BatchLimits) -> Self {
        Self {
            spans: Pending::new(limits),
            logs: Pending::new(limits),
            custom: Pending::new(limits),
        }
    }

    /// Adds the item a message carries: `Ok` with the batch it filled, if
    /// any; `Err` gives back a message that carries no item (a marker, a
    /// metric point).
    pub fn push(&mut self, msg: Msg) -> Result<Option<Batch>, Msg> {
        Ok(match msg {
            Msg::Span(s) => self.spans.push(s).then(|| Batch::Spans(self.spans.take())),
            Msg::Log(l) => self.logs.push(l).then(|| Batch::Logs(self.logs.take())),
            Msg::Custom(c) => self
                .custom
                .push(c)
                .then(|| Batch::Custom(self.custom.take())),
            other => return Err(other),
        })
    }

    /// Every batch that has items, leaving this empty.
    pub fn take_all(&mut self) -> Vec<Batch> {
        let mut out = Vec::new();
        if !self.spans.is_empty() {
            out.push(Batch::Spans(self.spans.take()));
        }
        if !self.logs.is_empty() {
            out.push(Batch::Logs(self.logs.take()));
        }
        if !self.custom.is_empty() {
            out.push(Batch::Custom(self.custom.take()));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty() && self.logs.is_empty() && self.custom.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::logs::Severity;

    #[test]
    fn a_batch_closes_at_the_count_or_the_bytes_whichever_first() {
        let mut by_count = Pending::new(BatchLimits {
            max_items: 3,
            max_bytes: 1 << 20,
        });
        assert!(!by_count.push(LogRecord::new(Severity::Info, "a")));
        assert!(!by_count.push(LogRecord::new(Severity::Info, "b")));
        assert!(by_count.push(LogRecord::new(Severity::Info, "c")));
        assert_eq!(by_count.take().len(), 3);
        assert!(by_count.is_empty());

        let mut by_bytes = Pending::new(BatchLimits {
            max_items: 1000,
            max_bytes: 2_000,
        });
        assert!(!by_bytes.push(LogRecord::new(Severity::Info, "x".repeat(900))));
        assert!(by_bytes.push(LogRecord::new(Severity::Info, "y".repeat(1_100))));
        assert_eq!(by_bytes.take().len(), 2);
        // The count of bytes starts again with the next batch.
        assert!(!by_bytes.push(LogRecord::new(Severity::Info, "z".repeat(900))));
    }
}
