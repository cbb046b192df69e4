//! Genkit semantics: what a span Genkit made means (a flow, a model call, a
//! tool step), read from its `genkit:*` attributes, so that C and Rust hosts
//! emitting the same attributes get the same envelopes and metrics as Python.
//! Facts: `shared/notes/genkit.md`.
//!
//! Besides the envelope of the span itself, a Genkit span yields derived
//! telemetry, as the Google Cloud plugin derives it: metrics (`metrics.rs`)
//! and logs (`logs.rs`), both from the span's facts (`facts.rs`). The worker
//! derives them, in the order spans end (`pipeline/enrich.rs`).

mod facts;
mod lenient;
pub(crate) mod logs;
pub(crate) mod messages;
pub(crate) mod metrics;
mod model;
mod path;
mod reply;
mod span;

pub(crate) use facts::SpanFacts;
pub(crate) use metrics::Source;
pub(crate) use model::{genai_finish_reason, provider, ModelOutput};
pub(crate) use path::{display_path, feature_name, root_name, AgentFlows};
pub(crate) use span::{GenkitKey, GenkitSpan, Role};
