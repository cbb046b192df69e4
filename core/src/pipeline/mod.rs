//! The pipeline: the ingest queue's consumer gathers items into batches by
//! size and age and hands them to mapping; the spill writes the overflow to
//! disk. Per-trace decisions that need arrival order belong here.

mod agents;
#[cfg(feature = "bench")]
pub(crate) mod bench_support;
mod collection;
mod enrich;
mod failures;
mod msg;
mod pending;
pub(crate) mod queue;
mod spill;
mod worker;

pub use collection::CollectionWait;
pub(crate) use collection::{CollectionRequests, FlushCollector};
pub(crate) use enrich::GenkitOptions;
pub(crate) use msg::{Msg, ShutdownMarker};
pub(crate) use pending::BatchLimits;
pub(crate) use spill::Spill;
pub(crate) use worker::{Worker, WorkerSettings};

/// The worker's tables of spans by id. Keyed at random like std's maps (a
/// remote parent's id is the caller's choice), with foldhash rather than
/// SipHash: every span ended looks one up.
type BySpanId<V> = std::collections::HashMap<[u8; 8], V, foldhash::fast::RandomState>;
