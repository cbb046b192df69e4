//! Envelope validation: the checks Application Insights ingestion applies to one item.
//!
//! The point of the emulator is to fail tests for envelopes the real service would
//! drop, so every rule here mirrors the service's schema (Bond "v2" data contracts)
//! and the limits documented in `/work/shared/notes/azure-monitor.md`. Messages always
//! start with the JSON path of the offending field so a failing test says exactly
//! what to fix.

use serde_json::{Map, Value};

/// Property key limit: the service drops longer keys.
pub const MAX_PROPERTY_KEY_CHARS: usize = 150;
/// Property value limit: the service truncates longer values; an exporter must cut them itself.
pub const MAX_PROPERTY_VALUE_CHARS: usize = 8192;
/// The limit Microsoft's exporters give OpenTelemetry's GenAI content properties
/// (`shared/notes/azure-ai-views.md`): the service takes them at this length.
pub const MAX_GENAI_CONTENT_CHARS: usize = 256 * 1024;

/// The GenAI content properties, which take [`MAX_GENAI_CONTENT_CHARS`].
pub fn is_genai_content(key: &str) -> bool {
    matches!(
        key,
        "gen_ai.input.messages"
            | "gen_ai.output.messages"
            | "gen_ai.system_instructions"
            | "gen_ai.tool.definitions"
            | "gen_ai.tool.call.arguments"
            | "gen_ai.tool.call.result"
    )
}
/// Limit on `name` fields (request, dependency, event, availability, page view).
pub const MAX_NAME_CHARS: usize = 1024;
/// Limit on log messages and exception messages.
pub const MAX_MESSAGE_CHARS: usize = 32768;

/// The telemetry item types ingestion understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TelemetryKind {
    Request,
    RemoteDependency,
    Exception,
    Message,
    Metric,
    Event,
    Availability,
    PageView,
}

impl TelemetryKind {
    pub const ALL: [TelemetryKind; 8] = [
        TelemetryKind::Request,
        TelemetryKind::RemoteDependency,
        TelemetryKind::Exception,
        TelemetryKind::Message,
        TelemetryKind::Metric,
        TelemetryKind::Event,
        TelemetryKind::Availability,
        TelemetryKind::PageView,
    ];

    /// Short name used as the key in `Stats::by_name` ("Request", "Metric", ...).
    pub fn short_name(self) -> &'static str {
        match self {
            TelemetryKind::Request => "Request",
            TelemetryKind::RemoteDependency => "RemoteDependency",
            TelemetryKind::Exception => "Exception",
            TelemetryKind::Message => "Message",
            TelemetryKind::Metric => "Metric",
            TelemetryKind::Event => "Event",
            TelemetryKind::Availability => "Availability",
            TelemetryKind::PageView => "PageView",
        }
    }

    /// The envelope's `name`, e.g. `Microsoft.ApplicationInsights.Request`.
    pub fn envelope_name(self) -> String {
        format!("{ENVELOPE_NAME_PREFIX}{}", self.short_name())
    }

    /// The `data.baseType` that must accompany this envelope name, e.g. `RequestData`.
    pub fn base_type(self) -> String {
        format!("{}Data", self.short_name())
    }

    /// Parses an envelope `name`. Only the full `Microsoft.ApplicationInsights.` form is
    /// accepted because that is what the service routes on.
    pub fn from_envelope_name(name: &str) -> Option<TelemetryKind> {
        let short = name.strip_prefix(ENVELOPE_NAME_PREFIX)?;
        TelemetryKind::ALL
            .into_iter()
            .find(|k| k.short_name() == short)
    }
}

const ENVELOPE_NAME_PREFIX: &str = "Microsoft.ApplicationInsights.";

/// Validates one envelope. Returns its kind when valid, otherwise a message that names
/// the offending field.
///
/// `expected_ikey`: when `Some`, the envelope's `iKey` must equal it (compared
/// case-insensitively, since it is a GUID and the service treats it that way).
pub fn validate_envelope(
    envelope: &Value,
    expected_ikey: Option<&str>,
) -> Result<TelemetryKind, String> {
    let env = envelope.as_object().ok_or_else(|| {
        format!(
            "envelope: expected a JSON object, got {}",
            type_name(envelope)
        )
    })?;

    let name = req_str(env, "name", "name")?;
    let kind = TelemetryKind::from_envelope_name(name).ok_or_else(|| {
        format!("name: unknown telemetry type {name:?} (expected Microsoft.ApplicationInsights.<Request|RemoteDependency|Exception|Message|Metric|Event|Availability|PageView>)")
    })?;

    let time = req_str(env, "time", "time")?;
    if chrono::DateTime::parse_from_rfc3339(time).is_err() {
        return Err(format!("time: {time:?} is not an RFC 3339 timestamp"));
    }

    let ikey = req_str(env, "iKey", "iKey")?;
    if ikey.is_empty() {
        return Err("iKey: must not be empty".to_string());
    }
    if let Some(expected) = expected_ikey {
        if !ikey.eq_ignore_ascii_case(expected) {
            // Deliberately does not echo either key: keys end up in CI logs.
            return Err(
                "iKey: does not match the instrumentation key this endpoint serves".to_string(),
            );
        }
    }

    if let Some(rate) = env.get("sampleRate") {
        match rate.as_f64() {
            Some(r) if r > 0.0 && r <= 100.0 => {}
            _ => {
                return Err(format!(
                    "sampleRate: must be a number in (0, 100], got {rate}"
                ))
            }
        }
    }

    if let Some(tags) = env.get("tags") {
        validate_tags(tags)?;
    }

    let data = req_obj(env, "data", "data")?;
    let base_type = req_str(data, "baseType", "data.baseType")?;
    if base_type != kind.base_type() {
        return Err(format!(
            "data.baseType: {base_type:?} does not match envelope name {name:?} (expected {:?})",
            kind.base_type()
        ));
    }
    let base = req_obj(data, "baseData", "data.baseData")?;
    match base.get("ver") {
        Some(v) if v.is_number() => {}
        Some(v) => {
            return Err(format!(
                "data.baseData.ver: expected a number, got {}",
                type_name(v)
            ))
        }
        None => return Err("data.baseData.ver: required field is missing".to_string()),
    }
    if let Some(props) = base.get("properties") {
        validate_properties(props)?;
    }

    validate_base_data(kind, base)?;
    Ok(kind)
}

/// Per-type required fields.
fn validate_base_data(kind: TelemetryKind, base: &Map<String, Value>) -> Result<(), String> {
    match kind {
        TelemetryKind::Request => {
            let id = req_str(base, "id", "data.baseData.id")?;
            check_span_id(id, "data.baseData.id")?;
            check_duration(base)?;
            req_str(base, "responseCode", "data.baseData.responseCode")?;
            req_bool(base, "success", "data.baseData.success")?;
            opt_name(base)?;
        }
        TelemetryKind::RemoteDependency => {
            check_name(base)?;
            check_duration(base)?;
            if let Some(id) = base.get("id") {
                let id = id.as_str().ok_or_else(|| {
                    format!("data.baseData.id: expected a string, got {}", type_name(id))
                })?;
                check_span_id(id, "data.baseData.id")?;
            }
        }
        TelemetryKind::Exception => {
            let exceptions = match base.get("exceptions") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                Some(Value::Array(_)) => {
                    return Err("data.baseData.exceptions: must not be empty".to_string())
                }
                Some(v) => {
                    return Err(format!(
                        "data.baseData.exceptions: expected an array, got {}",
                        type_name(v)
                    ))
                }
                None => {
                    return Err("data.baseData.exceptions: required field is missing".to_string())
                }
            };
            for (i, ex) in exceptions.iter().enumerate() {
                let path = format!("data.baseData.exceptions[{i}]");
                let ex = ex
                    .as_object()
                    .ok_or_else(|| format!("{path}: expected an object, got {}", type_name(ex)))?;
                req_str(ex, "typeName", &format!("{path}.typeName"))?;
                let msg = req_str(ex, "message", &format!("{path}.message"))?;
                check_len(msg, MAX_MESSAGE_CHARS, &format!("{path}.message"))?;
            }
        }
        TelemetryKind::Message => {
            let msg = req_str(base, "message", "data.baseData.message")?;
            check_len(msg, MAX_MESSAGE_CHARS, "data.baseData.message")?;
        }
        TelemetryKind::Metric => {
            let metrics = match base.get("metrics") {
                Some(Value::Array(a)) if !a.is_empty() => a,
                Some(Value::Array(_)) => {
                    return Err("data.baseData.metrics: must not be empty".to_string())
                }
                Some(v) => {
                    return Err(format!(
                        "data.baseData.metrics: expected an array, got {}",
                        type_name(v)
                    ))
                }
                None => return Err("data.baseData.metrics: required field is missing".to_string()),
            };
            for (i, m) in metrics.iter().enumerate() {
                let path = format!("data.baseData.metrics[{i}]");
                let m = m
                    .as_object()
                    .ok_or_else(|| format!("{path}: expected an object, got {}", type_name(m)))?;
                let name = req_str(m, "name", &format!("{path}.name"))?;
                check_len(name, MAX_NAME_CHARS, &format!("{path}.name"))?;
                match m.get("value") {
                    Some(v) if v.is_number() => {}
                    Some(v) => {
                        return Err(format!(
                            "{path}.value: expected a number, got {}",
                            type_name(v)
                        ));
                    }
                    None => return Err(format!("{path}.value: required field is missing")),
                }
            }
        }
        TelemetryKind::Event => {
            check_name(base)?;
        }
        TelemetryKind::Availability => {
            req_str(base, "id", "data.baseData.id")?;
            check_name(base)?;
            check_duration(base)?;
            req_bool(base, "success", "data.baseData.success")?;
        }
        TelemetryKind::PageView => {
            opt_name(base)?;
        }
    }
    Ok(())
}

fn validate_tags(tags: &Value) -> Result<(), String> {
    let tags = tags
        .as_object()
        .ok_or_else(|| format!("tags: expected an object, got {}", type_name(tags)))?;
    for (k, v) in tags {
        if !v.is_string() {
            return Err(format!(
                "tags[{k:?}]: expected a string, got {}",
                type_name(v)
            ));
        }
    }
    if let Some(op) = tags.get("ai.operation.id").and_then(Value::as_str) {
        // The trace id: W3C requires lowercase, and the portal joins items on the exact string.
        if !(op.len() == 32 && is_lower_hex(op)) {
            return Err(format!(
                "tags[\"ai.operation.id\"]: {op:?} is not a 32-character lowercase hex trace id"
            ));
        }
    }
    if let Some(parent) = tags.get("ai.operation.parentId").and_then(Value::as_str) {
        // 16 hex = parent span id (W3C); 32 hex is what some SDKs send for a root's parent.
        if !((parent.len() == 16 || parent.len() == 32) && is_hex(parent)) {
            return Err(format!(
                "tags[\"ai.operation.parentId\"]: {parent:?} is not a 16- or 32-character hex id"
            ));
        }
    }
    Ok(())
}

fn validate_properties(props: &Value) -> Result<(), String> {
    let props = props.as_object().ok_or_else(|| {
        format!(
            "data.baseData.properties: expected an object, got {}",
            type_name(props)
        )
    })?;
    for (k, v) in props {
        let key_chars = k.chars().count();
        if key_chars > MAX_PROPERTY_KEY_CHARS {
            return Err(format!(
                "data.baseData.properties: key of {key_chars} characters exceeds {MAX_PROPERTY_KEY_CHARS} (key starts {:?})",
                k.chars().take(40).collect::<String>()
            ));
        }
        let s = v.as_str().ok_or_else(|| {
            format!(
                "data.baseData.properties[{k:?}]: expected a string value, got {}",
                type_name(v)
            )
        })?;
        let max = match is_genai_content(k) {
            true => MAX_GENAI_CONTENT_CHARS,
            false => MAX_PROPERTY_VALUE_CHARS,
        };
        check_len(s, max, &format!("data.baseData.properties[{k:?}]"))?;
    }
    Ok(())
}

/// Required `name`, within the name limit.
fn check_name(base: &Map<String, Value>) -> Result<(), String> {
    let name = req_str(base, "name", "data.baseData.name")?;
    check_len(name, MAX_NAME_CHARS, "data.baseData.name")
}

/// Optional `name`; when present it must be a string within the limit.
fn opt_name(base: &Map<String, Value>) -> Result<(), String> {
    if base.contains_key("name") {
        check_name(base)?;
    }
    Ok(())
}

fn check_duration(base: &Map<String, Value>) -> Result<(), String> {
    let d = req_str(base, "duration", "data.baseData.duration")?;
    if !is_valid_duration(d) {
        return Err(format!(
            "data.baseData.duration: {d:?} is not a d.hh:mm:ss.fffffff duration"
        ));
    }
    Ok(())
}

fn check_span_id(id: &str, path: &str) -> Result<(), String> {
    if id.len() == 16 && is_hex(id) {
        Ok(())
    } else {
        Err(format!("{path}: {id:?} is not a 16-character hex span id"))
    }
}

/// Length limits are in characters, not bytes: the service counts UTF-16-ish characters,
/// and counting bytes would reject valid non-ASCII text an exporter cut correctly.
fn check_len(s: &str, max: usize, path: &str) -> Result<(), String> {
    // Cheap pre-check: a string can't have more chars than bytes.
    if s.len() > max {
        let n = s.chars().count();
        if n > max {
            return Err(format!("{path}: {n} characters exceeds the limit of {max}"));
        }
    }
    Ok(())
}

/// Equivalent of `^(\d+\.)?\d{2}:\d{2}:\d{2}(\.\d{1,7})?$` plus range checks
/// (hh < 24, mm < 60, ss < 60) because the service parses it as a .NET TimeSpan.
pub fn is_valid_duration(s: &str) -> bool {
    // Split off an optional leading "d." (days): the first '.' before the first ':'.
    let colon = match s.find(':') {
        Some(i) => i,
        None => return false,
    };
    let (days, rest) = match s[..colon].find('.') {
        Some(dot) => (Some(&s[..dot]), &s[dot + 1..]),
        None => (None, s),
    };
    if let Some(d) = days {
        if d.is_empty() || !all_digits(d) {
            return false;
        }
    }
    // rest = hh:mm:ss[.f{1,7}]
    let (hms, frac) = match rest.find('.') {
        Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
        None => (rest, None),
    };
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 7 || !all_digits(f) {
            return false;
        }
    }
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.len() != 2 || !all_digits(p)) {
        return false;
    }
    let num = |p: &str| p.parse::<u32>().unwrap_or(u32::MAX);
    num(parts[0]) < 24 && num(parts[1]) < 60 && num(parts[2]) < 60
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn req_str<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, String> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(format!("{path}: expected a string, got {}", type_name(v))),
        None => Err(format!("{path}: required field is missing")),
    }
}

fn req_obj<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, String> {
    match obj.get(key) {
        Some(Value::Object(o)) => Ok(o),
        Some(v) => Err(format!("{path}: expected an object, got {}", type_name(v))),
        None => Err(format!("{path}: required field is missing")),
    }
}

fn req_bool(obj: &Map<String, Value>, key: &str, path: &str) -> Result<bool, String> {
    match obj.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!("{path}: expected a boolean, got {}", type_name(v))),
        None => Err(format!("{path}: required field is missing")),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request() -> Value {
        json!({
            "name": "Microsoft.ApplicationInsights.Request",
            "time": "2026-11-24T21:04:55.572456Z",
            "iKey": "00000000-0000-0000-0000-000000000000",
            "tags": {"ai.operation.id": "720117c0b14318ba8dcdd9956339265d"},
            "data": {"baseType": "RequestData", "baseData": {
                "ver": 2, "id": "fe51524281c4a907", "name": "GET /",
                "duration": "0.00:00:00.014", "responseCode": "200", "success": true,
                "properties": {"a": "b"}
            }}
        })
    }

    fn err(v: &Value) -> String {
        validate_envelope(v, None).unwrap_err()
    }

    #[test]
    fn durations() {
        for ok in [
            "00:00:00",
            "0.00:00:00.014",
            "12.23:59:59.1234567",
            "00:00:01.5",
            "123.01:02:03",
        ] {
            assert!(is_valid_duration(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            "1s",
            "0:00:00",
            "00:00:0",
            "00:00:00.",
            "00:00:00.12345678",
            ".00:00:00",
            "a.00:00:00",
            "00:00:00:00",
            "24:00:00",
            "00:60:00",
            "00:00:60",
            "00-00-00",
            "PT1S",
        ] {
            assert!(!is_valid_duration(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn valid_request_passes() {
        assert_eq!(
            validate_envelope(&request(), None),
            Ok(TelemetryKind::Request)
        );
        assert_eq!(
            validate_envelope(&request(), Some("00000000-0000-0000-0000-000000000000")),
            Ok(TelemetryKind::Request)
        );
    }

    #[test]
    fn base_type_must_match_name() {
        let mut v = request();
        v["data"]["baseType"] = json!("RemoteDependencyData");
        assert!(err(&v).starts_with("data.baseType"), "{}", err(&v));
    }

    #[test]
    fn unknown_name_rejected() {
        let mut v = request();
        v["name"] = json!("Microsoft.ApplicationInsights.Span");
        assert!(err(&v).starts_with("name:"));
    }

    #[test]
    fn ikey_mismatch_rejected_without_echo() {
        let e = validate_envelope(&request(), Some("11111111-1111-1111-1111-111111111111"))
            .unwrap_err();
        assert!(e.starts_with("iKey"));
        assert!(
            !e.contains("0000") && !e.contains("1111"),
            "key leaked: {e}"
        );
    }

    #[test]
    fn missing_ver_time_and_bad_time() {
        let mut v = request();
        v["data"]["baseData"].as_object_mut().unwrap().remove("ver");
        assert!(err(&v).starts_with("data.baseData.ver"));
        let mut v = request();
        v["time"] = json!("yesterday");
        assert!(err(&v).starts_with("time:"));
    }

    #[test]
    fn ids() {
        let mut v = request();
        v["tags"]["ai.operation.id"] = json!("720117C0B14318BA8DCDD9956339265D");
        assert!(err(&v).contains("ai.operation.id"));
        let mut v = request();
        v["tags"]["ai.operation.parentId"] = json!("abc");
        assert!(err(&v).contains("ai.operation.parentId"));
        let mut v = request();
        v["tags"]["ai.operation.parentId"] = json!("720117c0b14318ba8dcdd9956339265d");
        assert!(validate_envelope(&v, None).is_ok());
        let mut v = request();
        v["data"]["baseData"]["id"] = json!("720117c0b14318ba8dcdd9956339265d");
        assert!(err(&v).starts_with("data.baseData.id"));
    }

    #[test]
    fn properties_rules() {
        let mut v = request();
        v["data"]["baseData"]["properties"]["n"] = json!(5);
        assert!(err(&v).contains("properties[\"n\"]"));
        let mut v = request();
        v["data"]["baseData"]["properties"]["k".repeat(151)] = json!("x");
        assert!(err(&v).contains("key of 151"));
        let mut v = request();
        v["data"]["baseData"]["properties"]["big"] = json!("x".repeat(8193));
        assert!(err(&v).contains("8193 characters"));
        // GenAI content takes 256 KiB, other properties do not.
        let mut content = request();
        content["data"]["baseData"]["properties"]["gen_ai.input.messages"] =
            json!("x".repeat(9000));
        assert!(validate_envelope(&content, None).is_ok());
        content["data"]["baseData"]["properties"]["gen_ai.input.messages"] =
            json!("x".repeat(256 * 1024 + 1));
        assert!(err(&content).contains("262145 characters"));
        // 8192 multi-byte characters are fine: limits count characters, not bytes.
        let mut v = request();
        v["data"]["baseData"]["properties"]["big"] = json!("é".repeat(8192));
        assert!(validate_envelope(&v, None).is_ok());
    }

    #[test]
    fn per_type_required_fields() {
        let base = |name: &str, bt: &str, bd: Value| {
            json!({"name": format!("Microsoft.ApplicationInsights.{name}"), "time": "2026-01-01T00:00:00Z",
                   "iKey": "k", "data": {"baseType": bt, "baseData": bd}})
        };
        let cases = [
            (
                base(
                    "RemoteDependency",
                    "RemoteDependencyData",
                    json!({"ver": 2, "duration": "00:00:00"}),
                ),
                "data.baseData.name",
            ),
            (
                base(
                    "Exception",
                    "ExceptionData",
                    json!({"ver": 2, "exceptions": []}),
                ),
                "data.baseData.exceptions",
            ),
            (
                base(
                    "Exception",
                    "ExceptionData",
                    json!({"ver": 2, "exceptions": [{"typeName": "E"}]}),
                ),
                "data.baseData.exceptions[0].message",
            ),
            (
                base("Message", "MessageData", json!({"ver": 2})),
                "data.baseData.message",
            ),
            (
                base(
                    "Metric",
                    "MetricData",
                    json!({"ver": 2, "metrics": [{"name": "m", "value": "1"}]}),
                ),
                "data.baseData.metrics[0].value",
            ),
            (
                base("Event", "EventData", json!({"ver": 2})),
                "data.baseData.name",
            ),
            (
                base(
                    "Availability",
                    "AvailabilityData",
                    json!({"ver": 2, "id": "x", "name": "n", "duration": "00:00:00"}),
                ),
                "data.baseData.success",
            ),
            (
                base(
                    "Request",
                    "RequestData",
                    json!({"ver": 2, "id": "fe51524281c4a907", "duration": "00:00:00", "success": true}),
                ),
                "data.baseData.responseCode",
            ),
        ];
        for (v, field) in cases {
            let e = err(&v);
            assert!(e.starts_with(field), "expected error on {field}, got {e}");
        }
        let ok = [
            base(
                "Metric",
                "MetricData",
                json!({"ver": 2, "metrics": [{"name": "m", "value": 1.5}]}),
            ),
            base(
                "PageView",
                "PageViewData",
                json!({"ver": 2, "name": "home"}),
            ),
            base("Event", "EventData", json!({"ver": 2, "name": "e"})),
        ];
        for v in ok {
            assert!(validate_envelope(&v, None).is_ok(), "{v}");
        }
    }

    #[test]
    fn reference_envelopes_from_official_distro_pass() {
        // The emulator must accept what the official Python distro really sends; these
        // captures are the ground truth. Skipped silently when the shared dir is absent.
        let dir = std::path::Path::new("/work/shared/reference/official-distro");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut checked = 0;
        for e in entries.flatten() {
            let p = e.path();
            let fname = p.file_name().unwrap().to_string_lossy().to_string();
            if !fname.ends_with(".json") || fname.starts_with("00_") {
                continue; // 00_ holds request headers, not envelopes
            }
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let items = match v {
                Value::Array(a) => a,
                other => vec![other],
            };
            for item in items {
                validate_envelope(&item, Some("00000000-0000-0000-0000-000000000000"))
                    .unwrap_or_else(|e| panic!("{fname}: {e}"));
                checked += 1;
            }
        }
        assert!(checked > 0 || !dir.exists());
    }
}
