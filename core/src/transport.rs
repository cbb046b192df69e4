//! Our HTTP transport: the `HttpClient` that `opentelemetry-application-insights`
//! sends through.
//!
//! It owns where requests go. The crate rewrites every `http://` endpoint to
//! `https://`; this transport ignores the crate's URL and posts to the endpoint
//! the user configured, which `ConnectionString` allows to be plain `http://`
//! only on loopback (the local emulator). It also reads each response to count
//! what the service accepted and rejected.

use crate::connection_string::Endpoint;
use crate::stats::Counters;
use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use std::sync::Arc;
use std::time::Duration;

/// Path of the ingestion API; `v2.1` is what the official SDKs use.
pub const TRACK_PATH: &str = "v2.1/track";

#[derive(Debug)]
pub(crate) struct Transport {
    client: reqwest::Client,
    track_url: String,
    counters: Arc<Counters>,
    /// Requests run on our runtime even when the caller polls from elsewhere
    /// (the SDK's metric reader drives exports from its own thread).
    runtime: tokio::runtime::Handle,
}

impl Transport {
    pub fn new(
        endpoint: &Endpoint,
        timeout: Duration,
        counters: Arc<Counters>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("genkit-azure/", env!("CARGO_PKG_VERSION")))
            // Redirects are handled by the delivery layer, which must remember
            // the new host; never follow them blindly.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            track_url: endpoint.join(TRACK_PATH),
            counters,
            runtime,
        })
    }

    fn record_response(&self, status: u16, body: &[u8]) {
        if status != 200 && status != 206 {
            return;
        }
        let Some(summary) = TrackResponse::parse(body) else {
            return;
        };
        Counters::add(&self.counters.envelopes_sent, summary.received);
        Counters::add(&self.counters.envelopes_delivered, summary.accepted);
        Counters::add(&self.counters.envelopes_rejected, summary.permanently_rejected);
    }
}

/// The parts of the service's JSON answer this transport needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TrackResponse {
    pub received: u64,
    pub accepted: u64,
    /// Items whose own status will not succeed on retry.
    pub permanently_rejected: u64,
}

impl TrackResponse {
    pub fn parse(body: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let permanently_rejected = v["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .filter(|e| !is_retryable(e["statusCode"].as_u64().unwrap_or(0) as u16))
                    .count() as u64
            })
            .unwrap_or(0);
        Some(Self {
            received: v["itemsReceived"].as_u64()?,
            accepted: v["itemsAccepted"].as_u64()?,
            permanently_rejected,
        })
    }
}

/// Statuses the service documents as worth retrying.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 439 | 500 | 502 | 503 | 504)
}

#[async_trait]
impl HttpClient for Transport {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        Counters::add(&self.counters.http_requests, 1);
        Counters::add(&self.counters.bytes_sent, body.len() as u64);
        let request = self.client.post(&self.track_url).headers(parts.headers).body(body);
        let (status, bytes) = self
            .runtime
            .spawn(async move {
                let response = request.send().await?;
                let status = response.status();
                Ok::<_, reqwest::Error>((status, response.bytes().await?))
            })
            .await??;
        self.record_response(status.as_u16(), &bytes);
        Ok(Response::builder().status(status).body(bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_partial_success_answers() {
        let body = br#"{"itemsReceived":4,"itemsAccepted":1,"errors":[
            {"index":0,"statusCode":400,"message":"bad"},
            {"index":1,"statusCode":503,"message":"busy"},
            {"index":2,"statusCode":500,"message":"oops"}]}"#;
        assert_eq!(
            TrackResponse::parse(body),
            Some(TrackResponse { received: 4, accepted: 1, permanently_rejected: 1 })
        );
        assert_eq!(TrackResponse::parse(b"not json"), None);
    }
}
