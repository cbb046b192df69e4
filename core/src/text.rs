//! Text: cutting it at a character boundary (every length limit in the
//! pipeline, packing, envelope fields and error messages, cuts through these,
//! never by bytes), and telling that bytes are text.

/// The largest index `<= max` that is a character boundary of `s`.
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cuts `s` to at most `max` bytes without splitting a character.
pub fn truncated(s: &str, max: usize) -> &str {
    &s[..floor_char_boundary(s, max)]
}

/// Cuts `s` to at most `max` characters: for limits stated in characters
/// (the Google Cloud plugin's, which Genkit users compare against).
pub fn truncated_chars(s: &str, max: usize) -> &str {
    // Never more characters than bytes: a short text needs no walk.
    if s.len() <= max {
        return s;
    }
    s.char_indices().nth(max).map_or(s, |(i, _)| &s[..i])
}

/// `bytes` as text when they are UTF-8.
///
/// Nearly every text read (packed keys and values, the strings a C host
/// passes) is short ASCII, which `is_ascii` checks a word at a time for a
/// fraction of what the general validation's setup costs such a text.
#[inline]
pub fn utf8(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_before_a_character_that_straddles_the_limit() {
        let s = format!("{}é", "a".repeat(8191));
        assert_eq!(s.len(), 8193);
        assert_eq!(truncated(&s, 8192).len(), 8191);
        let s = "日本語".repeat(10);
        for max in 0..s.len() {
            let t = truncated(&s, max);
            assert!(t.len() <= max && s.starts_with(t));
        }
    }

    /// The ASCII shortcut says what the general validation says, where the
    /// text is ASCII, is not, and is broken past a run of ASCII words.
    #[test]
    fn utf8_says_what_std_says() {
        let cases: [&[u8]; 6] = [
            b"",
            b"genkit:path",
            "caf\u{e9} \u{1F600}".as_bytes(),
            b"abcdefghijklmnopqrstu\x80",
            b"\xc3",
            b"\x7f\x00 plain",
        ];
        for b in cases {
            assert_eq!(utf8(b), std::str::from_utf8(b), "{b:?}");
        }
    }

    #[test]
    fn cuts_by_characters_when_asked() {
        assert_eq!(truncated_chars("日本語", 2), "日本");
        assert_eq!(truncated_chars("日本語", 3), "日本語");
        assert_eq!(truncated_chars("abc", 0), "");
        assert_eq!(truncated_chars("ab", 5), "ab");
    }
}
