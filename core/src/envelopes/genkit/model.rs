//! A model call: its provider by the OpenTelemetry GenAI conventions (from
//! the model name's plugin prefix) and what its response says (`usage`,
//! `latencyMs`, `finishReason`), parsed from `genkit:output`.

use super::reply::Reply;
use crate::ingest::ModelReply;
use std::borrow::Cow;
use std::collections::HashMap;

/// The provider (`gen_ai.provider.name`) and the model without its plugin
/// prefix (`gen_ai.request.model`) of a Genkit model name such as
/// `googleai/gemini-2.5-flash`. Known plugins map to the conventions' values
/// (as Genkit's own Dart OpenTelemetry package maps them); any other prefix is
/// lowercased; a name with no prefix has the provider `genkit`.
pub(crate) fn provider(model: &str) -> (Cow<'static, str>, &str) {
    let Some((prefix, name)) = model.split_once('/') else {
        return (Cow::Borrowed("genkit"), model);
    };
    let provider = match prefix.to_ascii_lowercase().as_str() {
        "googleai" => Cow::Borrowed("gcp.gemini"),
        "vertexai" => Cow::Borrowed("gcp.vertex_ai"),
        "openai" => Cow::Borrowed("openai"),
        "anthropic" => Cow::Borrowed("anthropic"),
        "" => Cow::Borrowed("genkit"),
        _ => Cow::Owned(prefix.to_lowercase()),
    };
    (provider, name)
}

/// `usage` of a model response: every count Genkit reports (floats).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Usage {
    pub input_tokens: Option<f64>,
    pub output_tokens: Option<f64>,
    pub total_tokens: Option<f64>,
    pub input_characters: Option<f64>,
    pub output_characters: Option<f64>,
    pub input_images: Option<f64>,
    pub output_images: Option<f64>,
    pub input_videos: Option<f64>,
    pub output_videos: Option<f64>,
    pub input_audio_files: Option<f64>,
    pub output_audio_files: Option<f64>,
    pub thoughts_tokens: Option<f64>,
    pub cached_content_tokens: Option<f64>,
}

impl Usage {
    /// The count a `usage` member names, by its name in Genkit's JSON.
    pub(super) fn count_mut(&mut self, name: &str) -> Option<&mut Option<f64>> {
        Some(match name {
            "inputTokens" => &mut self.input_tokens,
            "outputTokens" => &mut self.output_tokens,
            "totalTokens" => &mut self.total_tokens,
            "inputCharacters" => &mut self.input_characters,
            "outputCharacters" => &mut self.output_characters,
            "inputImages" => &mut self.input_images,
            "outputImages" => &mut self.output_images,
            "inputVideos" => &mut self.input_videos,
            "outputVideos" => &mut self.output_videos,
            "inputAudioFiles" => &mut self.input_audio_files,
            "outputAudioFiles" => &mut self.output_audio_files,
            "thoughtsTokens" => &mut self.thoughts_tokens,
            "cachedContentTokens" => &mut self.cached_content_tokens,
            _ => return None,
        })
    }
}

/// What a model span's `genkit:output` says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ModelOutput {
    pub usage: Usage,
    pub latency_ms: Option<f64>,
    /// Genkit's `finishReason` (`stop`, `length`, `blocked`, ...).
    pub finish_reason: Option<String>,
    /// The response asks for a tool.
    pub tool_calls: bool,
    /// The tools it asks for that it names once, with the `ref` of the
    /// request: what identifies a tool span's call unambiguously.
    pub tool_refs: Vec<(String, String)>,
}

impl ModelOutput {
    /// Parses a model response; `None` when it is not a JSON object.
    pub fn parse(json: &str) -> Option<Self> {
        let reply = Reply::read(json)?;
        let requests = &reply.tool_requests;
        // A tool asked for twice cannot say which call a span is. Names are
        // counted in one pass: comparing each request with every other took
        // a reply of 20,000 requests (1 MB) seconds of the worker's time.
        let mut asked: HashMap<&str, usize> = HashMap::new();
        if requests.len() > 1 {
            for name in requests.iter().filter_map(|r| r.name.as_deref()) {
                *asked.entry(name).or_default() += 1;
            }
        }
        let tool_refs = requests
            .iter()
            .filter(|r| {
                r.name
                    .as_deref()
                    .is_some_and(|n| asked.get(n).is_none_or(|&c| c == 1))
            })
            .filter_map(|r| Some((r.name.clone()?, r.reference.clone()?)))
            .collect();
        Some(ModelOutput {
            tool_calls: !requests.is_empty(),
            tool_refs,
            usage: reply.usage,
            latency_ms: reply.latency_ms,
            finish_reason: reply.finish_reason,
        })
    }

    /// What the envelope of the call shows of it, as the worker keeps it on
    /// the packed span for the writer.
    pub fn reply(&self) -> ModelReply<'_> {
        ModelReply {
            input_tokens: self.usage.input_tokens,
            output_tokens: self.usage.output_tokens,
            thoughts_tokens: self.usage.thoughts_tokens,
            cached_content_tokens: self.usage.cached_content_tokens,
            tool_calls: self.tool_calls,
            finish_reason: self.finish_reason.as_deref(),
        }
    }
}

/// A response's finish reason in the GenAI conventions' words
/// (`gen_ai.response.finish_reasons`): a tool request is `tool_calls`,
/// `blocked` is `content_filter`, `failed` and `aborted` are `error`.
pub(crate) fn genai_finish_reason(tool_calls: bool, reason: Option<&str>) -> Option<Cow<'_, str>> {
    if tool_calls {
        return Some(Cow::Borrowed("tool_calls"));
    }
    Some(match reason? {
        "blocked" => Cow::Borrowed("content_filter"),
        "failed" | "aborted" => Cow::Borrowed("error"),
        other => Cow::Owned(other.to_ascii_lowercase()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// How a reply was read before `reply.rs`, through a `serde_json::Value`:
    /// the reference the one-pass reading must agree with.
    fn read_through_value(json: &str) -> Option<ModelOutput> {
        let v: Value = serde_json::from_str(json).ok()?;
        let o = v.as_object()?;
        let message = o
            .get("message")
            .or_else(|| o.get("candidates")?.as_array()?.first()?.get("message"));
        let requests: Vec<&Value> = message
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
            .map(|parts| parts.iter().filter_map(|p| p.get("toolRequest")).collect())
            .unwrap_or_default();
        let name = |r: &Value| r.get("name").and_then(Value::as_str).map(str::to_string);
        let tool_refs = requests
            .iter()
            .filter_map(|r| Some((name(r)?, r.get("ref")?.as_str()?.to_string())))
            .filter(|(n, _)| {
                requests
                    .iter()
                    .filter(|r| name(r).as_ref() == Some(n))
                    .count()
                    == 1
            })
            .collect();
        let finish_reason = o
            .get("finishReason")
            .or_else(|| {
                o.get("candidates")?
                    .as_array()?
                    .first()?
                    .get("finishReason")
            })
            .and_then(Value::as_str)
            .map(str::to_string);
        let number = |v: Option<&Value>| v.and_then(Value::as_f64).filter(|x| x.is_finite());
        let usage = o.get("usage");
        let count = |k: &str| number(usage.and_then(|u| u.get(k)));
        Some(ModelOutput {
            usage: Usage {
                input_tokens: count("inputTokens"),
                output_tokens: count("outputTokens"),
                total_tokens: count("totalTokens"),
                input_characters: count("inputCharacters"),
                output_characters: count("outputCharacters"),
                input_images: count("inputImages"),
                output_images: count("outputImages"),
                input_videos: count("inputVideos"),
                output_videos: count("outputVideos"),
                input_audio_files: count("inputAudioFiles"),
                output_audio_files: count("outputAudioFiles"),
                thoughts_tokens: count("thoughtsTokens"),
                cached_content_tokens: count("cachedContentTokens"),
            },
            latency_ms: number(o.get("latencyMs")),
            finish_reason,
            tool_calls: !requests.is_empty(),
            tool_refs,
        })
    }

    /// Appends a random JSON value to `out`: mostly of the shape a reply's
    /// member named `shape` has, sometimes of any other kind. Members repeat,
    /// and some names are written with escapes.
    fn random_value(rng: &mut fastrand::Rng, shape: &str, depth: u32, out: &mut String) {
        const KEYS: &[&str] = &[
            "message",
            "candidates",
            "content",
            "toolRequest",
            "name",
            "ref",
            "finishReason",
            "usage",
            "inputTokens",
            "outputTokens",
            "thoughtsTokens",
            "cachedContentTokens",
            "latencyMs",
            "custom",
            "role",
            "text",
            "input",
            r"input\u0054okens",
            r"na\u006de",
            "x",
        ];
        const NUMBERS: &[&str] = &[
            "0",
            "-0",
            "12",
            "4.0",
            "-3",
            "0.49216800107387826",
            "1e3",
            "2.5E-3",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "1e308",
        ];
        const TEXTS: &[&str] = &[
            r#""""#,
            r#""stop""#,
            r#""blocked""#,
            r#""a""#,
            r#""b""#,
            r#""get_weather""#,
            r#""call-1""#,
            r#""line\nbreak""#,
            r#""caf\u00e9""#,
            r#""\ud83d\ude00""#,
        ];
        fn pick<'a>(rng: &mut fastrand::Rng, list: &[&'a str]) -> &'a str {
            list[rng.usize(..list.len())]
        }
        let object = |rng: &mut fastrand::Rng, keys: &[&str], out: &mut String| {
            out.push('{');
            for i in 0..rng.usize(0..5) {
                if i > 0 {
                    out.push(',');
                }
                let key = if rng.u8(..4) == 0 {
                    pick(rng, KEYS)
                } else {
                    pick(rng, keys)
                };
                out.push('"');
                out.push_str(key);
                out.push_str("\":");
                random_value(rng, key, depth + 1, out);
            }
            out.push('}');
        };
        let array = |rng: &mut fastrand::Rng, element: &str, out: &mut String| {
            out.push('[');
            for i in 0..rng.usize(0..4) {
                if i > 0 {
                    out.push(',');
                }
                random_value(rng, element, depth + 1, out);
            }
            out.push(']');
        };
        let shape = if depth > 6 || (depth > 0 && rng.u8(..5) == 0) {
            pick(rng, &["number", "text", "null", "bool", "object", "array"])
        } else {
            shape
        };
        match shape {
            "reply" => {
                let members = [
                    "message",
                    "candidates",
                    "finishReason",
                    "usage",
                    "latencyMs",
                    "custom",
                ];
                object(rng, &members, out)
            }
            "message" => object(rng, &["role", "content"], out),
            "content" => array(rng, "part", out),
            "part" => object(rng, &["text", "toolRequest"], out),
            "toolRequest" => object(rng, &["name", "ref", "input"], out),
            "candidates" => array(rng, "candidate", out),
            "candidate" => object(rng, &["message", "finishReason"], out),
            "usage" => {
                let counts = [
                    "inputTokens",
                    "outputTokens",
                    "thoughtsTokens",
                    "cachedContentTokens",
                ];
                object(rng, &counts, out)
            }
            "inputTokens"
            | "outputTokens"
            | "thoughtsTokens"
            | "cachedContentTokens"
            | "latencyMs"
            | "number" => out.push_str(pick(rng, NUMBERS)),
            "name" | "ref" | "finishReason" | "role" | "text" => out.push_str(pick(rng, TEXTS)),
            "null" => out.push_str("null"),
            "bool" => out.push_str(if rng.bool() { "true" } else { "false" }),
            "array" => array(rng, "any", out),
            _ => object(rng, KEYS, out),
        }
    }

    #[test]
    fn the_one_pass_reading_agrees_with_reading_into_a_value() {
        let mut rng = fastrand::Rng::with_seed(20261201);
        let (mut replies, mut with_refs, mut with_tokens) = (0, 0, 0);
        for case in 0..30_000 {
            let mut json = String::new();
            random_value(&mut rng, "reply", 0, &mut json);
            if case % 10 == 0 {
                // Cut short: neither reading accepts it.
                json.truncate(rng.usize(..json.len()));
            }
            let expected = read_through_value(&json);
            assert_eq!(ModelOutput::parse(&json), expected, "{json}");
            if let Some(out) = expected {
                replies += 1;
                with_refs += usize::from(!out.tool_refs.is_empty());
                with_tokens += usize::from(out.usage.input_tokens.is_some());
            }
        }
        // The corpus reaches what it is there for.
        assert!(
            replies > 20_000 && with_refs > 100 && with_tokens > 1_000,
            "{replies} {with_refs} {with_tokens}"
        );
    }

    /// A reply asking for very many tools (a buggy or hostile one: 1 MB
    /// here) is read in time proportional to it, not to its square.
    #[test]
    fn a_reply_asking_for_very_many_tools_is_read_in_one_pass() {
        let mut parts: Vec<String> = (0..20_000)
            .map(|i| format!(r#"{{"toolRequest":{{"name":"tool-{i}","ref":"call-{i}"}}}}"#))
            .collect();
        parts.push(r#"{"toolRequest":{"name":"tool-7","ref":"again"}}"#.to_string());
        let json = format!(r#"{{"message":{{"content":[{}]}}}}"#, parts.join(","));
        let out = ModelOutput::parse(&json).unwrap();
        assert!(out.tool_calls);
        assert_eq!(
            out.tool_refs.len(),
            19_999,
            "all but the tool asked for twice"
        );
        assert_eq!(
            out.tool_refs[..2],
            [
                ("tool-0".to_string(), "call-0".to_string()),
                ("tool-1".to_string(), "call-1".to_string())
            ]
        );
        assert!(!out.tool_refs.iter().any(|(name, _)| name == "tool-7"));
    }

    #[test]
    fn odd_replies_read_as_through_a_value() {
        for json in [
            r#"{"message":null,"candidates":[{"message":{"content":[{"toolRequest":{"name":"a","ref":"1"}}]}}]}"#,
            r#"{"candidates":[{"message":{"content":[{"toolRequest":{"name":"a","ref":"1"}}]},"finishReason":"length"}]}"#,
            r#"{"candidates":[5,{"finishReason":"stop"}],"finishReason":7}"#,
            r#"{"usage":{"inputTokens":1,"inputTokens":"two"},"latencyMs":1,"latencyMs":null}"#,
            r#"{"usage":{"input\u0054okens":3},"message":{"content":[{"toolRequest":null}]}}"#,
            r#"{"message":{"content":[{"toolRequest":{"name":"a","ref":"1"}},{"toolRequest":{"name":"a"}}]}}"#,
            r#"{"message":{"content":[{"toolRequest":{"name":"a","ref":"1"}}],"content":{}}}"#,
            r#"{"message":{"content":[{"toolRequest":{"name":"a","ref":1}}]},"finishReason":"x","finishReason":"STOP"}"#,
            r#"{"usage":{"inputTokens":18446744073709551616,"outputTokens":-9223372036854775808}}"#,
            r#"[{"message":{}}]"#,
            r#""text""#,
            "{broken",
            "{} trailing",
            "",
        ] {
            assert_eq!(ModelOutput::parse(json), read_through_value(json), "{json}");
        }
    }

    /// What is stepped over is checked less than a `Value` checks it: a lone
    /// surrogate or a number past `f64` there no longer loses the tokens.
    #[test]
    fn odd_text_in_a_member_not_read_does_not_lose_the_tokens() {
        for json in [
            r#"{"custom":{"t":"\ud800"},"usage":{"inputTokens":3}}"#,
            r#"{"custom":1e400,"usage":{"inputTokens":3}}"#,
        ] {
            assert_eq!(read_through_value(json), None, "{json}");
            let out = ModelOutput::parse(json).unwrap();
            assert_eq!(out.usage.input_tokens, Some(3.0), "{json}");
        }
        // Nesting far past serde_json's recursion limit, in a member not
        // read or inside one that is: stepped over without recursing (the
        // reading itself goes six levels deep at most), so the stack is
        // never at risk, and the tokens are kept.
        let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        for json in [
            format!(r#"{{"custom":{nested},"usage":{{"inputTokens":3}}}}"#),
            format!(
                r#"{{"message":{{"content":[{{"toolRequest":{{"name":{nested}}}}}]}},"usage":{{"inputTokens":3}}}}"#
            ),
        ] {
            let out = ModelOutput::parse(&json).unwrap();
            assert_eq!(out.usage.input_tokens, Some(3.0));
            assert!(read_through_value(&json).is_none(), "a Value refuses it");
        }
        // Where it is read, it makes the reply unreadable, as before.
        assert_eq!(
            ModelOutput::parse(r#"{"usage":{"inputTokens":1e400}}"#),
            None
        );
    }

    #[test]
    fn tool_requests_named_once_keep_their_ref() {
        let out = ModelOutput::parse(
            r#"{"message":{"role":"model","content":[
                {"toolRequest":{"name":"a","ref":"1","input":{}}},
                {"toolRequest":{"name":"b","ref":"2"}},
                {"toolRequest":{"name":"b","ref":"3"}},
                {"toolRequest":{"name":"c"}},
                {"text":"x"}]}}"#,
        )
        .unwrap();
        assert!(out.tool_calls);
        assert_eq!(out.tool_refs, [("a".to_string(), "1".to_string())]);
        assert!(ModelOutput::parse("{}").unwrap().tool_refs.is_empty());
    }

    #[test]
    fn providers_follow_the_genai_conventions() {
        assert_eq!(
            provider("googleai/gemini-2.5-flash"),
            ("gcp.gemini".into(), "gemini-2.5-flash")
        );
        assert_eq!(
            provider("vertexai/gemini-pro"),
            ("gcp.vertex_ai".into(), "gemini-pro")
        );
        assert_eq!(provider("openai/gpt-4o"), ("openai".into(), "gpt-4o"));
        assert_eq!(provider("Anthropic/claude"), ("anthropic".into(), "claude"));
        assert_eq!(provider("Ollama/llama3/8b"), ("ollama".into(), "llama3/8b"));
        assert_eq!(provider("echo"), ("genkit".into(), "echo"));
    }

    #[test]
    fn parses_a_genkit_response() {
        let out = ModelOutput::parse(
            r#"{"message":{"role":"model","content":[{"toolRequest":{"ref":"call-1","name":"get_weather","input":"Paris"}}]},"finishReason":"stop","latencyMs":0.5,"usage":{"inputTokens":12.0,"outputTokens":4.0,"thoughtsTokens":3.0,"cachedContentTokens":2.0,"inputAudioFiles":1},"custom":{}}"#,
        )
        .unwrap();
        assert_eq!(out.usage.input_tokens, Some(12.0));
        assert_eq!(out.usage.output_tokens, Some(4.0));
        assert_eq!(out.usage.thoughts_tokens, Some(3.0));
        assert_eq!(out.usage.cached_content_tokens, Some(2.0));
        assert_eq!(out.usage.input_audio_files, Some(1.0));
        assert_eq!(out.latency_ms, Some(0.5));
        fn reason(o: &ModelOutput) -> Option<Cow<'_, str>> {
            genai_finish_reason(o.tool_calls, o.finish_reason.as_deref())
        }
        assert_eq!(reason(&out).as_deref(), Some("tool_calls"));
        let blocked = ModelOutput::parse(r#"{"finishReason":"blocked"}"#).unwrap();
        assert_eq!(reason(&blocked).as_deref(), Some("content_filter"));
        assert_eq!(ModelOutput::parse("\"text\""), None);
        assert_eq!(ModelOutput::parse("{broken"), None);
    }
}
