//! `genkit_azure_rs._native.MetricProducer`: the pipeline's metric clock as
//! Python's metric reader thread sees it. The thread waits in `wait()` with
//! the interpreter released (it costs nothing while it waits), collects the
//! OpenTelemetry SDK reader when a collection is due, records each series'
//! delta, and answers with `collected()`. The producer unregisters when the
//! object is freed.

use genkit_azure::{CollectionWait, MetricProducer as CoreProducer};
use pyo3::prelude::*;

#[pyclass(frozen, module = "genkit_azure_rs._native", name = "MetricProducer")]
pub struct MetricProducer {
    inner: CoreProducer,
}

impl MetricProducer {
    pub fn new(inner: CoreProducer) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl MetricProducer {
    /// Blocks, without holding the interpreter, until a collection is due
    /// (True) or the pipeline shuts down (False, for good). One thread at a time.
    fn wait(&self, py: Python<'_>) -> bool {
        py.detach(|| self.inner.wait(None) == CollectionWait::Collect)
    }

    /// Says the points of the collection asked for are recorded. Never blocks.
    fn collected(&self) {
        // After shutdown there is nobody to tell.
        let _ = self.inner.collected();
    }
}
