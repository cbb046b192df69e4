//! Turning a track request body into a list of items.
//!
//! Two layers of failure are kept apart on purpose, because the service answers them
//! differently: a body that cannot be read at all (bad gzip, not JSON) is a whole-request
//! 400, while one unreadable line in newline-delimited JSON only rejects that item (206).

use std::io::Read;

use serde_json::Value;

/// Upper bound on the decompressed size, so a gzip bomb cannot exhaust test machines.
/// The real service caps requests far lower than this; it only needs to be generous.
pub const MAX_DECODED_BYTES: u64 = 256 * 1024 * 1024;

/// One item as read from the body: the parsed value plus its JSON text, or why it
/// could not be parsed.
pub type Item = Result<ParsedItem, String>;

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedItem {
    pub value: Value,
    /// The item's text exactly as the client sent it (whitespace-trimmed), so what tests
    /// see at `/envelopes` and in the JSONL file is what went over the wire (key order,
    /// number formatting). Re-serialized compactly only when the client pretty-printed
    /// it, because the JSONL file needs one item per line. Keeping the original also
    /// avoids re-serializing every item, which dominated CPU time in debug builds.
    pub text: Box<str>,
}

impl ParsedItem {
    fn new(raw: &[u8], value: Value) -> ParsedItem {
        let raw = raw.trim_ascii();
        // JSON strings can't hold raw CR/LF, so any here is formatting whitespace.
        // (Byte-slice `contains` on purpose: `str::contains([..])` is ~1000x slower in
        // unoptimized builds, which is how tests run this server.)
        let one_line = !raw.contains(&b'\n') && !raw.contains(&b'\r');
        let text = match std::str::from_utf8(raw) {
            Ok(s) if one_line => s.into(),
            _ => serde_json::to_string(&value)
                .expect("a Value always serializes")
                .into(),
        };
        ParsedItem { value, text }
    }
}

/// Undoes `Content-Encoding`. Only `gzip` (what exporters send) and identity are supported.
pub fn decompress(content_encoding: Option<&str>, body: &[u8]) -> Result<Vec<u8>, String> {
    let enc = content_encoding.map(|s| s.trim().to_ascii_lowercase());
    match enc.as_deref() {
        None | Some("") | Some("identity") => Ok(body.to_vec()),
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::with_capacity(body.len() * 4);
            // MultiGzDecoder: concatenated gzip members are a valid gzip stream.
            let mut dec = flate2::read::MultiGzDecoder::new(body).take(MAX_DECODED_BYTES + 1);
            dec.read_to_end(&mut out)
                .map_err(|e| format!("body is not valid gzip: {e}"))?;
            if out.len() as u64 > MAX_DECODED_BYTES {
                return Err(format!(
                    "decompressed body exceeds {MAX_DECODED_BYTES} bytes"
                ));
            }
            Ok(out)
        }
        Some(other) => Err(format!(
            "unsupported Content-Encoding {other:?} (use gzip or none)"
        )),
    }
}

/// Splits a decompressed body into items.
///
/// - Starts with `[`: a JSON array of envelopes; it must be valid JSON as a whole.
/// - Starts with `{`: newline-delimited JSON, one object per line. A line that does not
///   parse becomes a per-item error, so one corrupt line doesn't hide the rest — unless
///   the whole body parses as a stream of values (e.g. pretty-printed objects), in which
///   case those values are the items.
/// - Anything else: a body-level error.
pub fn split_items(body: &[u8]) -> Result<Vec<Item>, String> {
    let first = body.iter().position(|b| !b.is_ascii_whitespace());
    let Some(first) = first else {
        return Err("body is empty".to_string());
    };
    match body[first] {
        b'[' => split_array(body),
        b'{' => Ok(split_ndjson(body)),
        _ => Err("body is neither a JSON array nor newline-delimited JSON objects".to_string()),
    }
}

fn split_array(body: &[u8]) -> Result<Vec<Item>, String> {
    let invalid = |detail: String| format!("body is not a valid JSON array: {detail}");
    // Fast path: find element boundaries, then parse each element on its own so its
    // original text can be kept. If every element parses, the body is valid JSON.
    if let Some(ranges) = array_element_ranges(body) {
        let mut items = Vec::with_capacity(ranges.len());
        for r in ranges {
            let raw = &body[r];
            let value: Value = serde_json::from_slice(raw).map_err(|e| invalid(e.to_string()))?;
            items.push(Ok(ParsedItem::new(raw, value)));
        }
        return Ok(items);
    }
    // The scanner only says "malformed"; let serde_json produce a precise message.
    match serde_json::from_slice::<Vec<Value>>(body) {
        Err(e) => Err(invalid(e.to_string())),
        // Unreachable in practice (the scanner accepts all valid arrays), but if it ever
        // disagrees, trust serde_json.
        Ok(values) => Ok(values
            .into_iter()
            .map(|v| {
                let text = serde_json::to_string(&v).expect("a Value always serializes");
                Ok(ParsedItem::new(text.as_bytes(), v))
            })
            .collect()),
    }
}

/// Byte ranges of the top-level elements of a JSON array, found by tracking strings and
/// bracket depth only. Returns `None` when the bracket/comma structure is wrong; the
/// elements themselves are validated by parsing them afterwards.
fn array_element_ranges(body: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    let open = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[open] != b'[' {
        return None;
    }
    let mut ranges = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut elem_start = open + 1;
    let mut i = open + 1;
    while i < body.len() {
        let b = body[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' if depth == 0 => {
                    let elem = trim_range(body, elem_start, i);
                    if elem.is_empty() {
                        // "[]" is fine; "[1,]" is not.
                        if !ranges.is_empty() {
                            return None;
                        }
                    } else {
                        ranges.push(elem);
                    }
                    // Only whitespace may follow the closing bracket.
                    return body[i + 1..]
                        .iter()
                        .all(|b| b.is_ascii_whitespace())
                        .then_some(ranges);
                }
                b']' | b'}' => depth = depth.checked_sub(1)?,
                b',' if depth == 0 => {
                    let elem = trim_range(body, elem_start, i);
                    if elem.is_empty() {
                        return None;
                    }
                    ranges.push(elem);
                    elem_start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    None // no closing bracket
}

fn trim_range(body: &[u8], mut start: usize, mut end: usize) -> std::ops::Range<usize> {
    while start < end && body[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && body[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    start..end
}

fn split_ndjson(body: &[u8]) -> Vec<Item> {
    let lines: Vec<(&[u8], Result<Value, serde_json::Error>)> = body
        .split(|&b| b == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .map(|line| (line, serde_json::from_slice::<Value>(line)))
        .collect();
    if lines.iter().any(|(_, r)| r.is_err()) {
        if let Some(items) = split_stream(body) {
            return items;
        }
    }
    lines
        .into_iter()
        .map(|(line, r)| {
            r.map(|v| ParsedItem::new(line, v))
                .map_err(|e| format!("envelope: line is not valid JSON: {e}"))
        })
        .collect()
}

/// Whole body as a stream of JSON values (any whitespace between them), or `None`.
fn split_stream(body: &[u8]) -> Option<Vec<Item>> {
    let mut stream = serde_json::Deserializer::from_slice(body).into_iter::<Value>();
    let mut items = Vec::new();
    let mut start = 0;
    while let Some(next) = stream.next() {
        let value = next.ok()?;
        let end = stream.byte_offset();
        items.push(Ok(ParsedItem::new(&body[start..end], value)));
        start = end;
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn array_and_ndjson() {
        assert_eq!(split_items(b" [{\"a\":1},{\"a\":2}]").unwrap().len(), 2);
        assert_eq!(split_items(b"{\"a\":1}\n{\"a\":2}\n\n").unwrap().len(), 2);
        assert_eq!(split_items(b"{\n \"a\": 1\n}").unwrap().len(), 1);
        assert_eq!(split_items(b"[]").unwrap().len(), 0);
    }

    #[test]
    fn item_text_is_the_original_compact_text() {
        let items = split_items(b"[ {\"b\":1, \"a\":1e2} ,{\"s\":\"x,]}\\\"\"}]").unwrap();
        let texts: Vec<&str> = items.iter().map(|i| &*i.as_ref().unwrap().text).collect();
        assert_eq!(texts, ["{\"b\":1, \"a\":1e2}", "{\"s\":\"x,]}\\\"\"}"]);
        // Pretty-printed items are re-serialized onto one line.
        let items = split_items(b"[{\n  \"a\": 1\n}]").unwrap();
        assert_eq!(&*items[0].as_ref().unwrap().text, "{\"a\":1}");
        let items = split_items(b"{\n \"a\": 1\n}\n{\"b\": 2}").unwrap();
        let texts: Vec<&str> = items.iter().map(|i| &*i.as_ref().unwrap().text).collect();
        assert_eq!(texts, ["{\"a\":1}", "{\"b\": 2}"]);
    }

    #[test]
    fn array_scanner_rejects_what_json_rejects() {
        for bad in [
            &b"[1,]"[..],
            b"[,1]",
            b"[1 2]",
            b"[{]}]",
            b"[{\"a\":1}",
            b"[{\"a\":1}] x",
            b"[\"]",
            b"[{\"a\":1}}]",
        ] {
            assert!(
                split_items(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(split_items(b"[ ]").unwrap().len(), 0);
        assert_eq!(split_items(b"[[1,2],{\"a\":[3]}]").unwrap().len(), 2);
    }

    #[test]
    fn bad_ndjson_line_is_per_item() {
        let items = split_items(b"{\"a\":1}\n{oops\n{\"a\":3}\n").unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_err() && items[2].is_ok());
    }

    #[test]
    fn body_level_errors() {
        assert!(split_items(b"").is_err());
        assert!(split_items(b"hello").is_err());
        assert!(split_items(b"[{\"a\":1},").is_err());
        assert!(decompress(Some("gzip"), b"not gzip").is_err());
        assert!(decompress(Some("br"), b"x").is_err());
    }

    #[test]
    fn gzip_roundtrip() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"[1]").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(decompress(Some("GZIP"), &gz).unwrap(), b"[1]");
    }
}
