//! Sampling decisions, once per trace at its root: the fixed percentage every
//! Application Insights SDK uses (the same DJB2 score of the trace id, so a
//! trace sampled in one service is sampled in all of them, whatever their
//! language), or a rate limit that adapts that percentage to a number of
//! traces per second. Children follow their root's decision, so traces
//! arrive whole (the official rate-limited sampler re-decides for children
//! with an implicit context, and its traces arrive in pieces).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// What a trace's root decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampled {
    pub keep: bool,
    /// The percentage of traces kept when this one was decided, which kept
    /// envelopes carry as `sampleRate` (100: everything).
    pub percentage: f64,
}

impl Sampled {
    pub const ALL: Sampled = Sampled {
        keep: true,
        percentage: 100.0,
    };
}

/// The score of a trace id (32 lowercase hex digits): DJB2 (seed 5381) over
/// its characters with signed 32-bit wrap-around, its absolute value, divided
/// by `i32::MAX`; in `[0, 1]`. A trace is kept when its score is below the
/// ratio.
pub fn trace_score(trace_id: [u8; 16]) -> f64 {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hash: i32 = 5381;
    for b in trace_id {
        for c in [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]] {
            hash = (hash << 5).wrapping_add(hash).wrapping_add(i32::from(c));
        }
    }
    let hash = if hash == i32::MIN {
        i32::MAX
    } else {
        hash.abs()
    };
    f64::from(hash) / f64::from(i32::MAX)
}

/// How roots are sampled.
#[derive(Debug)]
pub enum Sampler {
    /// Keep everything (the default: the official default of 5 traces a
    /// second silently loses most of a busy app's data).
    All,
    /// Keep this ratio (0 to 1) of traces.
    Fixed(f64),
    /// Keep about this many traces per second.
    RateLimited(RateLimit),
}

impl Sampler {
    /// The sampler the settings ask for (checked already: a ratio in
    /// `[0, 1]`, a rate not negative, not both).
    pub fn of(sampling_ratio: f64, traces_per_second: f64) -> Self {
        if traces_per_second > 0.0 {
            Sampler::RateLimited(RateLimit::new(traces_per_second))
        } else if sampling_ratio < 1.0 {
            Sampler::Fixed(sampling_ratio)
        } else {
            Sampler::All
        }
    }

    /// Whether some traces may be dropped.
    pub fn samples(&self) -> bool {
        !matches!(self, Sampler::All)
    }

    /// What it does, in words: `keeps everything`, `keeps 25% of traces`,
    /// `keeps about 5 traces/s`.
    pub fn describe(&self) -> String {
        match self {
            Sampler::All => "keeps every trace".into(),
            Sampler::Fixed(ratio) => format!("keeps {}% of traces", short(ratio * 100.0)),
            Sampler::RateLimited(limit) => {
                format!("keeps about {} traces/s", short(limit.per_nanosecond * 1e9))
            }
        }
    }

    /// The decision for a trace whose root starts now (a rate limit counts
    /// the root).
    pub fn decide(&self, trace_id: [u8; 16]) -> Sampled {
        match self {
            Sampler::All => Sampled::ALL,
            // Compared as the official exporter compares it (score < ratio),
            // so both keep exactly the same traces.
            Sampler::Fixed(ratio) if *ratio >= 1.0 => Sampled::ALL,
            Sampler::Fixed(ratio) => Sampled {
                keep: trace_score(trace_id) < *ratio,
                percentage: ratio * 100.0,
            },
            Sampler::RateLimited(limit) => by_percentage(trace_id, limit.percentage(now_nanos())),
        }
    }

    /// The decision for a span whose trace has no root registered in this
    /// process (its root ended first, or was never registered): a fixed
    /// ratio depends on the id alone, so this is the root's own decision; a
    /// rate limit compares the score with the share it keeps now, without
    /// counting a root.
    pub fn decide_unregistered(&self, trace_id: [u8; 16]) -> Sampled {
        match self {
            Sampler::RateLimited(limit) => by_percentage(trace_id, limit.current()),
            other => other.decide(trace_id),
        }
    }
}

/// `x` with at most 6 decimals and no trailing zeros (`0.1 * 100` reads 10).
fn short(x: f64) -> String {
    let text = format!("{x:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Keeps the traces whose score, as a percentage, is below `percentage`, as
/// the official rate-limited sampler compares it.
fn by_percentage(trace_id: [u8; 16], percentage: f64) -> Sampled {
    if percentage >= 100.0 {
        return Sampled::ALL;
    }
    Sampled {
        keep: trace_score(trace_id) * 100.0 < percentage,
        percentage,
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A percentage that adapts to the rate roots arrive at, so that about
/// `per_second` traces a second are kept: an exponentially decaying window
/// (adaptation time 0.1 s) of roots and of time, as Microsoft's samplers
/// compute it, rounded down to 100/n so every kept trace stands for a whole
/// number of traces.
#[derive(Debug)]
pub struct RateLimit {
    per_nanosecond: f64,
    window: Mutex<Window>,
    /// The last percentage computed (its `f64` bits), for spans of traces
    /// whose root is not registered.
    last: AtomicU64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    count: f64,
    nanos: f64,
    last: u64,
}

/// How fast the window forgets, per nanosecond (1 / 0.1 s).
const INVERSE_ADAPTATION_PER_NANO: f64 = 1e-9 / 0.1;

impl RateLimit {
    /// `per_second` must be finite and not negative (the faces check it).
    pub fn new(per_second: f64) -> Self {
        Self {
            per_nanosecond: per_second.max(0.0) * 1e-9,
            window: Mutex::new(Window {
                count: 0.0,
                nanos: 0.0,
                last: now_nanos(),
            }),
            last: AtomicU64::new(100f64.to_bits()),
        }
    }

    /// The percentage kept now, as last computed.
    fn current(&self) -> f64 {
        f64::from_bits(self.last.load(Relaxed))
    }

    /// Counts a root arriving at `now` and returns the percentage to keep.
    fn percentage(&self, now: u64) -> f64 {
        let w = {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            if now <= w.last {
                w.count += 1.0;
            } else {
                let delta = (now - w.last) as f64;
                let decay = (-delta * INVERSE_ADAPTATION_PER_NANO).exp();
                w.count = w.count * decay + 1.0;
                w.nanos = w.nanos * decay + delta;
                w.last = now;
            }
            *w
        };
        let percentage = if w.count == 0.0 {
            100.0
        } else {
            let probability = (w.nanos * self.per_nanosecond / w.count).min(1.0);
            rounded_down(100.0 * probability)
        };
        self.last.store(percentage.to_bits(), Relaxed);
        percentage
    }
}

/// `100 / ceil(100 / p)`: the nearest percentage at or below `p` whose kept
/// items each stand for a whole number of items.
fn rounded_down(p: f64) -> f64 {
    if p <= 0.0 {
        return 0.0;
    }
    let items = 100.0 / p;
    if !items.is_finite() || items >= f64::from(i32::MAX) {
        return 0.0;
    }
    100.0 / items.ceil()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(hex: &str) -> [u8; 16] {
        let mut out = [0; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// Scores the official exporter's own function gave for these ids:
    /// `azure.monitor.opentelemetry.exporter.export.trace._utils._get_DJB2_sample_score`
    /// from azure-monitor-opentelemetry-exporter 1.0.0b58 (the package the
    /// benchmark's official-distro variant installs into .venv-bench), run on
    /// 2026-11-30.
    const OFFICIAL: [(&str, f64); 8] = [
        ("4bf92f3577b34da6a3ce929d0e0e4736", 0.33461353850300124),
        ("0af7651916cd43dd8448eb211c80319c", 0.5278892803601405),
        ("ffffffffffffffffffffffffffffffff", 0.9996135514227736),
        ("00000000000000000000000000000001", 0.02339351457701694),
        ("a1b2c3d4e5f60718293a4b5c6d7e8f90", 0.6785836181037983),
        ("5b8aa5a2d2c872e8321cf37308d69df2", 0.07277265566995957),
        ("0123456789abcdef0123456789abcdef", 0.2572846455766282),
        ("deadbeefdeadbeefdeadbeefdeadbeef", 0.3044767953941956),
    ];

    #[test]
    fn scores_are_the_official_exporters() {
        for (hex, score) in OFFICIAL {
            assert_eq!(trace_score(id(hex)), score, "{hex}");
        }
    }

    #[test]
    fn a_fixed_ratio_keeps_the_traces_scoring_below_it() {
        let sampler = Sampler::Fixed(0.3);
        for (hex, score) in OFFICIAL {
            let d = sampler.decide(id(hex));
            assert_eq!(d.keep, score < 0.3, "{hex}");
            assert!((d.percentage - 30.0).abs() < 1e-9);
        }
        assert_eq!(Sampler::Fixed(1.0).decide(id(OFFICIAL[2].0)), Sampled::ALL);
        assert_eq!(Sampler::All.decide(id(OFFICIAL[2].0)), Sampled::ALL);
        assert!(!Sampler::Fixed(0.0).decide(id(OFFICIAL[3].0)).keep);
    }

    #[test]
    fn a_rate_limit_adapts_to_the_rate_roots_arrive_at() {
        let limit = RateLimit::new(10.0);
        let start = limit.window.lock().unwrap().last;
        // 1,000 roots a second for two seconds: about 1 % kept.
        let mut p = 100.0;
        for i in 1..=2_000u64 {
            p = limit.percentage(start + i * 1_000_000);
        }
        assert!((0.5..=2.0).contains(&p), "{p}");
        // Then 5 a second: everything.
        let later = start + 2_000 * 1_000_000;
        for i in 1..=20u64 {
            p = limit.percentage(later + i * 200_000_000);
        }
        assert_eq!(p, 100.0);
    }

    #[test]
    fn settings_choose_the_sampler_and_unregistered_spans_follow_it() {
        assert!(!Sampler::of(1.0, 0.0).samples());
        assert!(matches!(Sampler::of(0.5, 0.0), Sampler::Fixed(r) if r == 0.5));
        let limited = Sampler::of(1.0, 10.0);
        assert!(matches!(limited, Sampler::RateLimited(_)));
        assert_eq!(limited.describe(), "keeps about 10 traces/s");
        assert_eq!(Sampler::Fixed(0.25).describe(), "keeps 25% of traces");
        assert_eq!(Sampler::Fixed(0.1).describe(), "keeps 10% of traces");

        let fixed = Sampler::Fixed(0.3);
        for (hex, _) in OFFICIAL {
            assert_eq!(fixed.decide_unregistered(id(hex)), fixed.decide(id(hex)));
        }
        // A rate limit nobody asked yet keeps everything, and an unregistered
        // span does not count as a root.
        let Sampler::RateLimited(limit) = &limited else {
            unreachable!()
        };
        assert_eq!(limited.decide_unregistered(id(OFFICIAL[2].0)), Sampled::ALL);
        assert_eq!(limit.window.lock().unwrap().count, 0.0);
        let start = limit.window.lock().unwrap().last;
        for i in 1..=2_000u64 {
            limit.percentage(start + i * 1_000_000);
        }
        let now = limit.current();
        assert!(now < 2.0, "{now}");
        let d = limited.decide_unregistered(id(OFFICIAL[2].0));
        assert_eq!((d.keep, d.percentage), (false, now));
    }

    #[test]
    fn percentages_round_down_to_whole_items() {
        assert_eq!(rounded_down(30.0), 25.0);
        assert_eq!(rounded_down(100.0), 100.0);
        assert_eq!(rounded_down(0.0), 0.0);
        assert_eq!(rounded_down(1e-12), 0.0);
    }
}
