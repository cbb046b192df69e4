//! The standard Live Metrics counters of one post interval, in the units the
//! portal reads: rates as the interval's count, durations as averages in
//! milliseconds (the official Python client sends seconds), the process's
//! CPU as a percentage and its memory in bytes.
//!
//! A counter with no data in the interval is left out; the gauges are
//! always sent.

use super::item::{LiveItem, TelemetryType};
use super::process::ProcessSample;

pub(crate) const REQUESTS: &str = "\\ApplicationInsights\\Requests/Sec";
pub(crate) const REQUESTS_FAILED: &str = "\\ApplicationInsights\\Requests Failed/Sec";
pub(crate) const REQUEST_DURATION: &str = "\\ApplicationInsights\\Request Duration";
pub(crate) const DEPENDENCIES: &str = "\\ApplicationInsights\\Dependency Calls/Sec";
pub(crate) const DEPENDENCIES_FAILED: &str = "\\ApplicationInsights\\Dependency Calls Failed/Sec";
pub(crate) const DEPENDENCY_DURATION: &str = "\\ApplicationInsights\\Dependency Call Duration";
pub(crate) const EXCEPTIONS: &str = "\\ApplicationInsights\\Exceptions/Sec";
pub(crate) const COMMITTED_BYTES: &str = "\\Memory\\Committed Bytes";
pub(crate) const PHYSICAL_BYTES: &str = "\\Process\\Physical Bytes";
pub(crate) const PROCESSOR_TIME: &str = "\\Processor(_Total)\\% Processor Time";
pub(crate) const PROCESSOR_TIME_NORMALIZED: &str = "\\% Process\\Processor Time Normalized";

/// Successes, failures and total duration of one kind of call.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Calls {
    ok: u64,
    failed: u64,
    duration_ms: f64,
}

impl Calls {
    fn add(&mut self, item: &LiveItem<'_>) {
        if item.success {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
        self.duration_ms += item.duration_ms();
    }

    fn push(&self, out: &mut Vec<(&'static str, f64)>, names: [&'static str; 3]) {
        if self.ok > 0 {
            out.push((names[0], self.ok as f64));
        }
        if self.failed > 0 {
            out.push((names[1], self.failed as f64));
        }
        let n = self.ok + self.failed;
        if n > 0 {
            out.push((names[2], self.duration_ms / n as f64));
        }
    }
}

/// The counters of the interval so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StandardCounters {
    requests: Calls,
    dependencies: Calls,
    exceptions: u64,
}

impl StandardCounters {
    pub fn add(&mut self, item: &LiveItem<'_>) {
        match item.kind {
            TelemetryType::Request => self.requests.add(item),
            TelemetryType::Dependency => self.dependencies.add(item),
            TelemetryType::Exception => self.exceptions += 1,
            TelemetryType::Trace | TelemetryType::Event => {}
        }
    }

    /// The interval's metrics, the gauges last.
    pub fn metrics(&self, process: ProcessSample) -> Vec<(&'static str, f64)> {
        let mut out = Vec::with_capacity(11);
        self.requests
            .push(&mut out, [REQUESTS, REQUESTS_FAILED, REQUEST_DURATION]);
        self.dependencies.push(
            &mut out,
            [DEPENDENCIES, DEPENDENCIES_FAILED, DEPENDENCY_DURATION],
        );
        if self.exceptions > 0 {
            out.push((EXCEPTIONS, self.exceptions as f64));
        }
        let memory = process.memory_bytes as f64;
        out.push((COMMITTED_BYTES, memory));
        out.push((PHYSICAL_BYTES, memory));
        out.push((PROCESSOR_TIME, process.cpu_percent));
        out.push((PROCESSOR_TIME_NORMALIZED, process.cpu_percent));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(kind: TelemetryType, ok: bool, ms: u64) -> LiveItem<'static> {
        let mut i = LiveItem::new(kind);
        i.success = ok;
        i.duration_nanos = ms * 1_000_000;
        i
    }

    const GAUGES: ProcessSample = ProcessSample {
        cpu_percent: 12.5,
        memory_bytes: 1 << 20,
    };

    #[test]
    fn rates_failures_and_average_durations_in_ms() {
        let mut c = StandardCounters::default();
        for (ok, ms) in [(true, 10), (true, 30), (false, 50)] {
            c.add(&call(TelemetryType::Request, ok, ms));
        }
        c.add(&call(TelemetryType::Dependency, false, 4));
        c.add(&call(TelemetryType::Exception, true, 0));
        c.add(&call(TelemetryType::Exception, true, 0));
        c.add(&call(TelemetryType::Trace, true, 0));
        assert_eq!(
            c.metrics(GAUGES),
            [
                (REQUESTS, 2.0),
                (REQUESTS_FAILED, 1.0),
                (REQUEST_DURATION, 30.0),
                (DEPENDENCIES_FAILED, 1.0),
                (DEPENDENCY_DURATION, 4.0),
                (EXCEPTIONS, 2.0),
                (COMMITTED_BYTES, 1048576.0),
                (PHYSICAL_BYTES, 1048576.0),
                (PROCESSOR_TIME, 12.5),
                (PROCESSOR_TIME_NORMALIZED, 12.5),
            ]
        );
    }

    #[test]
    fn an_empty_interval_has_only_the_gauges() {
        let names: Vec<_> = StandardCounters::default()
            .metrics(GAUGES)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                COMMITTED_BYTES,
                PHYSICAL_BYTES,
                PROCESSOR_TIME,
                PROCESSOR_TIME_NORMALIZED
            ]
        );
    }
}
