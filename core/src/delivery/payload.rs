//! A request body on its way to the service: gzipped JSON array of envelopes,
//! plus what is needed to settle its batch.

use crate::accounting::BatchRef;
use bytes::Bytes;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::value::RawValue;
use std::io::{Read, Write};

#[derive(Debug, Clone)]
pub(crate) struct Payload {
    /// gzip of a JSON array of envelopes.
    pub body: Bytes,
    pub batch: Option<BatchRef>,
    /// Some envelope of this batch was already lost (rejected or dropped).
    pub lossy: bool,
    /// How many times this body was sent and failed transiently.
    pub attempts: u32,
}

impl Payload {
    pub fn new(body: Bytes, batch: Option<BatchRef>) -> Self {
        Self {
            body,
            batch,
            lossy: false,
            attempts: 0,
        }
    }

    /// A payload with only the envelopes at `indexes` (as numbered in this body).
    pub fn subset(&self, indexes: &[usize]) -> Result<Payload, String> {
        let json = gunzip(&self.body)?;
        let items: Vec<&RawValue> = serde_json::from_slice(&json)
            .map_err(|e| format!("payload is not a JSON array: {e}"))?;
        let mut out = Vec::with_capacity(json.len());
        out.push(b'[');
        let mut first = true;
        for &i in indexes {
            if let Some(item) = items.get(i) {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(item.get().as_bytes());
            }
        }
        out.push(b']');
        Ok(Payload {
            body: gzip(&out)?.into(),
            batch: self.batch,
            lossy: self.lossy,
            attempts: self.attempts,
        })
    }
}

pub(crate) fn gzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 4), Compression::default());
    enc.write_all(data).map_err(|e| e.to_string())?;
    enc.finish().map_err(|e| e.to_string())
}

pub(crate) fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() * 4);
    GzDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| format!("payload is not gzip: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_keep_the_chosen_envelopes_verbatim() {
        let body = gzip(br#"[{"a":1},{"b":[2,3]},{"c":"x,y"}]"#).unwrap();
        let p = Payload::new(body.into(), Some(BatchRef { id: 7, items: 3 }));
        let s = p.subset(&[0, 2, 9]).unwrap();
        assert_eq!(gunzip(&s.body).unwrap(), br#"[{"a":1},{"c":"x,y"}]"#);
        assert_eq!(s.batch, p.batch);
        assert!(Payload::new(Bytes::from_static(b"nope"), None)
            .subset(&[0])
            .is_err());
    }
}
