//! What the emulator remembers: accepted envelopes, counters, and a log of track requests.
//!
//! Accepted envelopes are kept as compact JSON text rather than `serde_json::Value`:
//! load tests push 100,000+ items through the emulator, and a parsed `Value` costs
//! several times the memory of its text. Text is also exactly what the JSONL file and
//! `GET /envelopes` need, so it is serialized once.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::faults::FaultKind;
use crate::validate::TelemetryKind;

/// Counters served at `GET /stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// POSTs to a track endpoint, whatever their outcome.
    pub requests: u64,
    /// Items read from parseable bodies (valid or not).
    pub items_received: u64,
    pub items_accepted: u64,
    /// Items received but not stored: invalid, or refused by an injected fault (an
    /// error status, a 206's failing items, a redirect, a reset).
    pub items_rejected: u64,
    /// Accepted items by short type name. Every known type is always present (0 when
    /// none arrived) so callers can index without checking for absence.
    pub by_name: BTreeMap<String, u64>,
    /// Body bytes as they came over the wire (compressed size when gzipped).
    pub bytes_received: u64,
    /// Track requests the fault plan altered (injected status, partial, redirect,
    /// reset, outage or delay): the requests whose `RequestRecord::fault` is set.
    pub faults_injected: u64,
    /// Track answers by HTTP status, injected or not. A request answered by resetting
    /// the connection has no status and is counted in `connections_reset` instead.
    /// JSON keys are the status codes as strings: `{"200": 3, "503": 2}`.
    pub by_status: BTreeMap<u16, u64>,
    /// Track requests answered by resetting the connection (reset steps, outages).
    pub connections_reset: u64,
    /// Outage windows started (connections refused during them never reach the
    /// emulator, so they can't be counted).
    pub outages: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: 0,
            items_received: 0,
            items_accepted: 0,
            items_rejected: 0,
            by_name: TelemetryKind::ALL
                .iter()
                .map(|k| (k.short_name().to_string(), 0))
                .collect(),
            bytes_received: 0,
            faults_injected: 0,
            by_status: BTreeMap::new(),
            connections_reset: 0,
            outages: 0,
        }
    }
}

/// One track request as seen by the emulator, served at `GET /requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub path: String,
    pub content_encoding: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    /// Items read from the body (0 when the body could not be parsed).
    pub item_count: usize,
    pub items_accepted: usize,
    /// Status code the emulator answered with; 0 when it reset the connection instead.
    pub status: u16,
    /// Body size on the wire.
    pub body_bytes: usize,
    /// The fault the plan injected into this request; `None` when it was handled
    /// exactly as without a plan.
    pub fault: Option<FaultKind>,
    /// Index of the plan step applied (`None`: no plan, steps ran out, or refused by
    /// an outage).
    pub step: Option<usize>,
    /// When the request's headers arrived, in microseconds since the emulator started
    /// (monotonic clock; see `Emulator::track_requests_at` for `Instant`s).
    pub received_us: u64,
    /// When the answer was sent (or the connection reset), same clock.
    pub answered_us: u64,
}

/// Outcome of one track request, ready to be committed in one step so counters,
/// envelopes and the JSONL file never disagree.
pub struct Batch {
    pub record: RequestRecord,
    /// Exact arrival time of the request (`record.received_us` is derived from it).
    pub received_at: Instant,
    pub items_received: u64,
    pub rejected: u64,
    /// Accepted envelopes as compact JSON text, in body order.
    pub accepted: Vec<(TelemetryKind, Box<str>)>,
}

pub struct Store {
    envelopes: Vec<Box<str>>,
    stats: Stats,
    requests: Vec<RequestRecord>,
    /// Arrival time of each entry of `requests`.
    received_at: Vec<Instant>,
    jsonl: Option<BufWriter<File>>,
}

impl Store {
    /// Opens (truncating) the JSONL file if one is given: the file describes this
    /// emulator run only, so a stale file from an earlier run can't satisfy a test.
    pub fn new(jsonl_path: Option<&Path>) -> io::Result<Store> {
        let jsonl = match jsonl_path {
            Some(p) => Some(BufWriter::new(File::create(p)?)),
            None => None,
        };
        Ok(Store {
            envelopes: Vec::new(),
            stats: Stats::default(),
            requests: Vec::new(),
            received_at: Vec::new(),
            jsonl,
        })
    }

    pub fn commit(&mut self, batch: Batch) {
        self.stats.requests += 1;
        self.stats.bytes_received += batch.record.body_bytes as u64;
        self.stats.items_received += batch.items_received;
        self.stats.items_rejected += batch.rejected;
        self.stats.items_accepted += batch.accepted.len() as u64;
        self.stats.faults_injected += u64::from(batch.record.fault.is_some());
        if batch.record.status == 0 {
            self.stats.connections_reset += 1;
        } else {
            *self.stats.by_status.entry(batch.record.status).or_insert(0) += 1;
        }
        for (kind, text) in batch.accepted {
            *self
                .stats
                .by_name
                .entry(kind.short_name().to_string())
                .or_insert(0) += 1;
            if let Some(w) = self.jsonl.as_mut() {
                // A failing disk must not turn into failed ingestion for the client
                // under test; report it once per write on stderr instead.
                if let Err(e) = w
                    .write_all(text.as_bytes())
                    .and_then(|_| w.write_all(b"\n"))
                {
                    eprintln!("genkit-azure-emulator: writing JSONL failed: {e}");
                }
            }
            self.envelopes.push(text);
        }
        // Flush per request so a test that reads the file right after a 200 sees every line.
        if let Some(w) = self.jsonl.as_mut() {
            if let Err(e) = w.flush() {
                eprintln!("genkit-azure-emulator: flushing JSONL failed: {e}");
            }
        }
        self.requests.push(batch.record);
        self.received_at.push(batch.received_at);
    }

    /// Counts an outage window that just started.
    pub fn note_outage(&mut self) {
        self.stats.outages += 1;
    }

    /// Clears memory and counters. The JSONL file is left as is: it is the run's log.
    pub fn reset(&mut self) {
        self.envelopes.clear();
        self.stats = Stats::default();
        self.requests.clear();
        self.received_at.clear();
    }

    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    pub fn items_accepted(&self) -> u64 {
        self.stats.items_accepted
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.requests.clone()
    }

    /// Arrival time of each request in `requests()`, same order.
    pub fn requests_received_at(&self) -> Vec<Instant> {
        self.received_at.clone()
    }

    pub fn envelope_texts(&self) -> &[Box<str>] {
        &self.envelopes
    }

    /// Accepted envelopes as one JSON array, built from the stored text without re-parsing.
    pub fn envelopes_json_array(&self) -> String {
        let total: usize = self.envelopes.iter().map(|e| e.len() + 1).sum();
        let mut out = String::with_capacity(total + 2);
        out.push('[');
        for (i, e) in self.envelopes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(e);
        }
        out.push(']');
        out
    }
}
