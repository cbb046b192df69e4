//! What the fuzz targets share: attribute keys worth hitting (each one the
//! view step or the writer reads), and the check of a request body and its
//! gzip.

use std::io::Read;

/// Keys the view step and the writer give meaning to; the fuzzer picks them
/// by index as often as it makes keys up, so the mapping code gets reached.
pub const KEYS: &[&str] = &[
    "genkit:name",
    "genkit:path",
    "genkit:type",
    "genkit:state",
    "genkit:input",
    "genkit:output",
    "genkit:isRoot",
    "genkit:metadata:subtype",
    "genkit:metadata:context",
    "genkit:metadata:flow:name",
    "genkit:sessionId",
    "genkit:threadName",
    "genkit:init",
    "http.request.method",
    "http.method",
    "http.response.status_code",
    "http.status_code",
    "http.route",
    "http.url",
    "http.target",
    "url.full",
    "url.path",
    "url.query",
    "url.scheme",
    "server.address",
    "server.port",
    "client.address",
    "user_agent.original",
    "net.peer.name",
    "db.system",
    "db.system.name",
    "db.statement",
    "db.query.text",
    "db.name",
    "db.namespace",
    "messaging.system",
    "messaging.destination.name",
    "rpc.system",
    "rpc.service",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.agent.name",
    "gen_ai.agent.id",
    "gen_ai.conversation.id",
    "gen_ai.tool.name",
    "error.type",
    "exception.type",
    "exception.message",
    "exception.stacktrace",
    "exception.escaped",
    "enduser.id",
    "session.id",
    "ai.operation.name",
    "ai.user.id",
    "ai.session.id",
    "_MS.ProcessedByMetricExtractors",
    "code.function",
    "otel.status_code",
    "",
];

/// Properties the service keeps (see the protocol notes): keys up to 150
/// characters, values up to 8,192.
const MAX_PROPERTY_KEY: usize = 150;
const MAX_PROPERTY_VALUE: usize = 8192;

/// The GenAI content properties (prompts and responses, exported with
/// `log_input_and_output`) take what Microsoft's exporters give them, and
/// stay JSON.
const CONTENT_KEYS: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
];
const MAX_CONTENT: usize = 256 * 1024;

/// Decompresses a request body and checks it is what the service parses: a
/// JSON array of `expected_at_least` envelopes or more, each with a name, a
/// time, the key and data, and properties within the service's limits.
pub fn check_body(gzip: &[u8], ikey: &str, expected_at_least: usize) {
    let json = gunzip(gzip);
    let text = std::str::from_utf8(&json).expect("the body is UTF-8");
    let value: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("the body is not JSON ({e}): {text}"));
    let envelopes = value.as_array().expect("the body is a JSON array");
    assert!(
        envelopes.len() >= expected_at_least,
        "{} envelopes for {expected_at_least} items",
        envelopes.len()
    );
    for e in envelopes {
        let name = e["name"].as_str().expect("an envelope has a name");
        assert!(name.starts_with("Microsoft.ApplicationInsights."), "{name}");
        assert!(e["time"].is_string(), "{e}");
        assert_eq!(e["iKey"].as_str(), Some(ikey));
        let base = &e["data"]["baseData"];
        assert!(base.is_object(), "{e}");
        if let Some(props) = base["properties"].as_object() {
            for (k, v) in props {
                assert!(!k.is_empty() || v.is_string(), "{e}");
                assert!(
                    k.chars().count() <= MAX_PROPERTY_KEY,
                    "property key too long: {k}"
                );
                let v = v.as_str().expect("property values are strings");
                if CONTENT_KEYS.contains(&k.as_str()) {
                    assert!(v.len() <= MAX_CONTENT, "property {k}: {} bytes", v.len());
                    let parsed = serde_json::from_str::<serde_json::Value>(v);
                    assert!(parsed.is_ok(), "property {k} is not JSON: {v}");
                    continue;
                }
                assert!(
                    v.chars().count() <= MAX_PROPERTY_VALUE,
                    "property {k} longer than {MAX_PROPERTY_VALUE} characters"
                );
            }
        }
        if let Some(rate) = e.get("sampleRate") {
            let rate = rate.as_f64().expect("sampleRate is a number");
            assert!(rate > 0.0 && rate <= 100.0, "{e}");
        }
    }
}

/// A gzip member's text; panics when it is not valid gzip (the decoder
/// checks the CRC-32 and the length).
pub fn gunzip(gzip: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gzip)
        .read_to_end(&mut out)
        .expect("the body is valid gzip");
    out
}
