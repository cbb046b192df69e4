//! Sample documents: the items the portal lists under Live Metrics, a few
//! per interval, each tagged with the document streams that want it.
//!
//! `DocumentType` Request (`Name`, `Url`, `ResponseCode`, `Duration`),
//! RemoteDependency (`Name`, `CommandName`, `ResultCode`, `Duration`),
//! Exception (`ExceptionType`, `ExceptionMessage`), Trace (`Message`), Event
//! (`Name`); `DocumentStreamIds` and `Properties` (`[{"key", "value"}]`).
//! Durations are ISO 8601 (`PT0.048S`).

use super::item::{LiveItem, TelemetryType};
use crate::text::truncated;
use serde_json::{json, Map, Value};

/// Documents kept per post interval; later ones in the interval are left out
/// (the official Python client keeps about 21 a second).
pub(crate) const MAX_DOCUMENTS: usize = 20;

/// Properties per document, and the longest text a document field keeps:
/// a sample to look at, not a copy of the envelope.
const MAX_PROPERTIES: usize = 32;
const MAX_TEXT: usize = 1024;

/// The document for `item`, tagged with `streams`.
pub(crate) fn document(item: &LiveItem<'_>, streams: &[&str]) -> Value {
    let mut d = Map::new();
    let mut put = |k: &str, v: &str| {
        d.insert(k.to_string(), Value::from(truncated(v, MAX_TEXT)));
    };
    match item.kind {
        TelemetryType::Request => {
            put("DocumentType", "Request");
            put("Name", &item.name);
            put("Url", &item.url);
            put("ResponseCode", &item.code);
            put("Duration", &iso8601_duration(item.duration_nanos));
        }
        TelemetryType::Dependency => {
            put("DocumentType", "RemoteDependency");
            put("Name", &item.name);
            put("CommandName", &item.data);
            put("ResultCode", &item.code);
            put("Duration", &iso8601_duration(item.duration_nanos));
        }
        TelemetryType::Exception => {
            put("DocumentType", "Exception");
            put("ExceptionType", &item.exception_type);
            put("ExceptionMessage", &item.message);
        }
        TelemetryType::Trace => {
            put("DocumentType", "Trace");
            put("Message", &item.message);
        }
        TelemetryType::Event => {
            put("DocumentType", "Event");
            put("Name", &item.name);
        }
    }
    d.insert("DocumentStreamIds".into(), json!(streams));
    let properties: Vec<Value> = item
        .dimensions
        .iter()
        .take(MAX_PROPERTIES)
        .map(|(k, v)| json!({"key": truncated(k, MAX_TEXT), "value": truncated(v, MAX_TEXT)}))
        .collect();
    d.insert("Properties".into(), Value::Array(properties));
    Value::Object(d)
}

/// `PT0.048S`, `PT1M30.5S`, `PT26H0M0S`: hours, minutes and seconds with up
/// to millisecond precision, days folded into hours.
pub(crate) fn iso8601_duration(nanos: u64) -> String {
    let millis = nanos / 1_000_000;
    let (secs, ms) = (millis / 1000, millis % 1000);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if ms == 0 {
        out.push_str(&format!("{s}S"));
    } else {
        let frac = format!("{ms:03}");
        out.push_str(&format!("{s}.{}S", frac.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(iso8601_duration(48_000_000), "PT0.048S");
        assert_eq!(iso8601_duration(0), "PT0S");
        assert_eq!(iso8601_duration(1_500_000_000), "PT1.5S");
        assert_eq!(iso8601_duration(90_500_000_000), "PT1M30.5S");
        assert_eq!(iso8601_duration(26 * 3_600_000_000_000), "PT26H0M0S");
    }

    #[test]
    fn each_type_has_its_fields() {
        let mut r = LiveItem::new(TelemetryType::Request);
        r.name = Cow::Borrowed("GET /menu");
        r.url = Cow::Borrowed("https://h/menu");
        r.code = Cow::Borrowed("200");
        r.duration_nanos = 48_000_000;
        r.dimensions
            .push((Cow::Borrowed("tier"), Cow::Borrowed("gold")));
        assert_eq!(
            document(&r, &["s1"]),
            json!({"DocumentType": "Request", "Name": "GET /menu", "Url": "https://h/menu",
                   "ResponseCode": "200", "Duration": "PT0.048S", "DocumentStreamIds": ["s1"],
                   "Properties": [{"key": "tier", "value": "gold"}]})
        );
        let mut d = LiveItem::new(TelemetryType::Dependency);
        d.name = Cow::Borrowed("query");
        d.data = Cow::Borrowed("SELECT 1");
        d.code = Cow::Borrowed("0");
        let doc = document(&d, &[]);
        assert_eq!(doc["DocumentType"], "RemoteDependency");
        assert_eq!(doc["CommandName"], "SELECT 1");
        assert_eq!(doc["ResultCode"], "0");
        assert_eq!(doc["Duration"], "PT0S");
        let mut e = LiveItem::new(TelemetryType::Exception);
        e.exception_type = Cow::Borrowed("ValueError");
        e.message = Cow::Borrowed("é".repeat(1000).leak() as &str);
        let doc = document(&e, &[]);
        assert_eq!(doc["ExceptionType"], "ValueError");
        assert_eq!(
            doc["ExceptionMessage"].as_str().unwrap().len(),
            1024,
            "cut at a character"
        );
        let mut t = LiveItem::new(TelemetryType::Trace);
        t.message = Cow::Borrowed("hello");
        assert_eq!(document(&t, &[])["Message"], "hello");
        let mut ev = LiveItem::new(TelemetryType::Event);
        ev.name = Cow::Borrowed("placed");
        assert_eq!(document(&ev, &[])["DocumentType"], "Event");
    }
}
