//! Fuzzing support, NOT API (`bench` feature only): the worker's Genkit step
//! on its own, for the `genkit_spans` fuzz target. Spans go through it as the
//! worker takes them (`worker.rs`): enriched (failure sources, derived metrics
//! and logs, tool call ids, the model's reply), then settled by the agent
//! tracker, which may hold a span until its agent ends.

use super::enrich::{Enricher, GenkitOptions};
use crate::envelopes::genkit::AgentFlows;
use crate::ingest::{LogRecord, PackedSpan};

/// The worker's Genkit step, without the queue, the batches and the metric
/// table.
pub struct GenkitStep {
    enricher: Enricher,
    released: Vec<PackedSpan>,
}

impl GenkitStep {
    /// `agent_flows`: flows presented as agents; `reparenting`: model and
    /// tool calls inside an agent are exported under it; with
    /// `log_input_and_output`, prompts and responses are logged too.
    pub fn new(agent_flows: &[String], reparenting: bool, log_input_and_output: bool) -> Self {
        Self {
            enricher: Enricher::new(GenkitOptions {
                agent_flows: AgentFlows::new(agent_flows),
                agent_reparenting: reparenting,
                log_input_and_output,
                ..GenkitOptions::default()
            }),
            released: Vec::new(),
        }
    }

    /// A span that ended, exported: each derived metric point's value goes
    /// to `point` and each derived log record to `log`. Returns the spans
    /// that go on now: this one, unless it waits for its agent, and those
    /// its end released.
    pub fn end(
        &mut self,
        mut span: PackedSpan,
        point: &mut impl FnMut(&'static str, f64),
        log: &mut impl FnMut(LogRecord),
    ) -> Vec<PackedSpan> {
        let seen = self.enricher.enrich(
            &mut span,
            true,
            &mut |_, measures| {
                for m in measures {
                    point(m.name, m.value);
                }
            },
            log,
        );
        let now = self.enricher.settle(seen, span, true, &mut self.released);
        let mut out: Vec<PackedSpan> = now.into_iter().collect();
        out.append(&mut self.released);
        out
    }

    /// Every span still held (what a flush releases).
    pub fn flush(&mut self) -> Vec<PackedSpan> {
        let mut out = Vec::new();
        self.enricher.release_all(&mut out);
        out
    }
}
