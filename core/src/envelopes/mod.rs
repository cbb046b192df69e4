//! Envelopes: what each batch means in Application Insights' schema, written
//! as the gzipped JSON body of one request. Strings are cut to each field's
//! limit at a character boundary on the way.

mod capture;
mod export;
mod limits;
mod metrics;

pub(crate) use capture::{capture, CaptureClient};
pub(crate) use export::{export_batch, AzureExporter, Batch};
pub(crate) use metrics::MetricsRecorder;
