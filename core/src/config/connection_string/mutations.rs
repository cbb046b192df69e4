//! Test support: connection strings around a known instrumentation key, broken
//! in many ways, and the check that an error message holds no part of the key.
//!
//! Deterministic on purpose (no random seed to chase when a case fails): every
//! mutation is applied at every position, and a fixed xorshift stream stacks
//! a few of them for combinations nobody listed by hand. Used by the parser's
//! own tests and by `resolve_connection_string`'s (through `#[path]`).

/// A key that looks real. Its 8-character windows appear nowhere in an
/// English message, so a hit always means a leak.
pub const KEY: &str = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";

/// The key as it may be pasted: as issued, in upper case, in mixed case,
/// without dashes, in braces (GUID notation), and with one character changed
/// (still GUID-shaped, but not hexadecimal).
pub fn key_variants() -> Vec<String> {
    let mixed: String = KEY
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    vec![
        KEY.to_string(),
        KEY.to_ascii_uppercase(),
        mixed,
        KEY.replace('-', ""),
        format!("{{{KEY}}}"),
        format!("{}g", &KEY[..KEY.len() - 1]),
    ]
}

/// The 8-character windows of a key, lower case, in every form it may be
/// pasted in. A message containing any of them (in any case) leaks part of
/// the key.
pub struct Secret {
    windows: std::collections::HashSet<[u8; 8]>,
}

impl Secret {
    /// The windows of `key` (a variant from [`key_variants`]) and of the
    /// test key, with and without dashes.
    pub fn new(key: &str) -> Self {
        let mut windows = std::collections::HashSet::new();
        for form in [KEY, key] {
            let form = form.trim_matches(['{', '}']).to_ascii_lowercase();
            for form in [form.clone(), form.replace('-', "")] {
                for w in form.as_bytes().windows(8) {
                    windows.insert(w.try_into().expect("8 bytes"));
                }
            }
        }
        Self { windows }
    }

    /// The first window of the key `message` contains, if any.
    pub fn leaked_in(&self, message: &str) -> Option<String> {
        let lower = message.to_ascii_lowercase();
        // Every window of the key is hexadecimal digits and dashes, so only
        // runs of those at least 8 long need looking up (this keeps 100,000
        // messages in a debug build fast).
        lower
            .as_bytes()
            .split(|b| !(b.is_ascii_hexdigit() || *b == b'-'))
            .filter(|run| run.len() >= 8)
            .flat_map(|run| run.windows(8))
            .find(|w| self.windows.contains(*w))
            .map(|w| String::from_utf8_lossy(w).into_owned())
    }

    /// Panics, naming the input and the message, when `message` holds any
    /// window of the key.
    pub fn assert_hidden_in(&self, message: &str, input: &str) {
        let leaked = self.leaked_in(message);
        assert!(
            leaked.is_none(),
            "the key leaked ({leaked:?}) for input {input:?}: {message}"
        );
    }
}

/// Valid connection strings holding `key`, in the shapes users have.
fn seeds(key: &str) -> Vec<String> {
    vec![
        format!("InstrumentationKey={key}"),
        format!(
            "InstrumentationKey={key};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;\
             LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/;\
             ApplicationId=0f0e0d0c-0b0a-4908-8706-050403020100"
        ),
        format!(
            "InstrumentationKey={key};EndpointSuffix=applicationinsights.azure.cn;Location=chinaeast2"
        ),
        format!("IngestionEndpoint=http://127.0.0.1:8080/;InstrumentationKey={key};Authorization=ikey"),
        format!(" instrumentationkey = {key} ; INGESTIONENDPOINT= https://h.example/ ;"),
    ]
}

/// What a value may turn into when the key is pasted into it.
fn pasted_values(value: &str, key: &str) -> Vec<String> {
    vec![
        key.to_string(),
        format!("{value} {key}"),
        format!("{value}{key}"),
        format!("{key}{value}"),
        format!("{value} InstrumentationKey={key}"),
        format!("{value}InstrumentationKey={key}"),
        format!("https://{key}"),
        format!("http://{key}/"),
        format!("http://{key}.example.com"),
        format!("https://{key}:443"),
        format!("https://h:{key}"),
        format!("https://[{key}]"),
        format!("https:///{key}"),
        format!("https://h/ {key}"),
        format!("https://h/?{key}"),
        format!("https://h#{key}"),
        format!("ftp://{key}"),
        format!("{key}://h"),
        format!("https://{key}@h"),
        format!("https:// {key}"),
        format!("https://h\u{a0}{key}"),
    ]
}

/// Characters and strings inserted at every position.
const INSERTS: &[&str] = &[
    " ", ";", "=", ";;", "==", "\t", "\n", "\u{a0}", "\u{200b}", "\u{feff}", "é", "漢", "🚀",
    "\u{0}", "\"", "'", "%", "\\", "/", "[", "]", ":", "@", "?", "#",
];

/// What `;` and `=` are replaced with.
const SEPARATOR_REPLACEMENTS: &[&str] = &[
    "", " ", ";;", "==", ",", ":", "&", "\n", "\u{37e}", "\u{ff1b}", "\u{ff1d}", "=;", ";=",
];

fn splice(chars: &[char], at: usize, remove: usize, insert: &str) -> String {
    let mut s: String = chars[..at].iter().collect();
    s.push_str(insert);
    s.extend(&chars[at + remove..]);
    s
}

/// Every mutation of `seed` built around `key`.
fn mutations_of(seed: &str, key: &str, out: &mut Vec<String>) {
    let chars: Vec<char> = seed.chars().collect();
    out.push(seed.to_string());
    for i in 0..=chars.len() {
        // Truncated at every position, and from every position on.
        out.push(chars[..i].iter().collect());
        out.push(chars[i..].iter().collect());
        // Something inserted at every position.
        for ins in INSERTS {
            out.push(splice(&chars, i, 0, ins));
        }
    }
    for (i, c) in chars.iter().enumerate() {
        if *c == ';' || *c == '=' {
            out.push(splice(&chars, i, 1, "")); // dropped
            out.push(splice(&chars, i, 0, &c.to_string())); // duplicated
            for r in SEPARATOR_REPLACEMENTS {
                out.push(splice(&chars, i, 1, r));
            }
            // The key pasted right at a separator.
            out.push(splice(&chars, i, 0, key));
            out.push(splice(&chars, i, 1, key));
        }
        if c.is_ascii_alphabetic() {
            // A letter swapped for a look-alike outside ASCII.
            out.push(splice(&chars, i, 1, "\u{0430}"));
        }
    }
    // Part by part: the key pasted into each value and used as each name,
    // parts emptied, dropped, duplicated and reordered.
    let parts: Vec<&str> = seed.split(';').collect();
    let join = |ps: &[String]| ps.join(";");
    let owned: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
    for (i, part) in parts.iter().enumerate() {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let mut replace = |new: String| {
            let mut ps = owned.clone();
            ps[i] = new;
            out.push(join(&ps));
        };
        for v in pasted_values(value, key) {
            replace(format!("{name}={v}"));
        }
        replace(format!("{key}={value}"));
        replace(format!("{key}={value};{key}={value}"));
        replace(format!("{name}{key}={value}"));
        replace(format!("{name}="));
        replace(format!("={value}"));
        replace(format!("={key}"));
        replace(String::new());
        replace(" ".to_string());
        replace(key.to_string());
        replace(format!("{name}={value} {key}"));
        replace(format!("{name}={value}={key}"));
        replace(format!("{name}={value} InstrumentationKey={key}"));
        replace(format!("{part};{part}"));
        replace(format!("{part};{name}={key}"));
        replace(format!("{part};{key}"));
        replace(format!("{}={value}", name.to_ascii_uppercase()));
        let mut without = owned.clone();
        without.remove(i);
        out.push(join(&without));
        let mut reversed = owned.clone();
        reversed.reverse();
        out.push(join(&reversed));
    }
    // Every separator missing at once (the whole string one run-on value).
    out.push(seed.replace(';', " "));
    out.push(seed.replace(';', ""));
    out.push(seed.replace('=', " "));
    out.push(seed.replace('=', ":"));
    out.push(seed.replace(';', "\n"));
    out.push(seed.to_uppercase());
    out.push(seed.to_lowercase());
    out.push(format!("{seed};{seed}"));
    out.push(format!("{seed}{seed}"));
    out.push(format!("{seed};EndpointSuffix={key};Location={key}"));
    out.push(format!("{seed};EndpointSuffix=x {key}"));
    out.push(format!("{seed};Location=westeurope {key}"));
    out.push(format!("{seed};Authorization={key}"));
    out.push(format!("{seed};Authorization=ikey {key}"));
    out.push(format!("{seed};Authorization=AAD;AADAudience={key}"));
}

/// A small deterministic stream (xorshift64*) for stacking mutations.
struct Stream(u64);

impl Stream {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % below.max(1)
    }
}

/// Applies one random single-character edit to `s`.
fn random_edit(s: &str, key: &str, stream: &mut Stream) -> String {
    let chars: Vec<char> = s.chars().collect();
    let at = stream.next(chars.len() + 1);
    match stream.next(5) {
        0 if at < chars.len() => splice(&chars, at, 1, ""),
        1 => splice(&chars, at, 0, INSERTS[stream.next(INSERTS.len())]),
        2 if at < chars.len() => splice(
            &chars,
            at,
            1,
            SEPARATOR_REPLACEMENTS[stream.next(SEPARATOR_REPLACEMENTS.len())],
        ),
        3 => splice(&chars, at, 0, key),
        _ => chars[..at].iter().collect(),
    }
}

/// Every mutated connection string with the key in each of its variants, and
/// `stacked` more that stack two to four random edits each. Each string comes
/// with the variant of the key it holds.
pub fn cases(stacked: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stream = Stream(0x9e37_79b9_7f4a_7c15);
    for key in key_variants() {
        let mut strings = Vec::new();
        for seed in seeds(&key) {
            mutations_of(&seed, &key, &mut strings);
        }
        let base = strings.len();
        for _ in 0..stacked {
            let mut s = strings[stream.next(base)].clone();
            for _ in 0..2 + stream.next(3) {
                s = random_edit(&s, &key, &mut stream);
            }
            strings.push(s);
        }
        out.extend(strings.into_iter().map(|s| (s, key.clone())));
    }
    out
}
