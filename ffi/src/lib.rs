//! The C ABI of genkit-azure: Azure Monitor (Application Insights) telemetry
//! for Genkit apps, for programs written in C or anything that speaks C.
//!
//! One crate holds the whole C surface; `include/genkit_azure.h` is generated
//! from it by cbindgen (`make header`) and committed. Each C type mirrors one
//! Rust concept, one per module:
//!
//! - [`status`] - `genkit_azure_status`, `genkit_azure_last_error`, `genkit_azure_status_name`
//! - `boundary` - the panic boundary and the checks on everything C passes in
//! - [`config`] - `genkit_azure_config`
//! - [`auth`] - `genkit_azure_token_callback`, Microsoft Entra ID tokens from C
//! - [`handle`] - `genkit_azure_handle` and its lifecycle (new, flush, shutdown, free,
//!   after fork)
//! - [`attribute`] - `genkit_azure_attribute`
//! - [`span`] - `genkit_azure_span`, `genkit_azure_event`, `genkit_azure_export_span`
//! - [`log`] - `genkit_azure_log_record`, `genkit_azure_emit_log`
//! - [`operation`] - `genkit_azure_span_start`, `genkit_azure_span_started`
//! - `trace_context` - the `trace_id` / `span_id` pair logs and custom items carry
//! - [`custom`] - `genkit_azure_custom_event`, `genkit_azure_exception`,
//!   `genkit_azure_availability` and their `genkit_azure_track_*` functions
//! - [`metric`] - `genkit_azure_metric_kind`, `genkit_azure_record_metric`
//! - [`diagnostics`] - `genkit_azure_set_diagnostic_callback`: diagnostics to C, not stderr
//! - `growable` - `struct_size`: how the structs C passes grow; [`v0`] - the layouts from before it
//! - [`stats`] - `genkit_azure_stats`, `genkit_azure_get_stats`
//! - [`version`] - `genkit_azure_version`
//!
//! Rules every exported function follows: it runs inside a panic boundary
//! (`boundary::boundary`), returns a `genkit_azure_status`, leaves a message
//! saying what and where in `genkit_azure_last_error()` when it fails, reads
//! enum fields as plain integers and checks them, and copies whatever it
//! keeps, so no C memory is referenced after a call returns (the one
//! exception, `token_user_data`, is kept for the token callback until
//! `genkit_azure_free`, which waits for the callback's last call).

// The exported types keep their C names (`genkit_azure_span`, not
// `GenkitAzureSpan`) so the header, the C programs and this crate all use
// the same words.
#![allow(non_camel_case_types)]
// Every unsafe operation gets its own block and SAFETY comment, even inside
// unsafe fns.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod attribute;
pub mod auth;
mod boundary;
pub mod config;
pub mod custom;
pub mod diagnostics;
mod growable;
pub mod handle;
pub mod log;
pub mod metric;
pub mod operation;
pub mod span;
pub mod stats;
pub mod status;
mod trace_context;
pub mod v0;
pub mod version;
