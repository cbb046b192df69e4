//! Delivery against the real ingestion emulator over loopback sockets, driven
//! directly (no pipeline in front), for what the public API cannot reach in a
//! test's time: an hour-long `Retry-After`, a panic inside the retry driver.

use super::*;
use crate::accounting::{Ledger, Progress};
use crate::config::ConnectionString;
use bytes::Bytes;
use genkit_azure_emulator::{Emulator, EmulatorConfig, FaultPlan, Step};
use std::time::Instant as StdInstant;

const IKEY: &str = "0e2c1f5a-7b1d-4c3e-9f00-123456789abc";

pub(super) struct Rig {
    pub emu: Emulator,
    pub rt: tokio::runtime::Runtime,
    pub delivery: Arc<Delivery>,
    pub counters: Arc<Counters>,
    pub progress: Arc<Progress>,
    pub ledger: Ledger,
}

impl Rig {
    /// Delivery to a fresh emulator: millisecond retry delays, no disk, and a
    /// `Retry-After` cap of `max_retry_after`. The retry driver runs supervised.
    pub fn new(max_retry_after: Duration) -> Rig {
        let emu = Emulator::start(EmulatorConfig {
            instrumentation_key: Some(IKEY.into()),
            ..Default::default()
        })
        .unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let counters = Arc::new(Counters::default());
        let progress = Arc::new(Progress::default());
        let cs = ConnectionString::parse(&emu.connection_string(IKEY)).unwrap();
        let sender = Sender::new(
            &cs.ingestion_endpoint,
            Duration::from_secs(2),
            Arc::clone(&counters),
            None,
        )
        .unwrap();
        let delivery = Arc::new(
            Delivery::new(
                sender,
                Backoff::new(Duration::from_millis(2), Duration::from_millis(10)),
                1 << 20,
                2,
                Arc::clone(&counters),
                None,
            )
            .with_max_retry_after(max_retry_after),
        );
        rt.spawn(Arc::clone(&delivery).supervise_retries());
        Rig {
            emu,
            rt,
            delivery,
            ledger: Ledger::new(Arc::clone(&progress), Arc::clone(&counters)),
            counters,
            progress,
        }
    }

    /// Hands the delivery layer a batch of `messages` logs, as an export would.
    pub fn deliver(&self, messages: &[&str]) {
        let delivery = Arc::clone(&self.delivery);
        let part = self.ledger.open(messages.len() as u64);
        let payload = Payload::written(body(messages), messages.len(), part);
        self.rt
            .block_on(async move { delivery.deliver(payload).await });
    }

    /// Whether every batch so far settled in time, and none failed.
    pub fn settled(&self, within: Duration) -> Option<bool> {
        self.progress
            .wait(0, self.progress.allocated(), StdInstant::now() + within)
    }

    /// Messages the emulator accepted, in arrival order.
    pub fn arrived(&self) -> Vec<String> {
        self.emu
            .envelopes()
            .iter()
            .filter_map(|e| e["data"]["baseData"]["message"].as_str().map(String::from))
            .collect()
    }
}

/// A request body: gzipped JSON array of one Message envelope per text.
pub(super) fn body(messages: &[&str]) -> Bytes {
    let envelopes: Vec<serde_json::Value> = messages
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": "Microsoft.ApplicationInsights.Message",
                "time": "2026-01-01T00:00:00Z",
                "iKey": IKEY,
                "tags": {},
                "data": {"baseType": "MessageData",
                         "baseData": {"ver": 2, "message": m, "severityLevel": 1}}
            })
        })
        .collect();
    payload::gzip(&serde_json::to_vec(&envelopes).unwrap())
        .unwrap()
        .into()
}

#[test]
fn a_panic_in_the_retry_driver_restarts_it_and_delivery_goes_on() {
    let rig = Rig::new(MAX_RETRY_AFTER);
    rig.emu.set_faults(FaultPlan::statuses([503])).unwrap();
    rig.delivery.panic_next_retry.store(true, Relaxed);
    // 503: the batch goes to the backlog, where the driver panics holding it.
    rig.deliver(&["held when the driver panicked"]);
    let until = StdInstant::now() + Duration::from_secs(5);
    while rig.counters.snapshot().retry_driver_restarts == 0 && StdInstant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(rig.counters.snapshot().retry_driver_restarts, 1);
    // The batch it held is lost, counted, and holds up no flush.
    assert_eq!(rig.settled(Duration::from_secs(5)), Some(false));
    assert_eq!(rig.counters.snapshot().items_export_failed, 1);
    // The restarted driver still owns the backlog: a batch refused now is
    // retried and arrives.
    rig.emu.set_faults(FaultPlan::statuses([503])).unwrap();
    rig.deliver(&["after the restart"]);
    assert!(rig.emu.wait_for_items(1, Duration::from_secs(5)));
    assert_eq!(rig.arrived(), ["after the restart"]);
    let later = rig.progress.allocated() - 1;
    let deadline = StdInstant::now() + Duration::from_secs(5);
    assert_eq!(rig.progress.wait(later, later + 1, deadline), Some(true));
    assert_eq!(rig.counters.snapshot().items_delivered, 1);
}

#[test]
fn an_absurd_retry_after_closes_the_gate_only_up_to_the_cap() {
    for value in ["10000000000", "18446744073709551615"] {
        let rig = Rig::new(Duration::from_millis(300));
        rig.emu
            .set_faults(FaultPlan::sequence([Step::retry_after(429, value)]))
            .unwrap();
        let started = StdInstant::now();
        rig.deliver(&["first"]);
        rig.deliver(&["second"]);
        assert_eq!(rig.settled(Duration::from_secs(10)), Some(true), "{value}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
            "{value}: waited {waited:?}"
        );
        let mut arrived = rig.arrived();
        arrived.sort();
        assert_eq!(arrived, ["first", "second"], "{value}");
        assert_eq!(rig.counters.snapshot().retry_driver_restarts, 0);
    }
}
