//! The `HttpClient` that `opentelemetry-application-insights` "sends" through.
//!
//! It sends nothing. The crate maps envelopes, serialises and gzips them, and
//! then would own delivery: its retries block its export for up to 35 s, ignore
//! `Retry-After`, and report success for items the service rejected. So this
//! client takes the finished body, hands it to our delivery layer, and answers
//! the crate with a plain 200. Delivery (retries, redirects, persistence,
//! counting) is ours end to end; see `delivery/`.

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};
use std::cell::RefCell;
use std::sync::Arc;

tokio::task_local! {
    /// Set by an export task around its call into the crate: the body lands
    /// here and the task delivers it itself, so it can settle its batch.
    static CAPTURED: RefCell<Option<Bytes>>;
}

/// Runs `export` (a call into the crate) and returns its result together with
/// the body it produced, if any.
#[cfg(test)]
pub(crate) async fn capture<F: std::future::Future>(export: F) -> (F::Output, Option<Bytes>) {
    CAPTURED
        .scope(RefCell::new(None), async move {
            let out = export.await;
            (out, CAPTURED.with(|c| c.borrow_mut().take()))
        })
        .await
}

/// What becomes of a body produced outside [`capture`]: metric exports run on
/// the SDK reader's thread, outside any export task.
pub(crate) type Uncaptured = Arc<dyn Fn(Bytes) + Send + Sync>;

pub(crate) struct CaptureClient {
    uncaptured: Uncaptured,
}

impl std::fmt::Debug for CaptureClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CaptureClient")
    }
}

impl CaptureClient {
    pub fn new(uncaptured: Uncaptured) -> Self {
        Self { uncaptured }
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
            (self.uncaptured)(body);
        }
        Ok(Response::builder().status(200).body(Bytes::new())?)
    }
}
