//! When to try again: exponential backoff with full jitter, and `Retry-After`.
//!
//! The jitter comes from a generator seeded per process, so many processes that
//! lost the same endpoint at the same moment do not retry in lockstep (the Rust
//! crate's fixed seed makes them do exactly that).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

#[derive(Debug)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    rng: Mutex<fastrand::Rng>,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            // `Rng::new()` draws its seed from the process's random state.
            rng: Mutex::new(fastrand::Rng::new()),
        }
    }

    /// The delay before retry number `attempt` (1-based): uniformly random in
    /// `0..=min(max, base * 2^(attempt-1))`, never below 10% of the base so a
    /// dead endpoint is not hammered.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.max);
        let floor = self.base / 10;
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let nanos =
            rng.u64(floor.as_nanos() as u64..=ceiling.as_nanos().max(floor.as_nanos()) as u64);
        Duration::from_nanos(nanos)
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date. Dates in the
/// past mean "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs.min(86_400.0)));
        }
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_within_the_cap_and_vary() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..30 {
            let d = b.delay(attempt);
            let cap = Duration::from_millis(100)
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(Duration::from_secs(2));
            assert!(
                d <= cap && d >= Duration::from_millis(10),
                "{attempt}: {d:?}"
            );
        }
        let many: std::collections::HashSet<_> = (0..50).map(|_| b.delay(5)).collect();
        assert!(many.len() > 40, "jitter must spread retries");
    }

    #[test]
    fn two_generators_do_not_share_a_sequence() {
        let a = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let sa: Vec<_> = (0..8).map(|_| a.delay(6)).collect();
        let sb: Vec<_> = (0..8).map(|_| b.delay(6)).collect();
        assert_ne!(sa, sb);
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }
}
