//! Driving one future to completion on the calling thread, with a deadline.
//!
//! `flush` and `shutdown` must put a marker into the ingest queue even when it
//! is full, waiting for room at most until their deadline. They may be called
//! from any thread, including one inside the user's own async runtime, where
//! tokio's blocking helpers panic; this small parker-based executor works anywhere.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` until it completes (`Some`) or `deadline` passes (`None`).
pub(crate) fn block_on_until<F: Future>(fut: F, deadline: Instant) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        thread::park_timeout(deadline - now);
    }
}
