//! A model call's prompt and response in OpenTelemetry's GenAI message
//! schema (`gen_ai.input.messages`, `gen_ai.output.messages`,
//! `gen_ai.system_instructions`), which Azure's AI views and Foundry's trace
//! view show: roles `user` / `assistant` / `tool` / `system` (Genkit's
//! `model` is `assistant`), parts `text`, `tool_call`, `tool_call_response`,
//! `reasoning` and `uri` (media by reference: inline `data:` media is replaced
//! by its SHA-256, as the Input/Output log records do). Only written with
//! `log_input_and_output`; each is cut at [`MAX_CONTENT_BYTES`].

use serde_json::{json, Map, Value};

/// What Microsoft's exporters allow GenAI content attributes, instead of
/// the 8 KiB of other properties.
pub(crate) const MAX_CONTENT_BYTES: usize = 256 * 1024;

/// The properties that carry content and take [`MAX_CONTENT_BYTES`].
pub(crate) fn is_content_key(key: &str) -> bool {
    matches!(
        key,
        "gen_ai.input.messages" | "gen_ai.output.messages" | "gen_ai.system_instructions"
    )
}

/// A model call's content, as JSON texts.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct GenAiContent {
    pub input_messages: Option<String>,
    pub output_messages: Option<String>,
    pub system_instructions: Option<String>,
}

/// Reads a model span's `genkit:input` (the request) and `genkit:output`
/// (the response); `finish_reason` is the response's, in the conventions'
/// words, as the view has it already (see `genai_finish_reason`).
pub(crate) fn content(
    input: Option<&str>,
    output: Option<&str>,
    finish_reason: Option<&str>,
) -> GenAiContent {
    let mut c = GenAiContent::default();
    let parse = |s: Option<&str>| s.and_then(|s| serde_json::from_str::<Value>(s).ok());
    if let Some(request) = parse(input) {
        let mut system = Vec::new();
        let mut messages = Vec::new();
        for m in request
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("user");
            let parts = parts(m);
            if role == "system" {
                system.extend(parts);
            } else {
                messages.push(json!({"role": role_of(role), "parts": parts}));
            }
        }
        if !messages.is_empty() {
            c.input_messages = Some(fitted(Value::Array(messages)));
        }
        if !system.is_empty() {
            c.system_instructions = Some(fitted(Value::Array(system)));
        }
    }
    if let Some(response) = parse(output) {
        let message = response.get("message").or_else(|| {
            response
                .get("candidates")?
                .as_array()?
                .first()?
                .get("message")
        });
        if let Some(m) = message {
            let role = m.get("role").and_then(Value::as_str).unwrap_or("model");
            let mut out = Map::new();
            out.insert("role".into(), role_of(role).into());
            out.insert("parts".into(), Value::Array(parts(m)));
            if let Some(reason) = finish_reason {
                out.insert("finish_reason".into(), reason.into());
            }
            c.output_messages = Some(fitted(Value::Array(vec![Value::Object(out)])));
        }
    }
    c
}

/// The JSON text, within [`MAX_CONTENT_BYTES`] and still JSON: while it is
/// too long, the longest string in it is shortened (at a character
/// boundary, ending in `…`), so a reader can still parse what arrives.
fn fitted(mut v: Value) -> String {
    for _ in 0..64 {
        let text = v.to_string();
        let Some(over) = text.len().checked_sub(MAX_CONTENT_BYTES).filter(|o| *o > 0) else {
            return text;
        };
        let Some(longest) = longest_string(&mut v) else {
            break;
        };
        // Escapes make the text longer than the string: cut a little more.
        let keep = longest.len().saturating_sub(over + over / 8 + 16);
        let cut = crate::text::truncated(longest, keep).to_string();
        *longest = format!("{cut}…");
    }
    // Nothing left to shorten (a structure too large by itself).
    Value::Array(Vec::new()).to_string()
}

fn longest_string(v: &mut Value) -> Option<&mut String> {
    match v {
        Value::String(s) => Some(s),
        Value::Array(a) => a
            .iter_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        Value::Object(o) => o
            .values_mut()
            .filter_map(longest_string)
            .max_by_key(|s| s.len()),
        _ => None,
    }
}

/// Genkit's roles in the conventions' words.
fn role_of(role: &str) -> &str {
    match role {
        "model" => "assistant",
        other => other,
    }
}

fn parts(message: &Value) -> Vec<Value> {
    message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(part)
        .collect()
}

fn part(p: &Value) -> Option<Value> {
    let o = p.as_object()?;
    if let Some(t) = o.get("text").and_then(Value::as_str) {
        return Some(json!({"type": "text", "content": t}));
    }
    if let Some(r) = o.get("toolRequest") {
        let mut call = json!({"type": "tool_call", "name": r.get("name")});
        if let Some(id) = r.get("ref") {
            call["id"] = id.clone();
        }
        if let Some(args) = r.get("input") {
            call["arguments"] = args.clone();
        }
        return Some(call);
    }
    if let Some(r) = o.get("toolResponse") {
        let mut response = json!({"type": "tool_call_response", "response": r.get("output")});
        if let Some(id) = r.get("ref") {
            response["id"] = id.clone();
        }
        return Some(response);
    }
    if let Some(m) = o.get("media") {
        let url = m.get("url").and_then(Value::as_str).unwrap_or_default();
        let mime = m.get("contentType").and_then(Value::as_str);
        let mut media = json!({"type": "uri", "uri": super::logs::media_reference(url)});
        if let Some(mime) = mime {
            media["mime_type"] = mime.into();
            let modality = mime.split('/').next().unwrap_or_default();
            if matches!(modality, "image" | "video" | "audio") {
                media["modality"] = modality.into();
            }
        }
        return Some(media);
    }
    if let Some(r) = o.get("reasoning").and_then(Value::as_str) {
        return Some(json!({"type": "reasoning", "content": r}));
    }
    // Anything else (`data`, `custom`, ...) as the conventions' generic part.
    let (kind, value) = o.iter().find(|(k, _)| *k != "metadata")?;
    Some(json!({"type": kind, "content": value}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_and_response_in_the_genai_schema() {
        let input = r#"{"messages":[
            {"role":"system","content":[{"text":"You are a weather assistant."}]},
            {"role":"user","content":[{"text":"Weather?"},{"media":{"url":"data:image/png;base64,aGVsbG8=","contentType":"image/png"}}]},
            {"role":"model","content":[{"toolRequest":{"name":"get_weather","ref":"call-1","input":"Paris"}}]},
            {"role":"tool","content":[{"toolResponse":{"name":"get_weather","ref":"call-1","output":"sunny"}}]}
        ]}"#;
        let output = r#"{"message":{"role":"model","content":[{"text":"It is sunny."}]},"finishReason":"stop"}"#;
        let reply = super::super::ModelOutput::parse(output).unwrap();
        let reason =
            super::super::genai_finish_reason(reply.tool_calls, reply.finish_reason.as_deref());
        let c = content(Some(input), Some(output), reason.as_deref());
        let v = |s: &Option<String>| serde_json::from_str::<Value>(s.as_deref().unwrap()).unwrap();
        assert_eq!(
            v(&c.system_instructions),
            json!([{"type": "text", "content": "You are a weather assistant."}])
        );
        assert_eq!(
            v(&c.input_messages),
            json!([
                {"role": "user", "parts": [
                    {"type": "text", "content": "Weather?"},
                    {"type": "uri", "modality": "image", "mime_type": "image/png",
                     "uri": "data:image/png;base64,<sha256(333d6b3a3c1f5db6c9bdda5939b136986d170f4649172a68368d54ecb44c2ff2)>"}
                ]},
                {"role": "assistant", "parts": [
                    {"type": "tool_call", "id": "call-1", "name": "get_weather", "arguments": "Paris"}
                ]},
                {"role": "tool", "parts": [
                    {"type": "tool_call_response", "id": "call-1", "response": "sunny"}
                ]}
            ])
        );
        assert_eq!(
            v(&c.output_messages),
            json!([{"role": "assistant", "finish_reason": "stop",
                    "parts": [{"type": "text", "content": "It is sunny."}]}])
        );
        assert_eq!(
            content(Some("not json"), None, None),
            GenAiContent::default()
        );
    }

    /// Written, a message is cut to 256 KiB (other properties at 8 KiB) and
    /// stays JSON; without `log_input_and_output` there is none.
    #[test]
    fn the_writer_gives_messages_256_kib() {
        use crate::envelopes::test_support::{decode, span_data};
        use crate::envelopes::writer::EnvelopeWriter;
        use crate::envelopes::{ResourceTags, ViewOptions};
        use crate::ingest::PackedSpan;
        use opentelemetry::KeyValue;
        let long = "é".repeat(200 * 1024); // 400 KiB
        let input = json!({"messages": [{"role": "user", "content": [{"text": long}]}]});
        let data = span_data(
            [7; 16],
            9,
            Some(1),
            opentelemetry::trace::SpanKind::Internal,
            "fake/m",
            vec![
                KeyValue::new("genkit:name", "fake/m"),
                KeyValue::new("genkit:type", "action"),
                KeyValue::new("genkit:metadata:subtype", "model"),
                KeyValue::new("genkit:input", input.to_string()),
            ],
            std::time::SystemTime::now(),
            std::time::Duration::from_millis(1),
        );
        let span = PackedSpan::from_span_data(&data).unwrap();
        let resource = opentelemetry_sdk::Resource::builder_empty().build();
        let write = |keep: bool| {
            let writer =
                EnvelopeWriter::new("k", ResourceTags::new(&resource), 1).with_view(ViewOptions {
                    log_input_and_output: keep,
                    ..ViewOptions::default()
                });
            decode(
                &writer
                    .spans(std::slice::from_ref(&span), false)
                    .unwrap()
                    .gzip,
            )
        };
        let ours = write(true);
        let props = &ours[0]["data"]["baseData"]["properties"];
        let messages = props["gen_ai.input.messages"].as_str().unwrap();
        assert!(messages.len() > 200 * 1024 && messages.len() <= MAX_CONTENT_BYTES);
        let parsed: Value = serde_json::from_str(messages).expect("still JSON");
        let text = parsed[0]["parts"][0]["content"].as_str().unwrap();
        assert!(text.ends_with("é…"), "cut at a character boundary");
        let ours = write(false);
        let props = &ours[0]["data"]["baseData"]["properties"];
        assert!(props.get("gen_ai.input.messages").is_none());
    }
}
