//! Live Metrics (QuickPulse), as the service speaks it: `POST
//! /QuickPulseService.svc/ping` and `POST /QuickPulseService.svc/post`
//! (`?api-version=...&ikey=...`), answered the way a test sets with a
//! [`LiveControl`]: whether someone watches (`x-ms-qps-subscribed`), a filter
//! configuration (sent with `x-ms-qps-configuration-etag` to every request
//! whose etag differs), a polling hint, a redirect, or a failing status.
//! Every request is recorded as a [`LiveRequest`], body parsed.
//!
//! Requests are checked as the service would need them: the query's
//! `api-version` and `ikey` (the emulator's key when it has one), a numeric
//! `x-ms-qps-transmission-time`, a ping's `x-ms-qps-*` identity headers, and
//! the body's shape (a ping: one MonitoringDataPoint with its identity fields;
//! a post: an array of one, with `Timestamp`, `Metrics` and `Documents`). A
//! request that fails a check gets 400, and its record says why.
//!
//! Control API: `GET /live` (the control and the requests), `POST /live` (a
//! whole new control, JSON), `DELETE /live` (back to nobody watching).
//! `POST /reset` clears the requests; the control stays, as fault plans do.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const PING_PATH: &str = "/QuickPulseService.svc/ping";
pub const POST_PATH: &str = "/QuickPulseService.svc/post";

/// How the emulator answers pings and posts. `LiveControl::default()` (JSON
/// `{}`): 200, nobody watching, no configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveControl {
    /// Someone watches the portal: `x-ms-qps-subscribed: true`.
    pub subscribed: bool,
    /// A filter configuration (CollectionConfigurationInfo) with its `ETag`:
    /// sent in the body of every answer to a request whose
    /// `x-ms-qps-configuration-etag` differs from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Value>,
    /// `x-ms-qps-service-polling-interval-hint` on every answer, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polling_hint_ms: Option<u64>,
    /// `x-ms-qps-service-endpoint-redirect-v2` on every answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
    /// Answer every ping and post with this status instead (no headers,
    /// nothing applied), e.g. 503 for an outage of the live endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
}

impl LiveControl {
    /// Someone watches, nothing else set.
    pub fn watched() -> Self {
        Self {
            subscribed: true,
            ..Self::default()
        }
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let control: Self =
            serde_json::from_str(text).map_err(|e| format!("invalid live control: {e}"))?;
        if let Some(c) = &control.configuration {
            if !c.get("ETag").is_some_and(Value::is_string) {
                return Err("a configuration needs an \"ETag\" string".into());
            }
        }
        if let Some(s) = control.status {
            if !(100..=599).contains(&s) {
                return Err(format!("status {s} is not an HTTP status"));
            }
        }
        Ok(control)
    }

    fn etag(&self) -> Option<&str> {
        self.configuration.as_ref()?.get("ETag")?.as_str()
    }
}

/// Which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveKind {
    Ping,
    Post,
}

/// One ping or post as the emulator saw and answered it (`GET /live`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveRequest {
    pub kind: LiveKind,
    /// The query's `ikey` and `api-version`.
    pub ikey: Option<String>,
    pub api_version: Option<String>,
    /// `x-ms-qps-*` headers, `content-type` and `content-encoding`, by
    /// lowercase name; `authorization` says only `Bearer` when present.
    pub headers: BTreeMap<String, String>,
    /// The body, parsed (`null` when it is not JSON).
    pub body: Value,
    /// The status answered.
    pub status: u16,
    /// What the answer said: someone watches.
    pub subscribed: bool,
    /// The etag of the configuration the answer carried, if it carried one.
    pub configuration_sent: Option<String>,
    /// Why it was refused with 400.
    pub error: Option<String>,
    /// When it arrived, in microseconds since the emulator started.
    pub received_us: u64,
}

impl LiveRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// A post's data point (the body's one element).
    pub fn data_point(&self) -> &Value {
        match self.kind {
            LiveKind::Ping => &self.body,
            LiveKind::Post => &self.body[0],
        }
    }

    /// A post's metric named `name`, if it was sent.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.data_point()["Metrics"]
            .as_array()?
            .iter()
            .find(|m| m["Name"] == name)?["Value"]
            .as_f64()
    }

    /// A post's documents.
    pub fn documents(&self) -> &[Value] {
        self.data_point()["Documents"]
            .as_array()
            .map_or(&[], Vec::as_slice)
    }
}

/// The answer to one request: status, headers, body.
pub struct LiveAnswer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// The control and the requests, kept under the state's lock.
#[derive(Debug, Default)]
pub(crate) struct Live {
    pub control: LiveControl,
    pub requests: Vec<LiveRequest>,
}

/// What a request brought.
pub(crate) struct Incoming<'a> {
    pub kind: LiveKind,
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub received_us: u64,
    /// The auth plan refused it (status, why): answered so, as the service
    /// checks Entra ID first.
    pub refused: Option<(u16, String)>,
}

impl Live {
    /// Answers one request as the control says and records it. `ikey`: the
    /// emulator's key, if it checks one.
    pub fn answer(&mut self, req: Incoming<'_>, ikey: Option<&str>) -> LiveAnswer {
        let query: BTreeMap<String, String> = req
            .query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        let mut headers = BTreeMap::new();
        for (name, value) in req.headers {
            let n = name.as_str();
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if n.starts_with("x-ms-qps-") || n == "content-type" || n == "content-encoding" {
                headers.insert(n.to_string(), value);
            } else if n == "authorization" {
                let scheme = value.split(' ').next().unwrap_or_default().to_string();
                headers.insert(n.to_string(), scheme);
            }
        }
        let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
        let mut record = LiveRequest {
            kind: req.kind,
            ikey: query.get("ikey").cloned(),
            api_version: query.get("api-version").cloned(),
            headers,
            body,
            status: 200,
            subscribed: false,
            configuration_sent: None,
            error: None,
            received_us: req.received_us,
        };
        let answer = if let Some((status, why)) = req.refused {
            record.error = Some(why);
            LiveAnswer {
                status,
                headers: Vec::new(),
                body: String::new(),
            }
        } else if let Some(status) = self.control.status {
            LiveAnswer {
                status,
                headers: Vec::new(),
                body: String::new(),
            }
        } else if let Err(why) = check(&record, ikey) {
            record.error = Some(why.clone());
            LiveAnswer {
                status: 400,
                headers: Vec::new(),
                body: serde_json::json!({ "error": why }).to_string(),
            }
        } else {
            let c = &self.control;
            record.subscribed = c.subscribed;
            let mut headers = vec![(
                "x-ms-qps-subscribed",
                if c.subscribed { "true" } else { "false" }.to_string(),
            )];
            if let Some(ms) = c.polling_hint_ms {
                headers.push(("x-ms-qps-service-polling-interval-hint", ms.to_string()));
            }
            if let Some(to) = &c.redirect {
                headers.push(("x-ms-qps-service-endpoint-redirect-v2", to.clone()));
            }
            let mut body = String::new();
            if let (Some(etag), Some(config)) = (c.etag(), &c.configuration) {
                if record.header("x-ms-qps-configuration-etag") != Some(etag) {
                    headers.push(("x-ms-qps-configuration-etag", etag.to_string()));
                    body = config.to_string();
                    record.configuration_sent = Some(etag.to_string());
                }
            }
            LiveAnswer {
                status: 200,
                headers,
                body,
            }
        };
        record.status = answer.status;
        self.requests.push(record);
        answer
    }
}

/// What the service needs of a request; `Err` says what is missing.
fn check(r: &LiveRequest, ikey: Option<&str>) -> Result<(), String> {
    match (r.ikey.as_deref(), ikey) {
        (None | Some(""), _) => return Err("the query has no ikey".into()),
        (Some(got), Some(want)) if !got.eq_ignore_ascii_case(want) => {
            return Err("the query's ikey is not this resource's".into())
        }
        _ => {}
    }
    if r.api_version.as_deref().unwrap_or_default().is_empty() {
        return Err("the query has no api-version".into());
    }
    if !r
        .header("x-ms-qps-transmission-time")
        .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("x-ms-qps-transmission-time is missing or not a number of ticks".into());
    }
    if r.header("x-ms-qps-configuration-etag").is_none() {
        return Err("x-ms-qps-configuration-etag is missing".into());
    }
    if r.header("content-encoding").is_some() {
        return Err("Live Metrics bodies are not compressed".into());
    }
    let point = match r.kind {
        LiveKind::Ping => {
            for h in [
                "x-ms-qps-machine-name",
                "x-ms-qps-instance-name",
                "x-ms-qps-stream-id",
                "x-ms-qps-role-name",
                "x-ms-qps-invariant-version",
            ] {
                if r.header(h).is_none() {
                    return Err(format!("a ping needs {h}"));
                }
            }
            if !r.body.is_object() {
                return Err("a ping's body is one MonitoringDataPoint object".into());
            }
            &r.body
        }
        LiveKind::Post => match r.body.as_array().map(Vec::as_slice) {
            Some([point]) => point,
            _ => return Err("a post's body is an array of one MonitoringDataPoint".into()),
        },
    };
    for f in ["Version", "Instance", "RoleName", "MachineName", "StreamId"] {
        if !point[f].is_string() {
            return Err(format!("the data point's {f} is not a string"));
        }
    }
    if !point["InvariantVersion"].is_u64() {
        return Err("the data point's InvariantVersion is not a number".into());
    }
    for f in ["IsWebApp", "PerformanceCollectionSupported"] {
        if !point[f].is_boolean() {
            return Err(format!("the data point's {f} is not a boolean"));
        }
    }
    if r.kind == LiveKind::Post {
        if !point["Timestamp"].is_string() {
            return Err("a post's data point needs a Timestamp".into());
        }
        let Some(metrics) = point["Metrics"].as_array() else {
            return Err("a post's data point needs Metrics".into());
        };
        for m in metrics {
            if !(m["Name"].is_string() && m["Value"].is_number() && m["Weight"].is_number()) {
                return Err(format!("a metric is not {{Name, Value, Weight}}: {m}"));
            }
        }
        let Some(documents) = point["Documents"].as_array() else {
            return Err("a post's data point needs Documents".into());
        };
        for d in documents {
            if !d["DocumentType"].is_string() {
                return Err(format!("a document has no DocumentType: {d}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(ping: bool, etag: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-ms-qps-transmission-time",
            "638355968001234567".parse().unwrap(),
        );
        h.insert("x-ms-qps-configuration-etag", etag.parse().unwrap());
        if ping {
            for n in [
                "x-ms-qps-machine-name",
                "x-ms-qps-instance-name",
                "x-ms-qps-stream-id",
                "x-ms-qps-role-name",
                "x-ms-qps-invariant-version",
            ] {
                h.insert(n, "x".parse().unwrap());
            }
        }
        h
    }

    fn point() -> Value {
        json!({"Version": "v", "InvariantVersion": 5, "Instance": "i", "RoleName": "r",
               "MachineName": "m", "StreamId": "s", "IsWebApp": false,
               "PerformanceCollectionSupported": true})
    }

    const QUERY: &str = "api-version=2024-04-01-preview&ikey=K";

    #[test]
    fn answers_as_the_control_says_and_sends_a_configuration_until_echoed() {
        let mut live = Live::default();
        let ping = serde_json::to_vec(&point()).unwrap();
        let h = headers(true, "");
        let req = |h| Incoming {
            kind: LiveKind::Ping,
            query: QUERY,
            headers: h,
            body: &ping,
            received_us: 0,
            refused: None,
        };
        let a = live.answer(req(&h), None);
        assert_eq!(a.status, 200);
        assert!(a.headers.contains(&("x-ms-qps-subscribed", "false".into())));
        live.control = LiveControl::from_json(
            r#"{"subscribed": true, "configuration": {"ETag": "e1", "Metrics": []}, "polling_hint_ms": 100}"#,
        )
        .unwrap();
        let a = live.answer(req(&h), None);
        assert!(a.headers.contains(&("x-ms-qps-subscribed", "true".into())));
        assert!(a
            .headers
            .contains(&("x-ms-qps-configuration-etag", "e1".into())));
        assert!(a
            .headers
            .contains(&("x-ms-qps-service-polling-interval-hint", "100".into())));
        assert_eq!(
            serde_json::from_str::<Value>(&a.body).unwrap()["ETag"],
            "e1"
        );
        // Echoed: not sent again.
        let echoed = headers(true, "e1");
        let a = live.answer(req(&echoed), None);
        assert!(a.body.is_empty());
        assert_eq!(live.requests.len(), 3);
        assert_eq!(live.requests[1].configuration_sent.as_deref(), Some("e1"));
        assert_eq!(live.requests[2].configuration_sent, None);
    }

    #[test]
    fn malformed_requests_get_400_saying_why() {
        let mut live = Live::default();
        let mut post_point = point();
        post_point["Timestamp"] = json!("2026-11-24T10:00:00Z");
        post_point["Metrics"] = json!([{"Name": "n", "Value": 1.0, "Weight": 1}]);
        post_point["Documents"] = json!([]);
        let good = serde_json::to_vec(&json!([post_point])).unwrap();
        let h = headers(false, "");
        let post = |query, body: &[u8], live: &mut Live| {
            live.answer(
                Incoming {
                    kind: LiveKind::Post,
                    query,
                    headers: &h,
                    body,
                    received_us: 0,
                    refused: None,
                },
                Some("k"),
            )
            .status
        };
        assert_eq!(
            post(QUERY, &good, &mut live),
            200,
            "{:?}",
            live.requests[0].error
        );
        assert_eq!(post("api-version=1&ikey=other", &good, &mut live), 400);
        assert_eq!(post("ikey=K", &good, &mut live), 400);
        let bare = serde_json::to_vec(&point()).unwrap();
        assert_eq!(post(QUERY, &bare, &mut live), 400, "not an array");
        assert!(live.requests[3]
            .error
            .as_deref()
            .unwrap()
            .contains("array of one"));
        // A ping without its identity headers.
        let a = live.answer(
            Incoming {
                kind: LiveKind::Ping,
                query: QUERY,
                headers: &h,
                body: &bare,
                received_us: 0,
                refused: None,
            },
            None,
        );
        assert_eq!(a.status, 400);
    }

    #[test]
    fn a_status_answers_everything_and_controls_are_checked() {
        let mut live = Live {
            control: LiveControl {
                status: Some(503),
                subscribed: true,
                ..Default::default()
            },
            ..Default::default()
        };
        let h = http::HeaderMap::new();
        let a = live.answer(
            Incoming {
                kind: LiveKind::Post,
                query: "",
                headers: &h,
                body: b"",
                received_us: 0,
                refused: None,
            },
            None,
        );
        assert_eq!((a.status, a.headers.len()), (503, 0));
        assert!(LiveControl::from_json(r#"{"configuration": {}}"#).is_err());
        assert!(LiveControl::from_json(r#"{"status": 42}"#).is_err());
        assert!(LiveControl::from_json(r#"{"subscribe": true}"#).is_err());
        assert_eq!(LiveControl::from_json("").unwrap(), LiveControl::default());
    }
}
