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

/// The JSON text, within [`MAX_CONTENT_BYTES`] and still JSON: when it is
/// too long, every string longer than one cap is cut to it (at a character
/// boundary, ending in `…`), the cap being the largest that fits, so a
/// long conversation keeps the start of each of its parts rather than a few
/// whole ones. Two serialisations and two walks, whatever the size: a
/// 10 MB response costs the worker the same few passes over it as a small
/// one costs, not one per string cut.
fn fitted(mut v: Value) -> String {
    let text = v.to_string();
    if text.len() <= MAX_CONTENT_BYTES {
        return text;
    }
    let mut lengths = Vec::new();
    visit_strings(&mut v, &mut |s| lengths.push(escaped_len(s)));
    // What the text takes besides its strings' contents: brackets, keys,
    // quotes, numbers. Cutting strings cannot shrink it.
    let structure = text.len() - lengths.iter().sum::<usize>();
    let Some(cap) = MAX_CONTENT_BYTES
        .checked_sub(structure)
        .and_then(|room| largest_cap(&lengths, room))
    else {
        // A structure too large by itself (keys, numbers, nesting).
        return Value::Array(Vec::new()).to_string();
    };
    visit_strings(&mut v, &mut |s| {
        if escaped_len(s) > cap {
            let end = escaped_prefix(s, cap);
            s.truncate(end);
            s.push(ELLIPSIS);
        }
    });
    v.to_string()
}

const ELLIPSIS: char = '…';

/// The largest cap such that the strings, each cut to it and given an
/// ellipsis when longer, take at most `room` bytes; `None` when even a cap
/// of nothing does not fit. Their cost is not monotone in the cap (a string
/// a byte over it costs more cut than whole), so each stretch of caps that
/// leaves the same strings whole is solved on its own: with the `k`
/// shortest whole, the cost is their bytes plus the cut ones' cap and
/// ellipsis each.
fn largest_cap(lengths: &[usize], room: usize) -> Option<usize> {
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let mut best = None;
    let mut whole = 0;
    for (k, &next) in sorted.iter().enumerate() {
        // Caps from the longest whole one up to below the shortest cut one.
        let lowest = k.checked_sub(1).map_or(0, |i| sorted[i]);
        let cut = sorted.len() - k;
        let fitting = room
            .checked_sub(whole)
            .and_then(|left| (left / cut).checked_sub(ELLIPSIS.len_utf8()));
        if let (Some(fitting), Some(highest)) = (fitting, next.checked_sub(1)) {
            let cap = fitting.min(highest);
            if cap >= lowest {
                best = best.max(Some(cap));
            }
        }
        whole += next;
    }
    best
}

/// Calls `f` on every string value (not keys: they are the structure).
fn visit_strings(v: &mut Value, f: &mut impl FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter_mut().for_each(|v| visit_strings(v, f)),
        Value::Object(o) => o.values_mut().for_each(|v| visit_strings(v, f)),
        _ => {}
    }
}

/// What `c` takes between a JSON string's quotes as serde_json writes it:
/// the quote and backslash escaped, control characters as `\n`-style or
/// `\u00XX` escapes, everything else as its UTF-8.
fn escaped_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        '\0'..='\u{1f}' => 6,
        c => c.len_utf8(),
    }
}

fn escaped_len(s: &str) -> usize {
    // Most text needs no escape: its length is its bytes'.
    match s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        true => s.chars().map(escaped_char_len).sum(),
        false => s.len(),
    }
}

/// The byte length of the longest prefix of `s` at a character boundary
/// that takes at most `cap` bytes escaped.
fn escaped_prefix(s: &str, cap: usize) -> usize {
    let mut taken = 0;
    for (i, c) in s.char_indices() {
        taken += escaped_char_len(c);
        if taken > cap {
            return i;
        }
    }
    s.len()
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
    /// The escaped lengths the cap is computed with are serde_json's own.
    #[test]
    fn escaped_lengths_are_serde_jsons() {
        let odd = ['\u{7f}', '\u{2028}', '\u{fffd}', '\u{10ffff}', 'é', '€'];
        for c in (0..0x100u32).filter_map(char::from_u32).chain(odd) {
            let text = c.to_string();
            let written = serde_json::to_string(&text).unwrap().len() - 2;
            assert_eq!(escaped_len(&text), written, "{c:?}");
        }
        let mixed = "a\"b\\c\nd\u{1}é€😀";
        assert_eq!(
            escaped_len(mixed),
            serde_json::to_string(mixed).unwrap().len() - 2
        );
        for cap in 0..=escaped_len(mixed) {
            let end = escaped_prefix(mixed, cap);
            let written = serde_json::to_string(&mixed[..end]).unwrap().len() - 2;
            assert!(written <= cap, "cap {cap}: {written}");
            let next = mixed[end..].chars().next().map_or(0, escaped_char_len);
            assert!(end == mixed.len() || written + next > cap, "cap {cap}");
        }
    }

    fn texts(n: usize, each: &str) -> Value {
        let parts: Vec<Value> = (0..n)
            .map(|i| json!({"text": format!("{i}:{each}")}))
            .collect();
        json!({"messages": [{"role": "user", "content": parts}]})
    }

    /// A conversation of many long parts keeps the start of every part,
    /// each cut to one cap, and uses most of the room; it used to cut 64
    /// strings to nothing and then give up, sending `[]`.
    #[test]
    fn many_long_parts_each_keep_their_start() {
        let each = "word \"quoted\"\nline é ".repeat(60); // about 1.4 KB
        let input = texts(1000, &each).to_string();
        let c = content(Some(&input), None, None);
        let written = c.input_messages.unwrap();
        assert!(written.len() <= MAX_CONTENT_BYTES, "{}", written.len());
        assert!(
            written.len() > MAX_CONTENT_BYTES * 9 / 10,
            "{}",
            written.len()
        );
        let parsed: Value = serde_json::from_str(&written).expect("still JSON");
        let parts = parsed[0]["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 1000);
        let lengths: Vec<usize> = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let text = p["content"].as_str().unwrap();
                let kept = text.strip_suffix('…').expect("cut");
                assert!(format!("{i}:{each}").starts_with(kept), "part {i}");
                kept.len()
            })
            .collect();
        assert!(lengths.iter().all(|&l| l > 100), "{:?}", &lengths[..8]);
    }

    /// Short strings stay whole while the one long string is cut to fit.
    #[test]
    fn only_strings_over_the_cap_are_cut() {
        let mut input = texts(10, "short");
        input["messages"][0]["content"]
            .as_array_mut()
            .unwrap()
            .push(json!({"text": "x".repeat(3 << 20)}));
        let written = content(Some(&input.to_string()), None, None)
            .input_messages
            .unwrap();
        assert!(written.len() <= MAX_CONTENT_BYTES);
        assert!(written.len() > MAX_CONTENT_BYTES - 16, "{}", written.len());
        let parsed: Value = serde_json::from_str(&written).unwrap();
        let parts = parsed[0]["parts"].as_array().unwrap();
        for (i, p) in parts[..10].iter().enumerate() {
            assert_eq!(p["content"], format!("{i}:short"));
        }
        assert!(parts[10]["content"].as_str().unwrap().ends_with("x…"));
    }

    /// A structure too large by itself, with nothing long to cut, is sent
    /// as an empty list rather than as JSON cut short.
    #[test]
    fn a_structure_too_large_by_itself_is_an_empty_list() {
        let parts: Vec<Value> = (0..40_000)
            .map(|i| json!({"toolRequest": {"name": "t", "ref": i, "input": {"n": i}}}))
            .collect();
        let input = json!({"messages": [{"role": "model", "content": parts}]});
        let written = content(Some(&input.to_string()), None, None).input_messages;
        assert_eq!(written.as_deref(), Some("[]"));
    }
    /// The cap is the largest that fits, as trying every cap finds it.
    #[test]
    fn the_cap_is_the_largest_that_fits() {
        let cost = |lengths: &[usize], cap: usize| -> usize {
            lengths
                .iter()
                .map(|&l| if l > cap { cap + 3 } else { l })
                .sum()
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as usize
        };
        for _ in 0..20_000 {
            let lengths: Vec<usize> = (0..next(8)).map(|_| next(12)).collect();
            let room = next(80);
            let most = lengths.iter().copied().max().unwrap_or(0);
            let tried = (0..=most).filter(|&c| cost(&lengths, c) <= room).max();
            // Every cap at or past the longest keeps all whole: the search
            // is asked only when that does not fit.
            if tried == Some(most) {
                continue;
            }
            assert_eq!(largest_cap(&lengths, room), tried, "{lengths:?} in {room}");
        }
    }
}
