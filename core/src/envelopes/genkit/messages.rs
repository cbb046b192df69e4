//! A model call's content in the OpenTelemetry GenAI message schema
//! (`gen_ai.input.messages`, `gen_ai.output.messages`,
//! `gen_ai.system_instructions`), from Genkit's request (`genkit:input`) and
//! response (`genkit:output`). Written only with `log_input_and_output`.
//!
//! Genkit's roles `user` / `model` / `tool` become `user` / `assistant` /
//! `tool`; `system` messages become the system instructions. Parts: `text`
//! and `reasoning` as they are, `toolRequest` as `tool_call` (id = Genkit's
//! `ref`), `toolResponse` as `tool_call_response`, `media` by reference
//! (`uri` with its modality; inline `data:` media by its SHA-256, as the
//! `Input[...]` logs say it), anything else as a `data` part with its JSON.
//! Each attribute is valid JSON of at most [`MAX_BYTES`]: when the whole is
//! longer, the longest contents are cut first, then the oldest messages are
//! left out (the latest turn is what a reader looks for).

use super::model::ModelOutput;
use serde_json::{json, Map, Value};

/// What Microsoft's exporter allows GenAI content attributes (256 KiB).
pub(crate) const MAX_BYTES: usize = 256 * 1024;

/// The three content attributes of one model call; each `None` when the
/// call has nothing to say there.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Messages {
    pub input: Option<String>,
    pub output: Option<String>,
    pub system_instructions: Option<String>,
}

impl Messages {
    /// From the model span's `genkit:input` and `genkit:output` texts.
    pub fn of(input: Option<&str>, output: Option<&str>) -> Self {
        let mut messages = Vec::new();
        let mut system = Vec::new();
        if let Some(request) = input.and_then(|t| serde_json::from_str::<Value>(t).ok()) {
            for m in request
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let parts = parts(m);
                match m.get("role").and_then(Value::as_str).unwrap_or("user") {
                    "system" => system.extend(parts),
                    role => messages.push(message(role, parts, None)),
                }
            }
        }
        let output = output.and_then(|t| {
            let response = serde_json::from_str::<Value>(t).ok()?;
            let m = response.get("message").or_else(|| {
                response
                    .get("candidates")?
                    .as_array()?
                    .first()?
                    .get("message")
            })?;
            let finish =
                ModelOutput::parse(t).and_then(|o| o.finish_reason().map(|r| r.into_owned()));
            Some(vec![message(
                m.get("role").and_then(Value::as_str).unwrap_or("model"),
                parts(m),
                finish,
            )])
        });
        Messages {
            input: (!messages.is_empty()).then(|| fit(messages)),
            output: output.map(fit),
            system_instructions: (!system.is_empty()).then(|| fit(system)),
        }
    }
}

fn role(genkit: &str) -> &str {
    match genkit {
        "model" => "assistant",
        other => other,
    }
}

fn message(genkit_role: &str, parts: Vec<Value>, finish_reason: Option<String>) -> Value {
    let mut m = Map::new();
    m.insert("role".into(), Value::from(role(genkit_role)));
    m.insert("parts".into(), Value::Array(parts));
    if let Some(reason) = finish_reason {
        m.insert("finish_reason".into(), Value::from(reason));
    }
    Value::Object(m)
}

/// A Genkit message's `content` as GenAI parts.
fn parts(message: &Value) -> Vec<Value> {
    let Some(content) = message.get("content").and_then(Value::as_array) else {
        return Vec::new();
    };
    content.iter().map(part).collect()
}

fn part(p: &Value) -> Value {
    let text = |k: &str| p.get(k).and_then(Value::as_str);
    if let Some(t) = text("text") {
        return json!({"type": "text", "content": t});
    }
    if let Some(t) = text("reasoning") {
        return json!({"type": "reasoning", "content": t});
    }
    if let Some(r) = p.get("toolRequest").filter(|v| v.is_object()) {
        let mut o = Map::new();
        o.insert("type".into(), "tool_call".into());
        if let Some(id) = r.get("ref").and_then(Value::as_str) {
            o.insert("id".into(), id.into());
        }
        o.insert("name".into(), r.get("name").cloned().unwrap_or(Value::Null));
        o.insert(
            "arguments".into(),
            r.get("input").cloned().unwrap_or(Value::Null),
        );
        return Value::Object(o);
    }
    if let Some(r) = p.get("toolResponse").filter(|v| v.is_object()) {
        let mut o = Map::new();
        o.insert("type".into(), "tool_call_response".into());
        if let Some(id) = r.get("ref").and_then(Value::as_str) {
            o.insert("id".into(), id.into());
        }
        o.insert(
            "response".into(),
            r.get("output").cloned().unwrap_or(Value::Null),
        );
        return Value::Object(o);
    }
    if let Some(m) = p.get("media").filter(|v| v.is_object()) {
        let url = m.get("url").and_then(Value::as_str).unwrap_or_default();
        let mime = m
            .get("contentType")
            .and_then(Value::as_str)
            .or_else(|| Some(url.strip_prefix("data:")?.split([';', ',']).next()?))
            .unwrap_or_default();
        let mut o = Map::new();
        o.insert("type".into(), "uri".into());
        if let Some(modality) = modality(mime) {
            o.insert("modality".into(), modality.into());
        }
        if !mime.is_empty() {
            o.insert("mime_type".into(), mime.into());
        }
        o.insert("uri".into(), super::logs::media(url).into());
        return Value::Object(o);
    }
    json!({"type": "data", "content": p})
}

fn modality(mime: &str) -> Option<&'static str> {
    match mime.split('/').next()? {
        "image" => Some("image"),
        "video" => Some("video"),
        "audio" => Some("audio"),
        _ => None,
    }
}

/// Keys whose values say what a part or message is, never cut.
const STRUCTURAL: [&str; 7] = [
    "type",
    "role",
    "id",
    "name",
    "mime_type",
    "modality",
    "finish_reason",
];

/// `items` as JSON of at most [`MAX_BYTES`]: whole when it fits; else
/// without the oldest items that could not fit even with empty contents, and
/// with every content string cut to the longest length that fits (found by
/// bisection). Only opt-in content that is too long pays for more than one
/// serialisation.
fn fit(items: Vec<Value>) -> String {
    let whole = Value::Array(items);
    let text = whole.to_string();
    if text.len() <= MAX_BYTES {
        return text;
    }
    let Value::Array(mut items) = whole else {
        unreachable!("built as an array")
    };
    // `[` and `]`, and a comma between items.
    let empty: Vec<usize> = items
        .iter()
        .map(|it| capped(std::slice::from_ref(it), 0).len() - 1)
        .collect();
    let mut total = 1 + empty.iter().sum::<usize>();
    let mut oldest = 0;
    while total > MAX_BYTES && oldest < items.len() {
        total -= empty[oldest];
        oldest += 1;
    }
    items.drain(..oldest);
    if items.is_empty() {
        return "[]".to_string();
    }
    let (mut lo, mut hi) = (0, text.len());
    let mut best = capped(&items, 0);
    while lo < hi {
        let cap = lo + (hi - lo).div_ceil(2);
        let t = capped(&items, cap);
        if t.len() <= MAX_BYTES {
            best = t;
            lo = cap;
        } else {
            hi = cap - 1;
        }
    }
    best
}

/// `items` as JSON with every non-structural string cut to `cap` bytes.
fn capped(items: &[Value], cap: usize) -> String {
    let mut v = Value::Array(items.to_vec());
    cap_strings(&mut v, cap);
    v.to_string()
}

fn cap_strings(v: &mut Value, cap: usize) {
    match v {
        Value::String(s) => {
            let at = crate::text::floor_char_boundary(s, cap);
            s.truncate(at);
        }
        Value::Array(a) => a.iter_mut().for_each(|x| cap_strings(x, cap)),
        Value::Object(o) => o
            .iter_mut()
            .filter(|(k, _)| !STRUCTURAL.contains(&k.as_str()))
            .for_each(|(_, x)| cap_strings(x, cap)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &Option<String>) -> Value {
        serde_json::from_str(s.as_deref().expect("present")).expect("valid JSON")
    }

    #[test]
    fn genkit_messages_become_the_conventions_messages() {
        let input = r#"{"messages":[
            {"role":"system","content":[{"text":"be brief"}]},
            {"role":"user","content":[{"text":"weather in Paris?"},{"media":{"url":"data:image/png;base64,aGVsbG8=","contentType":"image/png"}}]},
            {"role":"model","content":[{"toolRequest":{"ref":"call-1","name":"get_weather","input":{"city":"Paris"}}}]},
            {"role":"tool","content":[{"toolResponse":{"ref":"call-1","name":"get_weather","output":"sunny"}}]}
        ],"config":{},"tools":[]}"#;
        let output = r#"{"message":{"role":"model","content":[{"text":"Sunny."}]},"finishReason":"stop","usage":{}}"#;
        let m = Messages::of(Some(input), Some(output));
        assert_eq!(
            parsed(&m.system_instructions),
            json!([{"type": "text", "content": "be brief"}])
        );
        let input = parsed(&m.input);
        assert_eq!(input[0]["role"], "user");
        assert_eq!(
            input[0]["parts"][0],
            json!({"type": "text", "content": "weather in Paris?"})
        );
        let media = &input[0]["parts"][1];
        assert_eq!(media["type"], "uri");
        assert_eq!(media["modality"], "image");
        assert_eq!(media["mime_type"], "image/png");
        // By reference: the picture's hash, never its bytes.
        let uri = media["uri"].as_str().unwrap();
        assert!(!uri.contains("aGVsbG8="), "{uri}");
        assert!(uri.contains("sha256"), "{uri}");
        assert_eq!(
            input[1],
            json!({"role": "assistant", "parts": [{"type": "tool_call", "id": "call-1", "name": "get_weather", "arguments": {"city": "Paris"}}]})
        );
        assert_eq!(
            input[2],
            json!({"role": "tool", "parts": [{"type": "tool_call_response", "id": "call-1", "response": "sunny"}]})
        );
        assert_eq!(
            parsed(&m.output),
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}], "finish_reason": "stop"}])
        );
    }

    #[test]
    fn nothing_to_say_says_nothing() {
        assert_eq!(Messages::of(None, None), Messages::default());
        assert_eq!(
            Messages::of(Some("not json"), Some("{}")),
            Messages::default()
        );
    }

    #[test]
    fn too_long_content_is_cut_into_valid_json_within_the_limit() {
        let long = "é".repeat(300_000);
        let input = json!({"messages": [
            {"role": "user", "content": [{"text": "first"}]},
            {"role": "user", "content": [{"text": long}]},
        ]})
        .to_string();
        let m = Messages::of(Some(&input), None);
        let text = m.input.as_deref().unwrap();
        assert!(text.len() <= MAX_BYTES, "{}", text.len());
        let v: Value = serde_json::from_str(text).unwrap();
        // Both messages kept, the long one cut, and cut no more than needed.
        assert_eq!(v[0]["parts"][0]["content"], "first");
        let cut = v[1]["parts"][0]["content"].as_str().unwrap();
        assert!(cut.len() > MAX_BYTES - 1024, "{}", cut.len());
        assert_eq!(v[1]["parts"][0]["type"], "text");

        // So many messages that even empty contents overflow: the oldest go.
        let many: Vec<Value> = (0..20_000)
            .map(|i| json!({"role": "user", "content": [{"text": format!("message {i}")}]}))
            .collect();
        let input = json!({ "messages": many }).to_string();
        let text = Messages::of(Some(&input), None).input.unwrap();
        assert!(text.len() <= MAX_BYTES);
        let v: Value = serde_json::from_str(&text).unwrap();
        let kept = v.as_array().unwrap();
        assert!(!kept.is_empty() && kept.len() < 20_000);
        assert_eq!(kept.last().unwrap()["role"], "user");
    }
}
