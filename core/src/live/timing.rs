//! When Live Metrics sends its next request: the ping / post cycle's timing
//! rules as a pure state machine, fed with what each request got back, so the
//! rules are tested without a clock or a network.
//!
//! The rules (`shared/notes/live-metrics.md`): ping every 5 s while nobody
//! watches, every 60 s once nobody has watched for a minute; while someone
//! watches, post every second; go back to pinging at once when a post says
//! nobody watches any more, or after 20 s without a successful post. Both
//! back-offs count time since the last success, never failures in a row
//! (the official Python client counts ticks it never resets: after its first
//! minute a new viewer waits up to a minute, and one failed post ends a
//! session). The service's polling hint replaces the 5 s interval; the 60 s
//! one stays unless the hint is longer. The first ping waits a second, so a
//! process that lives less than that (a command-line tool, a test) never
//! reaches the live endpoint.

use std::time::Duration;
use tokio::time::Instant;

/// The intervals of the cycle. Not API: tests scale them down so that the
/// rules can be watched on the wire in seconds (`AzureTelemetryBuilder::live_metrics_timings`).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveTimings {
    /// From the start to the first ping.
    pub first_ping: Duration,
    /// Between pings while nobody watches.
    pub ping: Duration,
    /// Between pings once nobody has watched for `unwatched_before_long_ping`.
    pub long_ping: Duration,
    pub unwatched_before_long_ping: Duration,
    /// Between posts while someone watches.
    pub post: Duration,
    /// Without a successful post for this long, back to pinging.
    pub post_give_up: Duration,
    /// Of one ping or post: short, since the next one is due soon anyway.
    pub request_timeout: Duration,
}

impl Default for LiveTimings {
    fn default() -> Self {
        Self {
            first_ping: Duration::from_secs(1),
            ping: Duration::from_secs(5),
            long_ping: Duration::from_secs(60),
            unwatched_before_long_ping: Duration::from_secs(60),
            post: Duration::from_secs(1),
            post_give_up: Duration::from_secs(20),
            request_timeout: Duration::from_secs(2),
        }
    }
}

impl LiveTimings {
    /// Every interval multiplied by `factor` (`0.05`: a 250 ms ping).
    pub fn scaled(factor: f64) -> Self {
        let d = Self::default();
        let s = |x: Duration| x.mul_f64(factor);
        Self {
            first_ping: s(d.first_ping),
            ping: s(d.ping),
            long_ping: s(d.long_ping),
            unwatched_before_long_ping: s(d.unwatched_before_long_ping),
            post: s(d.post),
            post_give_up: s(d.post_give_up),
            request_timeout: s(d.request_timeout),
        }
    }
}

/// What the cycle sends next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Nobody watches: ping to learn when someone does.
    Pinging,
    /// Someone watches: post counters and documents.
    Posting,
}

/// What one request got back, as far as timing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// HTTP 200; `subscribed` when it said `x-ms-qps-subscribed: true`.
    Answered {
        subscribed: bool,
        /// `x-ms-qps-service-polling-interval-hint` (a ping's).
        hint: Option<Duration>,
    },
    /// Anything else: no connection, a timeout, a status other than 200.
    Failed,
}

/// The cycle's state: the mode and the moments the back-offs count from.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    timings: LiveTimings,
    mode: Mode,
    /// The last answer that said someone watches (the start, before any).
    watched_at: Instant,
    /// The last successful post of the current session.
    posted_at: Instant,
    hint: Option<Duration>,
}

impl Schedule {
    pub fn new(timings: LiveTimings, now: Instant) -> Self {
        Self {
            timings,
            mode: Mode::Pinging,
            watched_at: now,
            posted_at: now,
            hint: None,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn first_ping(&self) -> Duration {
        self.timings.first_ping
    }

    /// A ping got `outcome` at `now`: how long after the ping's start the
    /// next request goes (counted from starts, so posts keep a steady second
    /// and a slow answer leaves no pause after it).
    pub fn pinged(&mut self, now: Instant, outcome: Outcome) -> Duration {
        match outcome {
            Outcome::Answered { subscribed, hint } => {
                // The service says how often it wants to hear from us; an
                // answer without a hint goes back to our own interval.
                self.hint = hint.filter(|h| !h.is_zero());
                if subscribed {
                    self.mode = Mode::Posting;
                    self.watched_at = now;
                    // The session's give-up counts from its start.
                    self.posted_at = now;
                    return self.timings.post;
                }
            }
            Outcome::Failed => {}
        }
        self.ping_interval(now)
    }

    /// A post got `outcome` at `now`: how long after the post's start the
    /// next request goes (a ping, when the session is over).
    pub fn posted(&mut self, now: Instant, outcome: Outcome) -> Duration {
        match outcome {
            Outcome::Answered {
                subscribed: true, ..
            } => {
                self.watched_at = now;
                self.posted_at = now;
                self.timings.post
            }
            Outcome::Answered {
                subscribed: false, ..
            } => {
                self.mode = Mode::Pinging;
                self.ping_interval(now)
            }
            Outcome::Failed => {
                if now.saturating_duration_since(self.posted_at) >= self.timings.post_give_up {
                    self.mode = Mode::Pinging;
                    self.ping_interval(now)
                } else {
                    self.timings.post
                }
            }
        }
    }

    /// The pause between pings now: the hint or 5 s, 60 s (or a longer
    /// hint) once nobody has watched for a minute.
    fn ping_interval(&self, now: Instant) -> Duration {
        let unwatched = now.saturating_duration_since(self.watched_at);
        let short = self.hint.unwrap_or(self.timings.ping);
        if unwatched >= self.timings.unwatched_before_long_ping {
            self.timings.long_ping.max(short)
        } else {
            short
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn answered(subscribed: bool) -> Outcome {
        Outcome::Answered {
            subscribed,
            hint: None,
        }
    }

    /// Pings every `rounds` times, each answered with `outcome`, starting at
    /// `t`; returns the delays and the time after the last.
    fn ping_rounds(
        s: &mut Schedule,
        mut t: Instant,
        rounds: usize,
        outcome: Outcome,
    ) -> (Vec<Duration>, Instant) {
        let mut delays = Vec::new();
        for _ in 0..rounds {
            let d = s.pinged(t, outcome);
            delays.push(d);
            t += d;
        }
        (delays, t)
    }

    #[test]
    fn pings_every_5_s_then_every_60_s_after_a_minute_unwatched() {
        let t0 = Instant::now();
        let mut s = Schedule::new(LiveTimings::default(), t0);
        let (delays, t) = ping_rounds(&mut s, t0, 12, answered(false));
        // At 0, 5, ..., 55 s: still within the first minute.
        assert!(delays.iter().all(|d| *d == 5 * S), "{delays:?}");
        assert_eq!(t, t0 + 60 * S);
        let (delays, _) = ping_rounds(&mut s, t, 3, answered(false));
        assert_eq!(delays, [60 * S; 3]);
        assert_eq!(s.mode(), Mode::Pinging);
    }

    #[test]
    fn failed_pings_follow_the_same_clock() {
        let t0 = Instant::now();
        let mut s = Schedule::new(LiveTimings::default(), t0);
        let (delays, t) = ping_rounds(&mut s, t0, 12, Outcome::Failed);
        assert!(delays.iter().all(|d| *d == 5 * S));
        assert_eq!(s.pinged(t, Outcome::Failed), 60 * S);
    }

    #[test]
    fn a_subscribed_ping_starts_posting_every_second() {
        let t0 = Instant::now();
        let mut s = Schedule::new(LiveTimings::default(), t0);
        // Long unwatched: a viewer is noticed at the 60 s ping...
        let t = t0 + 300 * S;
        assert_eq!(s.pinged(t, answered(true)), S);
        assert_eq!(s.mode(), Mode::Posting);
        // ...then posts go every second, however long the answer took.
        let mut at = t + S;
        for _ in 0..30 {
            assert_eq!(s.posted(at + S / 2, answered(true)), S);
            at += S;
        }
    }

    #[test]
    fn a_post_that_says_nobody_watches_ends_the_session_at_once() {
        let t0 = Instant::now();
        let mut s = Schedule::new(LiveTimings::default(), t0);
        let t = t0 + 600 * S;
        s.pinged(t, answered(true));
        s.posted(t + S, answered(true));
        // Watched a moment ago: the short interval, not the long one.
        assert_eq!(s.posted(t + 2 * S, answered(false)), 5 * S);
        assert_eq!(s.mode(), Mode::Pinging);
        // A new viewer within the minute is noticed within 5 s; after a
        // minute without one, pings slow down again.
        let (delays, _) = ping_rounds(&mut s, t + 7 * S, 13, answered(false));
        assert_eq!(delays[..11], [5 * S; 11]);
        assert_eq!(delays[12], 60 * S);
    }

    #[test]
    fn posts_give_up_after_20_s_without_success_not_after_one_failure() {
        let t0 = Instant::now();
        let mut s = Schedule::new(LiveTimings::default(), t0);
        s.pinged(t0, answered(true));
        let mut at = t0 + S;
        assert_eq!(s.posted(at, answered(true)), S);
        // Failures for 19 s: still posting every second.
        for _ in 0..19 {
            at += S;
            assert_eq!(s.posted(at, Outcome::Failed), S, "{:?}", at - t0);
            assert_eq!(s.mode(), Mode::Posting);
        }
        // One success resets the clock.
        at += S;
        assert_eq!(s.posted(at, answered(true)), S);
        for _ in 0..19 {
            at += S;
            s.posted(at, Outcome::Failed);
        }
        assert_eq!(s.mode(), Mode::Posting);
        at += S;
        assert_eq!(s.posted(at, Outcome::Failed), 5 * S);
        assert_eq!(s.mode(), Mode::Pinging);
    }

    #[test]
    fn the_polling_hint_replaces_the_short_interval_only() {
        let t0 = Instant::now();
        let mut s = Schedule::new(LiveTimings::default(), t0);
        let hinted = |ms| Outcome::Answered {
            subscribed: false,
            hint: Some(Duration::from_millis(ms)),
        };
        assert_eq!(s.pinged(t0, hinted(2000)), 2 * S);
        // An answer without one: our own interval again.
        assert_eq!(s.pinged(t0 + 2 * S, answered(false)), 5 * S);
        let late = t0 + 120 * S;
        assert_eq!(s.pinged(late, hinted(2000)), 60 * S);
        assert_eq!(s.pinged(late, hinted(90_000)), 90 * S);
        // A zero hint means nothing.
        assert_eq!(s.pinged(t0, hinted(0)), 5 * S);
    }

    #[test]
    fn scaled_timings_keep_the_proportions() {
        let t = LiveTimings::scaled(0.05);
        assert_eq!(t.ping, Duration::from_millis(250));
        assert_eq!(t.post, Duration::from_millis(50));
        assert_eq!(t.long_ping, Duration::from_secs(3));
        assert_eq!(t.post_give_up, S);
    }
}
