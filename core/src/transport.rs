//! The `HttpClient` that `opentelemetry-application-insights` "sends" through.
//!
//! It sends nothing. The crate maps envelopes, serialises and gzips them, and
//! then would own delivery: its retries block its export for up to 35 s, ignore
//! `Retry-After`, and report success for items the service rejected. So this
//! client takes the finished body, hands it to our delivery layer, and answers
//! the crate with a plain 200. Delivery (retries, redirects, persistence,
//! counting) is ours end to end; see `delivery.rs`.

use crate::delivery::Delivery;
use crate::payload::{BatchRef, Payload};
use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

/// Path of the ingestion API; `v2.1` is what the official SDKs use.
pub const TRACK_PATH: &str = "v2.1/track";

tokio::task_local! {
    /// Set by an export task around its call into the crate: the body lands
    /// here and the task delivers it itself, so it can settle its batch.
    static CAPTURED: RefCell<Option<Bytes>>;
}

/// Runs `export` (a call into the crate) and returns its result together with
/// the body it produced, if any.
pub(crate) async fn capture<F: std::future::Future>(export: F) -> (F::Output, Option<Bytes>) {
    CAPTURED
        .scope(RefCell::new(None), async move {
            let out = export.await;
            (out, CAPTURED.with(|c| c.borrow_mut().take()))
        })
        .await
}

#[derive(Debug)]
pub(crate) struct CaptureClient {
    delivery: Arc<Delivery>,
    runtime: tokio::runtime::Handle,
    /// The batch a metric collection started by `flush` belongs to. Metric
    /// exports run on the SDK reader's thread, outside any export task.
    metrics_batch: Arc<Mutex<Option<BatchRef>>>,
}

impl CaptureClient {
    pub fn new(
        delivery: Arc<Delivery>,
        runtime: tokio::runtime::Handle,
        metrics_batch: Arc<Mutex<Option<BatchRef>>>,
    ) -> Self {
        Self {
            delivery,
            runtime,
            metrics_batch,
        }
    }
}

#[async_trait]
impl HttpClient for CaptureClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let body = request.into_body();
        let captured = CAPTURED
            .try_with(|c| c.borrow_mut().replace(body.clone()))
            .is_ok();
        if !captured {
            let batch = self
                .metrics_batch
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            let delivery = Arc::clone(&self.delivery);
            self.runtime
                .spawn(async move { delivery.deliver(Payload::new(body, batch)).await });
        }
        Ok(Response::builder().status(200).body(Bytes::new())?)
    }
}

/// The parts of the service's JSON answer delivery needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TrackResponse {
    pub received: u64,
    pub accepted: u64,
    /// `(index, status)` of every item not accepted.
    pub errors: Vec<(usize, u16)>,
}

impl TrackResponse {
    pub fn parse(body: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let errors = v["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .filter_map(|e| {
                        Some((
                            e["index"].as_u64()? as usize,
                            e["statusCode"].as_u64()? as u16,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            received: v["itemsReceived"].as_u64()?,
            accepted: v["itemsAccepted"].as_u64()?,
            errors,
        })
    }
}

/// Item or request statuses the service documents as worth retrying.
pub fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
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
            Some(TrackResponse {
                received: 4,
                accepted: 1,
                errors: vec![(0, 400), (1, 503), (2, 500)]
            })
        );
        assert_eq!(TrackResponse::parse(b"not json"), None);
    }
}
