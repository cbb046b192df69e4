//! What the ingestion endpoint answers, and which of its statuses are worth retrying.

/// Path of the ingestion API; `v2.1` is what the official SDKs use.
pub const TRACK_PATH: &str = "v2.1/track";

/// The most of an answer's body that is read: the service's longest answer
/// (a 206 naming every one of a request's 32,768 envelopes, a message each)
/// is a few MB. A body past it is treated as unreadable, so an endpoint
/// that streams without end costs neither memory nor the request's time.
pub(crate) const MAX_ANSWER_BYTES: usize = 16 << 20;

/// Reads an answer's body, up to `limit` bytes; `None` when it is longer or
/// the connection fails before its end.
pub(crate) async fn read_body(mut response: reqwest::Response, limit: usize) -> Option<Vec<u8>> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// The parts of the service's JSON answer delivery needs.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TrackResponse {
    pub received: u64,
    pub accepted: u64,
    /// `(index, status)` of every item not accepted, each index once.
    pub errors: Vec<(usize, u16)>,
}

impl TrackResponse {
    /// Reads the answer; `None` when it is not one. An item error without a
    /// readable index and status (missing, negative, a fraction, a status
    /// past 65,535) makes the whole answer unreadable, as a 206 that is not
    /// JSON is, rather than being skipped (its item would count as accepted)
    /// or wrapped into another status (65,936 would read as 400). An index
    /// named again keeps its first status, so that a buggy or hostile answer
    /// cannot have an envelope sent twice in one retry, nor a retry grow
    /// with every answer.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let listed = match &v["errors"] {
            serde_json::Value::Null => Vec::new(),
            errors => errors
                .as_array()?
                .iter()
                .map(|e| {
                    let index = usize::try_from(e["index"].as_u64()?).ok()?;
                    let status = u16::try_from(e["statusCode"].as_u64()?).ok()?;
                    Some((index, status))
                })
                .collect::<Option<Vec<_>>>()?,
        };
        let mut named = std::collections::HashSet::with_capacity(listed.len());
        Some(Self {
            received: v["itemsReceived"].as_u64()?,
            accepted: v["itemsAccepted"].as_u64()?,
            errors: listed
                .into_iter()
                .filter(|&(index, _)| named.insert(index))
                .collect(),
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

    /// What a buggy or hostile service may say of its items: an index named
    /// twice keeps its first status; an error whose index or status is
    /// none makes the answer unreadable.
    #[test]
    fn an_index_named_again_is_read_once_and_an_odd_error_makes_the_answer_unreadable() {
        let body = br#"{"itemsReceived":4,"itemsAccepted":1,"errors":[
            {"index":1,"statusCode":500}, {"index":2,"statusCode":429}, {"index":1,"statusCode":400},
            {"index":1,"statusCode":500}, {"index":3,"statusCode":400}, {"index":2,"statusCode":500}]}"#;
        assert_eq!(
            TrackResponse::parse(body).map(|r| r.errors),
            Some(vec![(1, 500), (2, 429), (3, 400)])
        );
        for error in [
            r#"{"index":0,"statusCode":65936}"#,
            r#"{"index":0,"statusCode":-400}"#,
            r#"{"index":0,"statusCode":400.5}"#,
            r#"{"index":0,"statusCode":"400"}"#,
            r#"{"index":0}"#,
            r#"{"index":-1,"statusCode":500}"#,
            r#"{"index":18446744073709551616,"statusCode":500}"#,
            r#"{"statusCode":500}"#,
            r#"[0, 500]"#,
        ] {
            let body = format!(
                r#"{{"itemsReceived":2,"itemsAccepted":1,"errors":[{{"index":1,"statusCode":500}},{error}]}}"#
            );
            assert_eq!(TrackResponse::parse(body.as_bytes()), None, "{error}");
        }
        let not_a_list =
            br#"{"itemsReceived":1,"itemsAccepted":0,"errors":{"index":0,"statusCode":500}}"#;
        assert_eq!(TrackResponse::parse(not_a_list), None);
        let without = br#"{"itemsReceived":1,"itemsAccepted":1}"#;
        assert_eq!(
            TrackResponse::parse(without).map(|r| r.errors),
            Some(vec![])
        );
    }
}
