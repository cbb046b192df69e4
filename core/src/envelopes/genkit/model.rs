//! A model call: its provider by the OpenTelemetry GenAI conventions (from
//! the model name's plugin prefix) and what its response says (`usage`,
//! `latencyMs`, `finishReason`), parsed from `genkit:output`.

use serde_json::Value;
use std::borrow::Cow;

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
    fn read(v: &Value) -> Self {
        let n = |k: &str| v.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
        Usage {
            input_tokens: n("inputTokens"),
            output_tokens: n("outputTokens"),
            total_tokens: n("totalTokens"),
            input_characters: n("inputCharacters"),
            output_characters: n("outputCharacters"),
            input_images: n("inputImages"),
            output_images: n("outputImages"),
            input_videos: n("inputVideos"),
            output_videos: n("outputVideos"),
            input_audio_files: n("inputAudioFiles"),
            output_audio_files: n("outputAudioFiles"),
            thoughts_tokens: n("thoughtsTokens"),
            cached_content_tokens: n("cachedContentTokens"),
        }
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
        let v: Value = serde_json::from_str(json).ok()?;
        let o = v.as_object()?;
        // Older responses put the message under `candidates[0]`.
        let message = o
            .get("message")
            .or_else(|| o.get("candidates")?.as_array()?.first()?.get("message"));
        let requests: Vec<&Value> = message
            .and_then(|m| m.get("content"))
            .and_then(Value::as_array)
            .map(|parts| parts.iter().filter_map(|p| p.get("toolRequest")).collect())
            .unwrap_or_default();
        let tool_calls = !requests.is_empty();
        let name = |r: &Value| r.get("name").and_then(Value::as_str).map(str::to_string);
        let tool_refs = requests
            .iter()
            .filter_map(|r| Some((name(r)?, r.get("ref")?.as_str()?.to_string())))
            // A tool asked for twice cannot say which call a span is.
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
        Some(ModelOutput {
            usage: o.get("usage").map(Usage::read).unwrap_or_default(),
            latency_ms: o
                .get("latencyMs")
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite()),
            finish_reason,
            tool_calls,
            tool_refs,
        })
    }

    /// The finish reason in the GenAI conventions' words
    /// (`gen_ai.response.finish_reasons`): a tool request is `tool_calls`,
    /// `blocked` is `content_filter`, `failed` and `aborted` are `error`.
    pub fn finish_reason(&self) -> Option<Cow<'_, str>> {
        if self.tool_calls {
            return Some(Cow::Borrowed("tool_calls"));
        }
        let r = self.finish_reason.as_deref()?;
        Some(match r {
            "blocked" => Cow::Borrowed("content_filter"),
            "failed" | "aborted" => Cow::Borrowed("error"),
            other => Cow::Owned(other.to_ascii_lowercase()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(out.finish_reason().as_deref(), Some("tool_calls"));
        let blocked = ModelOutput::parse(r#"{"finishReason":"blocked"}"#).unwrap();
        assert_eq!(blocked.finish_reason().as_deref(), Some("content_filter"));
        assert_eq!(ModelOutput::parse("\"text\""), None);
        assert_eq!(ModelOutput::parse("{broken"), None);
    }
}
