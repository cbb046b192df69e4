//! `genkit_azure_record_metric`: one measurement of a metric from C, with
//! its kind (`genkit_azure_metric_kind`), aggregated by the pipeline into one
//! series per metric and attribute set and sent every metric interval.

use crate::attribute::{attributes, genkit_azure_attribute};
use crate::boundary::{boundary, try_str, FfiError, Path};
use crate::handle::{genkit_azure_handle, pushed};
use crate::status::genkit_azure_status;
use genkit_azure::{MetricKind, MetricPoint};
use std::ffi::c_char;

/// How a measurement combines with the metric's earlier ones, as the
/// OpenTelemetry instrument kinds.
// repr(C): C sees a plain enum; the argument holding one is a uint32_t.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum genkit_azure_metric_kind {
    /// A counter's increment (requests, tokens): summed per interval; not negative.
    GENKIT_AZURE_METRIC_COUNTER = 0,
    /// An up-down counter's change (queue length): summed into a running total.
    GENKIT_AZURE_METRIC_UP_DOWN_COUNTER = 1,
    /// A histogram's recording (latency): count, sum, min and max per interval.
    GENKIT_AZURE_METRIC_HISTOGRAM = 2,
    /// A gauge's reading (temperature): the last one per interval wins.
    GENKIT_AZURE_METRIC_GAUGE = 3,
}

/// The kind named by an integer from C, never trusted as an enum.
fn kind(value: u32) -> Option<MetricKind> {
    use genkit_azure_metric_kind::*;
    const COUNTER: u32 = GENKIT_AZURE_METRIC_COUNTER as u32;
    const UP_DOWN: u32 = GENKIT_AZURE_METRIC_UP_DOWN_COUNTER as u32;
    const HISTOGRAM: u32 = GENKIT_AZURE_METRIC_HISTOGRAM as u32;
    const GAUGE: u32 = GENKIT_AZURE_METRIC_GAUGE as u32;
    Some(match value {
        COUNTER => MetricKind::Counter,
        UP_DOWN => MetricKind::UpDownCounter,
        HISTOGRAM => MetricKind::Histogram,
        GAUGE => MetricKind::Gauge,
        _ => return None,
    })
}

/// Records one measurement of the metric `name`: a counter's add, a
/// histogram's record, ... as `kind` says (a `genkit_azure_metric_kind`).
/// The attributes are the measurement's dimensions; the pipeline keeps one
/// series per attribute set (at most `metric_series_limit` per metric, past
/// which new sets fold into an `otel.metric.overflow` series) and sends each
/// series every metric interval and on flush. Never blocks.
///
/// Returns `GENKIT_AZURE_OK` when queued; `GENKIT_AZURE_QUEUE_FULL` (not
/// fatal) when the queue was full and the point was dropped and counted;
/// `GENKIT_AZURE_SHUT_DOWN` after `genkit_azure_shutdown`; a validation
/// status (nothing queued) for a NULL, empty or non-UTF-8 name, an unknown
/// kind, a value that is NaN or infinite, a counter's negative value, or a
/// bad attribute.
///
/// # Safety
/// `handle` must be NULL or a live handle from `genkit_azure_new`; `name`
/// must be NULL or a NUL-terminated string; `attributes` must be NULL or
/// point to `attribute_count` attributes valid as documented on
/// `genkit_azure_attribute`, for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn genkit_azure_record_metric(
    handle: *mut genkit_azure_handle,
    kind: u32,
    name: *const c_char,
    value: f64,
    attributes: *const genkit_azure_attribute,
    attribute_count: usize,
) -> genkit_azure_status {
    boundary("genkit_azure_record_metric", || {
        // SAFETY (all blocks): forwarded from the caller.
        let telemetry = unsafe { genkit_azure_handle::telemetry(handle) }?;
        let name = unsafe { try_str(name, &Path::Root("name")) }?;
        let Some(kind) = self::kind(kind) else {
            return Err(FfiError::invalid(format!(
                "kind is {kind}, which is not a genkit_azure_metric_kind (0..=3)"
            )));
        };
        let attributes = unsafe {
            self::attributes(
                attributes,
                attribute_count,
                &Path::Root("attributes"),
                &Path::Root("attribute_count"),
            )
        }?;
        let mut point = MetricPoint::new(kind, name, value);
        point.attributes = attributes;
        // Core's one check (a name, a finite value, a counter not falling)
        // names the argument: "value: metric 'x' has a non-finite value".
        pushed(telemetry.record_metric(point), "metric point")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_and_no_other_integer_names_one() {
        use genkit_azure_metric_kind::*;
        for k in [
            GENKIT_AZURE_METRIC_COUNTER,
            GENKIT_AZURE_METRIC_UP_DOWN_COUNTER,
            GENKIT_AZURE_METRIC_HISTOGRAM,
            GENKIT_AZURE_METRIC_GAUGE,
        ] {
            assert!(kind(k as u32).is_some(), "{k:?}");
        }
        assert_eq!(kind(4), None);
        assert_eq!(kind(u32::MAX), None);
    }
}
