//! What the envelope tests share: reading a written body back, and writing
//! attributes tersely.

use opentelemetry::{KeyValue, Value};
use serde_json::Value as Json;
use std::io::Read;

/// The envelopes of a gzipped request body.
pub(crate) fn decode(gzip: &[u8]) -> Vec<Json> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gzip)
        .read_to_end(&mut json)
        .expect("gzip");
    serde_json::from_slice(&json).expect("a JSON array")
}

pub(crate) fn kv(k: &'static str, v: impl Into<Value>) -> KeyValue {
    KeyValue::new(k, v)
}
