//! The single decision point for fault injection.
//!
//! Exporter tests need the emulator to misbehave the way the real service does
//! (503, 503, 200 sequences; `Retry-After`; 206 with chosen failing items; slow answers;
//! reset connections; outage windows). All of that is decided here, once per track
//! request, before the body is processed, so adding a mode means adding a `Behaviour`
//! variant, a field on `Faults`, and one `match` arm in `server::handle_track` — nothing
//! else in the server changes. Today `Faults` always says "behave normally".

use std::time::Instant;

/// What the server should do with one track request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behaviour {
    /// Validate, store and answer exactly like the real service.
    Normal,
}

/// Facts about the incoming track request a fault policy may depend on.
#[derive(Debug, Clone)]
pub struct TrackContext<'a> {
    /// 0-based index of this track request since the emulator started (not reset by
    /// `POST /reset`, so sequences keep their place across test phases).
    pub sequence: u64,
    pub path: &'a str,
    pub received_at: Instant,
}

/// Fault-injection policy, held in shared state behind a mutex and consulted once per
/// track request.
#[derive(Debug, Default)]
pub struct Faults {
    // Future modes (status script, delay, outage window, ...) live here.
}

impl Faults {
    /// A policy that never injects anything.
    pub fn normal() -> Faults {
        Faults::default()
    }

    /// Decides how to treat one track request. May advance internal state (e.g. pop the
    /// next status from a script), hence `&mut self`.
    pub fn decide(&mut self, _ctx: &TrackContext<'_>) -> Behaviour {
        Behaviour::Normal
    }
}
