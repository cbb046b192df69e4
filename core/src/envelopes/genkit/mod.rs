//! Genkit semantics: what a span Genkit made means (a flow, a model call, a
//! tool step), read from its `genkit:*` attributes, so that C and Rust hosts
//! emitting the same attributes get the same envelopes and metrics as Python.
//! Facts: `shared/notes/genkit.md`.

mod model;
mod path;
mod span;

pub(crate) use model::{provider, ModelOutput, Usage};
pub(crate) use path::{display_path, feature_name, root_name};
pub(crate) use span::{GenkitSpan, Role};
