//! The `HttpClient` that `opentelemetry-application-insights` "sends" through.
//!
//! It sends nothing. The crate maps envelopes, serialises and gzips them, and
//! then would own delivery: its retries block its export for up to 35 s, ignore
//! `Retry-After`, and report success for items the service rejected. So this
//! client takes the finished body, hands it to our delivery layer, and answers
//! the crate with a plain 200. Delivery (retries, redirects, persistence,
//! counting) is ours end to end; see `delivery/`.

use crate::accounting::BatchRef;
use crate::delivery::{Delivery, Payload};
use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

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
