//! When to try again: exponential backoff with full jitter, and `Retry-After`.
//!
//! The jitter comes from a generator seeded per process, so many processes that
//! lost the same endpoint at the same moment do not retry in lockstep (the Rust
//! crate's fixed seed makes them do exactly that).
//!
//! What the service asks is honoured up to [`MAX_RETRY_AFTER`]: a value past it
//! (a typo, a bug, `u64::MAX`) would otherwise close the endpoint for centuries
//! or overflow the clock arithmetic.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// The longest wait a `Retry-After` can impose: past an hour, an answer is
/// more likely a mistake than a plan, and the data would age out of its use.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How many of the longest retry delays the endpoint gets after an answer
/// that a person has to fix (quota, authentication): 60 s with the defaults.
const LONG_WAIT_FACTOR: u32 = 6;

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
        // In u64 nanoseconds (584 years): a cast of a longer setting must not
        // wrap below the floor and leave an empty range.
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let (low, high) = (nanos(floor), nanos(ceiling));
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        Duration::from_nanos(rng.u64(low..=high.max(low)))
    }

    /// The wait after an answer that retrying soon cannot change (quota or
    /// daily cap, a refused key): several times the longest retry delay, so
    /// a misconfigured app costs the service one request a minute, not a
    /// stream of them.
    pub fn long(&self) -> Duration {
        self.max
            .saturating_mul(LONG_WAIT_FACTOR)
            .min(MAX_RETRY_AFTER)
    }
}

/// Parses a `Retry-After` value: delta-seconds or an HTTP date, at most
/// [`MAX_RETRY_AFTER`]. Dates in the past mean "now". Anything else (negative,
/// garbage) is `None`: the caller's own backoff applies.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    parse_unclamped(value.trim(), now).map(|d| d.min(MAX_RETRY_AFTER))
}

fn parse_unclamped(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        // Also catches integers too long for u64 ("1" followed by 30 zeros).
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(
                secs.min(MAX_RETRY_AFTER.as_secs_f64()),
            ));
        }
        return None;
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

    #[test]
    fn retry_after_is_clamped_to_an_hour_and_garbage_is_ignored() {
        let now = SystemTime::now();
        let hour = Some(MAX_RETRY_AFTER);
        for absurd in [
            "10000000000",
            "18446744073709551615",
            "100000000000000000000000000000",
            "1e300",
            "3601",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            assert_eq!(parse_retry_after(absurd, now), hour, "{absurd}");
        }
        assert_eq!(parse_retry_after("3600", now), hour);
        assert_eq!(
            parse_retry_after("3599", now),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        for garbage in [
            "-5",
            "-0.5",
            "NaN",
            "inf",
            "-inf",
            "",
            "5 s",
            "0x10",
            "\u{1F600}",
        ] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
        // Whatever it parses to can be added to the clock.
        for v in [
            "18446744073709551615",
            "1e300",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let d = parse_retry_after(v, now).unwrap();
            assert!(tokio::time::Instant::now().checked_add(d).is_some());
            assert!(std::time::Instant::now().checked_add(d).is_some());
        }
    }

    #[test]
    fn the_long_wait_is_six_of_the_longest_delays_within_an_hour() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
        assert_eq!(b.long(), Duration::from_secs(60));
        let b = Backoff::new(Duration::from_millis(1), Duration::from_millis(5));
        assert_eq!(b.long(), Duration::from_millis(30));
        let b = Backoff::new(Duration::from_secs(1), Duration::MAX);
        assert_eq!(b.long(), MAX_RETRY_AFTER);
    }
}
