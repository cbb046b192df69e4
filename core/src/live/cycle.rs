//! The ping / post cycle: one task on the pipeline's runtime that pings the
//! live endpoint until someone watches, then posts every interval what the
//! tap gathered, and goes back to pinging when the session ends. When each
//! request goes is [`Schedule`]'s business; what an answer changes (a new
//! configuration, a new endpoint) is applied here.

use super::client::{Client, Reply};
use super::configuration::Configuration;
use super::data_point::Identity;
use super::process::ProcessClock;
use super::tap::Collector;
use super::timing::{Mode, Outcome, Schedule};
use crate::diagnostics::Diagnostics;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

pub(crate) struct Cycle {
    pub(super) client: Client,
    pub(super) schedule: Schedule,
    pub(super) collector: Arc<Collector>,
    pub(super) identity: Identity,
    pub(super) process: ProcessClock,
    pub(super) diagnostics: Arc<Diagnostics>,
    /// The configuration in force, echoed on every request.
    pub(super) etag: String,
    /// The last request failed (a failure is said once per run of them).
    pub(super) failing: bool,
}

impl Cycle {
    /// Runs until the runtime stops.
    pub async fn run(mut self) {
        tokio::time::sleep(self.schedule.first_ping()).await;
        loop {
            let started = Instant::now();
            let delay = match self.schedule.mode() {
                Mode::Pinging => self.ping().await,
                Mode::Posting => self.post().await,
            };
            // Counted from the start: a post every interval, however long
            // each took.
            tokio::time::sleep_until(started + delay).await;
        }
    }

    async fn ping(&mut self) -> Duration {
        let reply = self
            .client
            .ping(&self.etag, self.identity.ping_body())
            .await;
        let outcome = self.read(reply);
        let delay = self.schedule.pinged(Instant::now(), outcome);
        if self.schedule.mode() == Mode::Posting {
            self.process.restart();
            self.collector.start_watching();
        }
        delay
    }

    async fn post(&mut self) -> Duration {
        let body = self
            .collector
            .take()
            .post_body(&self.identity, self.process.sample());
        let reply = self.client.post(&self.etag, body).await;
        let outcome = self.read(reply);
        let delay = self.schedule.posted(Instant::now(), outcome);
        if self.schedule.mode() == Mode::Pinging {
            self.collector.stop_watching();
        }
        delay
    }

    /// Applies what an answer says and tells the schedule how it went.
    fn read(&mut self, reply: Reply) -> Outcome {
        let answer = match reply {
            Reply::Answered(answer) => answer,
            Reply::Failed(reason) => {
                if !self.failing {
                    self.failing = true;
                    self.diagnostics.say("live-metrics", || {
                        format!(
                            "Live Metrics: {reason}; trying again on its own schedule \
                             (enable_live_metrics=false turns Live Metrics off)"
                        )
                    });
                }
                return Outcome::Failed;
            }
        };
        self.failing = false;
        if let Some(base) = answer.redirect {
            if base != self.client.base() {
                self.client.redirect(base);
            }
        }
        if answer.redirect_refused {
            self.diagnostics.say("live-metrics-redirect", || {
                "Live Metrics: the service redirected to a host outside Azure's monitoring \
                 domains (or to plain http); staying on the configured endpoint"
                    .to_string()
            });
        }
        if let Some((etag, body)) = answer.configuration {
            if etag != self.etag {
                let configuration = Configuration::parse(&etag, &body);
                if !configuration.errors.is_empty() {
                    let n = configuration.errors.len();
                    self.diagnostics.say("live-metrics-configuration", || {
                        format!(
                            "Live Metrics: {n} part(s) of the portal's filter configuration \
                             could not be applied; the portal shows why"
                        )
                    });
                }
                self.etag = etag;
                self.collector.install(configuration);
            }
        }
        Outcome::Answered {
            subscribed: answer.subscribed,
            hint: answer.polling_hint,
        }
    }
}
