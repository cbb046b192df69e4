//! Envelopes: what each batch means in Application Insights' schema, written
//! as the gzipped JSON body of one request. Strings are cut to each field's
//! limit at a character boundary on the way.

#[cfg(feature = "bench")]
pub(crate) mod bench_support;
#[cfg(test)]
mod capture;
#[cfg(test)]
mod differential;
mod deflate;
mod export;
pub(crate) mod genkit;
#[cfg(test)]
mod golden;
mod gzip;
mod json;
mod keys;
mod last_of_key;
#[cfg(test)]
mod limits;
mod metrics;
#[cfg(test)]
mod reference;
mod resource;
mod tags;
#[cfg(test)]
pub(crate) mod test_support;
mod view;
mod writer;

pub(crate) use export::{AzureExporter, Batch};
pub(crate) use metrics::{MetricsRecorder, Recorded};
pub(crate) use view::ViewOptions;
// What Live Metrics (`crate::live`) reads a span through, so that its counters
// and documents say what the exported envelope says.
pub(crate) use json::Json;
pub(crate) use resource::{host_name, ResourceTags};
pub(crate) use tags::tag;
pub(crate) use view::{text, Item, SpanView};
