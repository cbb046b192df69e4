//! ABI 0: the layouts of the header from before `struct_size`
//! (`tests/c/abi/genkit_azure_v0.h`, frozen), behind the unsuffixed symbols
//! programs built against it call (`genkit_azure_new`, ...).
//!
//! These structs never change. Each function reads its frozen struct,
//! converts it into the current one (fields the old layout lacks stay 0,
//! i.e. default) and runs the same code as the ABI 1 function, so an old
//! program behaves as before, on the current pipeline. The current header
//! does not declare these symbols (cbindgen.toml excludes them); it maps
//! the same names to the `_v1` functions instead.
//!
//! The conversions list every field without `..`, so a field missing on
//! either side does not compile.

use crate::attribute::genkit_azure_attribute;
use crate::auth::genkit_azure_token_callback;
use crate::boundary::{boundary, try_ref, try_write, Path};
use crate::config::genkit_azure_config;
use crate::custom::{
    genkit_azure_availability, genkit_azure_custom_event, genkit_azure_exception,
    genkit_azure_measurement,
};
use crate::handle::{genkit_azure_handle, new_handle};
use crate::log::genkit_azure_log_record;
use crate::operation::genkit_azure_span_start;
use crate::span::{genkit_azure_event, genkit_azure_span};
use crate::stats::genkit_azure_stats;
use crate::status::genkit_azure_status;
use std::ffi::{c_char, c_void};

/// `genkit_azure_config` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_config_v0 {
    pub connection_string: *const c_char,
    pub service_name: *const c_char,
    pub service_version: *const c_char,
    pub service_namespace: *const c_char,
    pub resource_attributes: *const genkit_azure_attribute,
    pub resource_attribute_count: usize,
    pub max_batch_size: u32,
    pub max_batch_bytes: u32,
    pub batch_delay_ms: u32,
    pub queue_capacity: u32,
    pub max_concurrent_exports: u32,
    pub request_timeout_ms: u32,
    pub storage_directory: *const c_char,
    pub disable_offline_storage: bool,
    pub thread_nice: u32,
    pub spill_capacity: u32,
    pub worker_threads: u32,
    pub metric_export_interval_ms: u32,
    pub retry_base_delay_ms: u32,
    pub retry_max_delay_ms: u32,
    pub max_backlog_bytes: u64,
    pub gzip_level: u32,
    pub max_disk_bytes: u64,
    pub disk_retention_ms: u32,
    pub disk_lease_ms: u32,
    pub log_input_and_output: bool,
    pub no_force_dev_export: bool,
    pub disable_traces: bool,
    pub disable_metrics: bool,
    pub disable_logs: bool,
    pub disable_live_metrics: bool,
    pub deployment_environment: *const c_char,
    pub metric_series_limit: u32,
    pub sampling_ratio: f64,
    pub traces_per_second: f64,
    pub enable_trace_based_sampling_for_logs: bool,
    pub token_callback: genkit_azure_token_callback,
    pub token_user_data: *mut c_void,
}

impl From<&genkit_azure_config_v0> for genkit_azure_config {
    fn from(v: &genkit_azure_config_v0) -> Self {
        Self {
            struct_size: size_of::<Self>(),
            connection_string: v.connection_string,
            service_name: v.service_name,
            service_version: v.service_version,
            service_namespace: v.service_namespace,
            resource_attributes: v.resource_attributes,
            resource_attribute_count: v.resource_attribute_count,
            max_batch_size: v.max_batch_size,
            max_batch_bytes: v.max_batch_bytes,
            batch_delay_ms: v.batch_delay_ms,
            queue_capacity: v.queue_capacity,
            max_concurrent_exports: v.max_concurrent_exports,
            request_timeout_ms: v.request_timeout_ms,
            storage_directory: v.storage_directory,
            disable_offline_storage: v.disable_offline_storage,
            thread_nice: v.thread_nice,
            spill_capacity: v.spill_capacity,
            worker_threads: v.worker_threads,
            metric_export_interval_ms: v.metric_export_interval_ms,
            retry_base_delay_ms: v.retry_base_delay_ms,
            retry_max_delay_ms: v.retry_max_delay_ms,
            max_backlog_bytes: v.max_backlog_bytes,
            gzip_level: v.gzip_level,
            max_disk_bytes: v.max_disk_bytes,
            disk_retention_ms: v.disk_retention_ms,
            disk_lease_ms: v.disk_lease_ms,
            log_input_and_output: v.log_input_and_output,
            no_force_dev_export: v.no_force_dev_export,
            disable_traces: v.disable_traces,
            disable_metrics: v.disable_metrics,
            disable_logs: v.disable_logs,
            disable_live_metrics: v.disable_live_metrics,
            deployment_environment: v.deployment_environment,
            metric_series_limit: v.metric_series_limit,
            sampling_ratio: v.sampling_ratio,
            traces_per_second: v.traces_per_second,
            enable_trace_based_sampling_for_logs: v.enable_trace_based_sampling_for_logs,
            token_callback: v.token_callback,
            token_user_data: v.token_user_data,
            // Fields added after ABI 0: an old program cannot set them.
            disable_agent_reparenting: false,
            agent_ids: std::ptr::null(),
            agent_id_count: 0,
            model_prices: std::ptr::null(),
            model_price_count: 0,
            agent_flows: std::ptr::null(),
            agent_flow_count: 0,
            max_queue_bytes: 0,
        }
    }
}

/// `genkit_azure_stats` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_stats_v0 {
    pub spans_accepted: u64,
    pub logs_accepted: u64,
    pub metrics_accepted: u64,
    pub custom_accepted: u64,
    pub batches_exported: u64,
    pub batches_failed: u64,
    pub envelopes_sent: u64,
    pub envelopes_delivered: u64,
    pub envelopes_rejected: u64,
    pub items_export_failed: u64,
    pub dropped_queue_full: u64,
    pub dropped_shut_down: u64,
    pub dropped_mapping_error: u64,
    pub values_truncated: u64,
    pub queue_depth: u64,
    pub items_pending: u64,
    pub http_requests: u64,
    pub bytes_sent: u64,
    pub retries: u64,
    pub batches_rejected: u64,
    pub backlog_bytes: u64,
    pub dropped_backlog_full: u64,
    pub persisted_batches: u64,
    pub resent_from_disk_batches: u64,
    pub disk_bytes: u64,
    pub dropped_disk_full_batches: u64,
    pub dropped_retention_batches: u64,
    pub spilled_items: u64,
    pub dropped_spill_failed: u64,
    pub envelopes_dropped_unreadable: u64,
    pub retry_driver_restarts: u64,
    pub items_delivered: u64,
    pub items_persisted: u64,
    pub items_rejected: u64,
    pub dropped_too_large: u64,
    pub envelopes_dropped_too_large: u64,
    pub metrics_derived: u64,
    pub logs_derived: u64,
    pub spans_not_exported: u64,
    pub metric_series_overflowed: u64,
    pub spans_sampled_out: u64,
    pub logs_sampled_out: u64,
    pub custom_sampled_out: u64,
}

impl From<&genkit_azure_stats> for genkit_azure_stats_v0 {
    fn from(s: &genkit_azure_stats) -> Self {
        Self {
            spans_accepted: s.spans_accepted,
            logs_accepted: s.logs_accepted,
            metrics_accepted: s.metrics_accepted,
            custom_accepted: s.custom_accepted,
            batches_exported: s.batches_exported,
            batches_failed: s.batches_failed,
            envelopes_sent: s.envelopes_sent,
            envelopes_delivered: s.envelopes_delivered,
            envelopes_rejected: s.envelopes_rejected,
            items_export_failed: s.items_export_failed,
            dropped_queue_full: s.dropped_queue_full,
            dropped_shut_down: s.dropped_shut_down,
            dropped_mapping_error: s.dropped_mapping_error,
            values_truncated: s.values_truncated,
            queue_depth: s.queue_depth,
            items_pending: s.items_pending,
            http_requests: s.http_requests,
            bytes_sent: s.bytes_sent,
            retries: s.retries,
            batches_rejected: s.batches_rejected,
            backlog_bytes: s.backlog_bytes,
            dropped_backlog_full: s.dropped_backlog_full,
            persisted_batches: s.persisted_batches,
            resent_from_disk_batches: s.resent_from_disk_batches,
            disk_bytes: s.disk_bytes,
            dropped_disk_full_batches: s.dropped_disk_full_batches,
            dropped_retention_batches: s.dropped_retention_batches,
            spilled_items: s.spilled_items,
            dropped_spill_failed: s.dropped_spill_failed,
            envelopes_dropped_unreadable: s.envelopes_dropped_unreadable,
            retry_driver_restarts: s.retry_driver_restarts,
            items_delivered: s.items_delivered,
            items_persisted: s.items_persisted,
            items_rejected: s.items_rejected,
            dropped_too_large: s.dropped_too_large,
            envelopes_dropped_too_large: s.envelopes_dropped_too_large,
            metrics_derived: s.metrics_derived,
            logs_derived: s.logs_derived,
            spans_not_exported: s.spans_not_exported,
            metric_series_overflowed: s.metric_series_overflowed,
            spans_sampled_out: s.spans_sampled_out,
            logs_sampled_out: s.logs_sampled_out,
            custom_sampled_out: s.custom_sampled_out,
        }
    }
}

/// `genkit_azure_span` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_span_v0 {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: [u8; 8],
    pub parent_is_remote: bool,
    pub name: *const c_char,
    pub kind: u32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub status_code: u32,
    pub status_message: *const c_char,
    pub attributes: *const genkit_azure_attribute,
    pub attribute_count: usize,
    pub events: *const genkit_azure_event,
    pub event_count: usize,
    pub scope_name: *const c_char,
    pub scope_version: *const c_char,
    pub operation_name: *const c_char,
}

impl From<&genkit_azure_span_v0> for genkit_azure_span {
    fn from(v: &genkit_azure_span_v0) -> Self {
        Self {
            struct_size: size_of::<Self>(),
            trace_id: v.trace_id,
            span_id: v.span_id,
            parent_span_id: v.parent_span_id,
            parent_is_remote: v.parent_is_remote,
            name: v.name,
            kind: v.kind,
            start_time_unix_nano: v.start_time_unix_nano,
            end_time_unix_nano: v.end_time_unix_nano,
            status_code: v.status_code,
            status_message: v.status_message,
            attributes: v.attributes,
            attribute_count: v.attribute_count,
            events: v.events,
            event_count: v.event_count,
            scope_name: v.scope_name,
            scope_version: v.scope_version,
            operation_name: v.operation_name,
            links: std::ptr::null(),
            link_count: 0,
        }
    }
}

/// `genkit_azure_log_record` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_log_record_v0 {
    pub time_unix_nano: u64,
    pub severity_number: i32,
    pub body: *const c_char,
    pub attributes: *const genkit_azure_attribute,
    pub attribute_count: usize,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub logger_name: *const c_char,
}

impl From<&genkit_azure_log_record_v0> for genkit_azure_log_record {
    fn from(v: &genkit_azure_log_record_v0) -> Self {
        Self {
            struct_size: size_of::<Self>(),
            time_unix_nano: v.time_unix_nano,
            severity_number: v.severity_number,
            body: v.body,
            attributes: v.attributes,
            attribute_count: v.attribute_count,
            trace_id: v.trace_id,
            span_id: v.span_id,
            logger_name: v.logger_name,
        }
    }
}

/// `genkit_azure_span_start` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_span_start_v0 {
    pub trace_id: [u8; 16],
    pub parent_span_id: [u8; 8],
    pub parent_is_remote: bool,
    pub root_operation_name: *const c_char,
}

impl From<&genkit_azure_span_start_v0> for genkit_azure_span_start {
    fn from(v: &genkit_azure_span_start_v0) -> Self {
        Self {
            struct_size: size_of::<Self>(),
            trace_id: v.trace_id,
            parent_span_id: v.parent_span_id,
            parent_is_remote: v.parent_is_remote,
            root_operation_name: v.root_operation_name,
        }
    }
}

/// `genkit_azure_custom_event` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_custom_event_v0 {
    pub time_unix_nano: u64,
    pub name: *const c_char,
    pub properties: *const genkit_azure_attribute,
    pub property_count: usize,
    pub measurements: *const genkit_azure_measurement,
    pub measurement_count: usize,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub operation_name: *const c_char,
}

impl From<&genkit_azure_custom_event_v0> for genkit_azure_custom_event {
    fn from(v: &genkit_azure_custom_event_v0) -> Self {
        Self {
            struct_size: size_of::<Self>(),
            time_unix_nano: v.time_unix_nano,
            name: v.name,
            properties: v.properties,
            property_count: v.property_count,
            measurements: v.measurements,
            measurement_count: v.measurement_count,
            trace_id: v.trace_id,
            span_id: v.span_id,
            operation_name: v.operation_name,
        }
    }
}

/// `genkit_azure_exception` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_exception_v0 {
    pub time_unix_nano: u64,
    pub type_name: *const c_char,
    pub message: *const c_char,
    pub stack: *const c_char,
    pub properties: *const genkit_azure_attribute,
    pub property_count: usize,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub operation_name: *const c_char,
}

impl From<&genkit_azure_exception_v0> for genkit_azure_exception {
    fn from(v: &genkit_azure_exception_v0) -> Self {
        Self {
            struct_size: size_of::<Self>(),
            time_unix_nano: v.time_unix_nano,
            type_name: v.type_name,
            message: v.message,
            stack: v.stack,
            properties: v.properties,
            property_count: v.property_count,
            trace_id: v.trace_id,
            span_id: v.span_id,
            operation_name: v.operation_name,
        }
    }
}

/// `genkit_azure_availability` as ABI 0 laid it out (frozen).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct genkit_azure_availability_v0 {
    pub time_unix_nano: u64,
    pub name: *const c_char,
    pub success: bool,
    pub duration_ms: f64,
    pub run_location: *const c_char,
    pub message: *const c_char,
    pub properties: *const genkit_azure_attribute,
    pub property_count: usize,
    pub measurements: *const genkit_azure_measurement,
    pub measurement_count: usize,
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub operation_name: *const c_char,
}

impl From<&genkit_azure_availability_v0> for genkit_azure_availability {
    fn from(v: &genkit_azure_availability_v0) -> Self {
        Self {
            struct_size: size_of::<Self>(),
            time_unix_nano: v.time_unix_nano,
            name: v.name,
            success: v.success,
            duration_ms: v.duration_ms,
            run_location: v.run_location,
            message: v.message,
            properties: v.properties,
            property_count: v.property_count,
            measurements: v.measurements,
            measurement_count: v.measurement_count,
            trace_id: v.trace_id,
            span_id: v.span_id,
            operation_name: v.operation_name,
        }
    }
}

/// ABI 0's `genkit_azure_new`: as `genkit_azure_new_v1`, for a config of
/// the frozen layout.
///
/// # Safety
/// As `genkit_azure_new_v1`, with `config` of ABI 0's layout.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_new(
    config: *const genkit_azure_config_v0,
    out: *mut *mut genkit_azure_handle,
) -> genkit_azure_status {
    boundary("genkit_azure_new", || {
        // SAFETY (both): forwarded from the caller.
        let config =
            unsafe { try_ref(config, &Path::Root("config")) }.map(genkit_azure_config::from);
        unsafe { new_handle(config, out) }
    })
}

/// ABI 0's `genkit_azure_get_stats`: writes the frozen layout's counters.
///
/// # Safety
/// As `genkit_azure_get_stats_v1`, with `out` valid for writing ABI 0's struct.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_get_stats(
    handle: *const genkit_azure_handle,
    out: *mut genkit_azure_stats_v0,
) -> genkit_azure_status {
    boundary("genkit_azure_get_stats", || {
        // SAFETY (both): forwarded from the caller.
        let stats = unsafe { crate::stats::current(handle) }?;
        unsafe { try_write(out, genkit_azure_stats_v0::from(&stats), &Path::Root("out")) }
    })
}

/// Defines an ABI 0 function that reads its frozen struct, converts it and
/// runs the ABI 1 function's body.
macro_rules! item_v0 {
    ($(#[$doc:meta])* $name:ident($arg:ident: $v0:ty => $v1:ty) = $root:literal, $run:path) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As the `_v1` function of the same name, with the struct of ABI 0's layout.
        #[no_mangle]
        pub unsafe extern "C" fn $name(
            handle: *mut genkit_azure_handle,
            $arg: *const $v0,
        ) -> genkit_azure_status {
            boundary(stringify!($name), || {
                let path = Path::Root($root);
                // SAFETY (both): forwarded from the caller.
                let item = <$v1>::from(unsafe { try_ref($arg, &path) }?);
                unsafe { $run(handle, &item, &path) }
            })
        }
    };
}

item_v0!(
    /// ABI 0's `genkit_azure_export_span`.
    genkit_azure_export_span(span: genkit_azure_span_v0 => genkit_azure_span) = "span",
    crate::span::export
);
item_v0!(
    /// ABI 0's `genkit_azure_emit_log`.
    genkit_azure_emit_log(log: genkit_azure_log_record_v0 => genkit_azure_log_record) = "log",
    crate::log::emit
);
item_v0!(
    /// ABI 0's `genkit_azure_span_started`.
    genkit_azure_span_started(start: genkit_azure_span_start_v0 => genkit_azure_span_start) = "start",
    crate::operation::started
);
item_v0!(
    /// ABI 0's `genkit_azure_track_event`.
    genkit_azure_track_event(event: genkit_azure_custom_event_v0 => genkit_azure_custom_event) = "event",
    crate::custom::track_event
);
item_v0!(
    /// ABI 0's `genkit_azure_track_exception`.
    genkit_azure_track_exception(exception: genkit_azure_exception_v0 => genkit_azure_exception) = "exception",
    crate::custom::track_exception
);
item_v0!(
    /// ABI 0's `genkit_azure_track_availability`.
    genkit_azure_track_availability(result: genkit_azure_availability_v0 => genkit_azure_availability) = "availability",
    crate::custom::track_availability
);

#[cfg(test)]
mod tests {
    //! The layouts Rust gives these structs must be the ones a C compiler
    //! gives the frozen header's, field by field; and the same for today's
    //! structs against include/genkit_azure.h. A C program built against
    //! each header prints every field's offset and every struct's size.
    use super::*;
    use std::mem::offset_of;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// (C name, size, [(field, offset)]) as Rust lays the struct out.
    type Layout = (&'static str, usize, Vec<(&'static str, usize)>);

    macro_rules! layout {
        ($t:ty as $c:literal { $($f:ident),* $(,)? }) => {
            ($c, size_of::<$t>(), vec![$((stringify!($f), offset_of!($t, $f))),*])
        };
    }

    fn abi_0() -> Vec<Layout> {
        vec![
            layout!(genkit_azure_config_v0 as "genkit_azure_config" { connection_string, service_name, service_version, service_namespace, resource_attributes, resource_attribute_count, max_batch_size, max_batch_bytes, batch_delay_ms, queue_capacity, max_concurrent_exports, request_timeout_ms, storage_directory, disable_offline_storage, thread_nice, spill_capacity, worker_threads, metric_export_interval_ms, retry_base_delay_ms, retry_max_delay_ms, max_backlog_bytes, gzip_level, max_disk_bytes, disk_retention_ms, disk_lease_ms, log_input_and_output, no_force_dev_export, disable_traces, disable_metrics, disable_logs, disable_live_metrics, deployment_environment, metric_series_limit, sampling_ratio, traces_per_second, enable_trace_based_sampling_for_logs, token_callback, token_user_data }),
            layout!(genkit_azure_stats_v0 as "genkit_azure_stats" { spans_accepted, logs_accepted, metrics_accepted, custom_accepted, batches_exported, batches_failed, envelopes_sent, envelopes_delivered, envelopes_rejected, items_export_failed, dropped_queue_full, dropped_shut_down, dropped_mapping_error, values_truncated, queue_depth, items_pending, http_requests, bytes_sent, retries, batches_rejected, backlog_bytes, dropped_backlog_full, persisted_batches, resent_from_disk_batches, disk_bytes, dropped_disk_full_batches, dropped_retention_batches, spilled_items, dropped_spill_failed, envelopes_dropped_unreadable, retry_driver_restarts, items_delivered, items_persisted, items_rejected, dropped_too_large, envelopes_dropped_too_large, metrics_derived, logs_derived, spans_not_exported, metric_series_overflowed, spans_sampled_out, logs_sampled_out, custom_sampled_out }),
            layout!(genkit_azure_span_v0 as "genkit_azure_span" { trace_id, span_id, parent_span_id, parent_is_remote, name, kind, start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes, attribute_count, events, event_count, scope_name, scope_version, operation_name }),
            layout!(genkit_azure_log_record_v0 as "genkit_azure_log_record" { time_unix_nano, severity_number, body, attributes, attribute_count, trace_id, span_id, logger_name }),
            layout!(genkit_azure_span_start_v0 as "genkit_azure_span_start" { trace_id, parent_span_id, parent_is_remote, root_operation_name }),
            layout!(genkit_azure_custom_event_v0 as "genkit_azure_custom_event" { time_unix_nano, name, properties, property_count, measurements, measurement_count, trace_id, span_id, operation_name }),
            layout!(genkit_azure_exception_v0 as "genkit_azure_exception" { time_unix_nano, type_name, message, stack, properties, property_count, trace_id, span_id, operation_name }),
            layout!(genkit_azure_availability_v0 as "genkit_azure_availability" { time_unix_nano, name, success, duration_ms, run_location, message, properties, property_count, measurements, measurement_count, trace_id, span_id, operation_name }),
        ]
    }

    fn abi_1() -> Vec<Layout> {
        vec![
            layout!(crate::config::genkit_azure_config as "genkit_azure_config" { struct_size, connection_string, service_name, service_version, service_namespace, resource_attributes, resource_attribute_count, max_batch_size, max_batch_bytes, batch_delay_ms, queue_capacity, max_concurrent_exports, request_timeout_ms, storage_directory, disable_offline_storage, thread_nice, spill_capacity, worker_threads, metric_export_interval_ms, retry_base_delay_ms, retry_max_delay_ms, max_backlog_bytes, gzip_level, max_disk_bytes, disk_retention_ms, disk_lease_ms, log_input_and_output, no_force_dev_export, disable_traces, disable_metrics, disable_logs, disable_live_metrics, deployment_environment, metric_series_limit, sampling_ratio, traces_per_second, enable_trace_based_sampling_for_logs, token_callback, token_user_data }),
            layout!(crate::stats::genkit_azure_stats as "genkit_azure_stats" { struct_size, spans_accepted, logs_accepted, metrics_accepted, custom_accepted, batches_exported, batches_failed, envelopes_sent, envelopes_delivered, envelopes_rejected, items_export_failed, dropped_queue_full, dropped_shut_down, dropped_mapping_error, values_truncated, queue_depth, items_pending, http_requests, bytes_sent, retries, batches_rejected, backlog_bytes, dropped_backlog_full, persisted_batches, resent_from_disk_batches, disk_bytes, dropped_disk_full_batches, dropped_retention_batches, spilled_items, dropped_spill_failed, envelopes_dropped_unreadable, retry_driver_restarts, items_delivered, items_persisted, items_rejected, dropped_too_large, envelopes_dropped_too_large, metrics_derived, logs_derived, spans_not_exported, metric_series_overflowed, spans_sampled_out, logs_sampled_out, custom_sampled_out }),
            layout!(crate::span::genkit_azure_span as "genkit_azure_span" { struct_size, trace_id, span_id, parent_span_id, parent_is_remote, name, kind, start_time_unix_nano, end_time_unix_nano, status_code, status_message, attributes, attribute_count, events, event_count, scope_name, scope_version, operation_name }),
            layout!(crate::log::genkit_azure_log_record as "genkit_azure_log_record" { struct_size, time_unix_nano, severity_number, body, attributes, attribute_count, trace_id, span_id, logger_name }),
            layout!(crate::operation::genkit_azure_span_start as "genkit_azure_span_start" { struct_size, trace_id, parent_span_id, parent_is_remote, root_operation_name }),
            layout!(crate::custom::genkit_azure_custom_event as "genkit_azure_custom_event" { struct_size, time_unix_nano, name, properties, property_count, measurements, measurement_count, trace_id, span_id, operation_name }),
            layout!(crate::custom::genkit_azure_exception as "genkit_azure_exception" { struct_size, time_unix_nano, type_name, message, stack, properties, property_count, trace_id, span_id, operation_name }),
            layout!(crate::custom::genkit_azure_availability as "genkit_azure_availability" { struct_size, time_unix_nano, name, success, duration_ms, run_location, message, properties, property_count, measurements, measurement_count, trace_id, span_id, operation_name }),
        ]
    }

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf()
    }

    /// What a C compiler makes of `layouts` under `header`: the same
    /// triples, read from a program's output.
    fn as_c_lays_out(header: &Path, layouts: &[Layout], tag: &str) -> Vec<(String, usize)> {
        let mut c = format!(
            "#include <stddef.h>\n#include <stdio.h>\n#include \"{}\"\nint main(void) {{\n",
            header.display()
        );
        for (name, _, fields) in layouts {
            c += &format!("    printf(\"{name} %zu\\n\", sizeof({name}));\n");
            for (field, _) in fields {
                c +=
                    &format!("    printf(\"{name}.{field} %zu\\n\", offsetof({name}, {field}));\n");
            }
        }
        c += "    return 0;\n}\n";
        let dir =
            std::env::temp_dir().join(format!("genkit-azure-layout-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (source, exe) = (dir.join("layout.c"), dir.join("layout"));
        std::fs::write(&source, c).unwrap();
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let built = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Werror"])
            .arg(&source)
            .arg("-o")
            .arg(&exe)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let out = Command::new(&exe).output().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let (k, v) = l.rsplit_once(' ').unwrap();
                (k.to_string(), v.parse().unwrap())
            })
            .collect()
    }

    fn as_rust_lays_out(layouts: &[Layout]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for (name, size, fields) in layouts {
            out.push((name.to_string(), *size));
            for (field, offset) in fields {
                out.push((format!("{name}.{field}"), *offset));
            }
        }
        out
    }

    #[test]
    fn abi_0_structs_are_laid_out_as_the_frozen_header_says() {
        let header = repo().join("tests/c/abi/genkit_azure_v0.h");
        let layouts = abi_0();
        assert_eq!(
            as_rust_lays_out(&layouts),
            as_c_lays_out(&header, &layouts, "v0")
        );
    }

    #[test]
    fn abi_1_structs_are_laid_out_as_the_header_says() {
        let header = repo().join("include/genkit_azure.h");
        let layouts = abi_1();
        assert_eq!(
            as_rust_lays_out(&layouts),
            as_c_lays_out(&header, &layouts, "v1")
        );
    }
}
