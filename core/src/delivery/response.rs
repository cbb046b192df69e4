//! What the ingestion endpoint answers, and which of its statuses are worth retrying.

/// Path of the ingestion API; `v2.1` is what the official SDKs use.
pub const TRACK_PATH: &str = "v2.1/track";

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
