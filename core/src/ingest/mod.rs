//! Ingest: where spans, logs and metric points enter the pipeline, in the
//! forms faces build them on the caller's thread (a span packed into one
//! allocation, with interned keys) before they are queued.

mod custom;
pub(crate) mod intern;
mod log_record;
mod metric_point;
mod operations;
mod packed_span;
mod sampling;
mod span_ref;

pub use custom::{AvailabilityResult, Custom, CustomEvent, TrackedException};
pub use log_record::{severity_from_number, LogRecord};
pub use metric_point::{MetricKind, MetricPoint, Summary};
pub use operations::{Operation, Operations};
pub(crate) use packed_span::unix_nanos;
pub use packed_span::{time_from_unix_nanos, PackedSpan, SpanPacker};
pub use sampling::{Sampled, Sampler};
pub(crate) use span_ref::{
    Attr, Element, EventRef, Kind, ModelReply, SpanParts, StatusCode, ValueRef,
};
