//! Blanking tokens out of text the pipeline did not write itself: a
//! credential's error message or panic may quote a token, and whatever the
//! pipeline says must not.

/// What a token becomes in a message.
pub(crate) const REDACTED: &str = "<redacted>";

/// The shortest run of token characters after `eyJ` taken for a JWT: a real
/// one is hundreds of characters, a word starting with `eyJ` is not 24 long.
const MIN_JWT_TAIL: usize = 24;

/// `text` with every one of `known` (tokens this pipeline holds or held) and
/// anything shaped like a JWT (`eyJ` and a long run of base64url and dots,
/// what Entra ID issues) replaced by [`REDACTED`].
pub(crate) fn redact<'a>(text: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = text.to_string();
    for token in known {
        // A very short "token" (a test's) would blank ordinary words, and
        // says nothing worth hiding.
        if token.len() >= 8 && out.contains(token) {
            out = out.replace(token, REDACTED);
        }
    }
    redact_jwts(&out)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '=' | '+' | '/')
}

fn redact_jwts(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("eyJ") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let len = from
            .char_indices()
            .find(|&(_, c)| !is_token_char(c))
            .map_or(from.len(), |(i, _)| i);
        if len >= 3 + MIN_JWT_TAIL {
            out.push_str(REDACTED);
        } else {
            out.push_str(&from[..len]);
        }
        rest = &from[len..];
        if len == 0 {
            // Unreachable ("eyJ" is three token characters), but never loop.
            break;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tokens_and_jwts_are_blanked() {
        let jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21vbml0b3IifQ.sig_-";
        assert_eq!(
            redact(&format!("bad token {jwt}: expired"), []),
            "bad token <redacted>: expired"
        );
        assert_eq!(
            redact("token opaque-token-123 was refused", ["opaque-token-123"]),
            "token <redacted> was refused"
        );
        // Ordinary text survives, and so do short words that start like a JWT.
        assert_eq!(
            redact("eyJ is fine, eyJabc too", []),
            "eyJ is fine, eyJabc too"
        );
        assert_eq!(redact("nothing here", ["opaque-token-123"]), "nothing here");
        assert_eq!(redact("x", ["x"]), "x");
    }
}
