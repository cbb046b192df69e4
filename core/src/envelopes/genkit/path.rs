//! `genkit:path`: where a span sits in its Genkit operation, as
//! `/{weather_flow,t:action,s:flow}/{generate,t:util}/{fake%2Fecho,t:action,s:model}`
//! (names URL-quoted). The first segment names the root, so every span of a
//! flow knows its operation without waiting for the root to end.

use std::borrow::Cow;

/// The segments' names, still quoted, and their meta. Split at bytes
/// found by `memchr` (`/` and `,` are ASCII, so every cut is at a character
/// boundary): `str::split` by a `char` cost twice as much, and every Genkit
/// span's path is split for its feature and its display path.
fn segments(path: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = Some(path);
    std::iter::from_fn(move || loop {
        let r = rest?;
        let (seg, after) = match memchr::memchr(b'/', r.as_bytes()) {
            Some(i) => (&r[..i], Some(&r[i + 1..])),
            None => (r, None),
        };
        rest = after;
        let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        return Some(match memchr::memchr(b',', inner.as_bytes()) {
            Some(i) => (&inner[..i], &inner[i + 1..]),
            None => (inner, ""),
        });
    })
}

/// `%XX` escapes decoded; text that is not valid UTF-8 once decoded, or has
/// a broken escape, stays as it was.
fn unquoted(name: &str) -> Cow<'_, str> {
    if !name.contains('%') {
        return Cow::Borrowed(name);
    }
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).map_or(Cow::Borrowed(name), Cow::Owned)
}

/// The root's name: the first segment's (`weather_flow`).
pub(crate) fn root_name(path: &str) -> Option<Cow<'_, str>> {
    segments(path)
        .next()
        .map(|(name, _)| unquoted(name))
        .filter(|n| !n.is_empty())
}

/// The feature a span serves, as the Google Cloud plugin labels metrics: the
/// outermost segment that is a flow, an action, a prompt or a helper.
pub(crate) fn feature_name(path: &str) -> Option<Cow<'_, str>> {
    let (name, meta) = segments(path).next()?;
    let is_feature = meta.split(',').any(|m| {
        matches!(
            m,
            "t:flow" | "t:action" | "t:prompt" | "t:dotprompt" | "t:helper"
        )
    });
    (is_feature && !name.is_empty()).then(|| unquoted(name))
}

/// Flows presented as agents (`agent_flows`); none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AgentFlows(Option<std::sync::Arc<[String]>>);

impl AgentFlows {
    pub fn new(flows: &[String]) -> Self {
        Self((!flows.is_empty()).then(|| flows.into()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The flow called `name` is presented as an agent.
    pub fn contains(&self, name: &str) -> bool {
        self.0.as_ref().is_some_and(|f| f.iter().any(|n| n == name))
    }

    /// A path segment (its quoted name and its `t:` / `s:` meta) is an agent.
    fn is_agent(&self, name: &str, meta: &str) -> bool {
        meta.split(',').any(|m| m == "s:agent")
            || (!self.is_empty()
                && meta.split(',').any(|m| m == "s:flow")
                && self.contains(&unquoted(name)))
    }

    /// Where a span sits among agents, by its path: inside one (an agent
    /// segment before its own), and whether its Genkit parent is one.
    pub fn position(&self, path: &str) -> (bool, bool) {
        if self.is_empty() {
            // The common case: one walk for the marker, no parsing.
            let Some(own) = last_segment(path) else {
                return (false, false);
            };
            let above = &path[..own];
            if !has_agent_meta(above) {
                return (false, false);
            }
            let parent_segment = last_segment(above).map_or(above, |i| &above[i..]);
            return (true, has_agent_meta(parent_segment));
        }
        // Every Genkit span asks: no allocation, one walk. The segment
        // before the last is the parent's; the last is the span's own.
        let (mut inside, mut parent) = (false, false);
        let mut segs = segments(path).peekable();
        while let Some((n, m)) = segs.next() {
            if segs.peek().is_none() {
                break;
            }
            parent = self.is_agent(n, m);
            inside |= parent;
        }
        (inside, parent)
    }
}

/// Where the last segment (`/{...}`) of a path starts.
fn last_segment(path: &str) -> Option<usize> {
    let b = path.as_bytes();
    let mut end = b.len();
    while let Some(i) = memchr::memrchr(b'{', &b[..end]) {
        if i > 0 && b[i - 1] == b'/' {
            return Some(i - 1);
        }
        end = i;
    }
    None
}

/// Whether some segment's meta in `path` says `s:agent`, as Genkit writes it
/// (after a comma, before a comma or the segment's end). Every Genkit span's
/// path is asked (twice), and few have one: a searcher built once finds the
/// marker with vector instructions, where a walk over the bytes cost about
/// 400 instructions a span.
fn has_agent_meta(path: &str) -> bool {
    const META: &[u8] = b",s:agent";
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(META));
    let b = path.as_bytes();
    FINDER
        .find_iter(b)
        .any(|i| matches!(b.get(i + META.len()), Some(b',' | b'}')))
}

/// The agents a span runs in, by its path's segments whose subtype is
/// `agent` or that are flows presented as agents (its own segment
/// included): the outermost and the nearest. Both are known from the path
/// alone when the span ends, so no state is kept.
pub(crate) fn enclosing_agents<'p>(
    path: &'p str,
    flows: &AgentFlows,
) -> Option<(Cow<'p, str>, Cow<'p, str>)> {
    // Every Genkit span asks; few are inside an agent. With no flow named,
    // one substring search answers most of them without walking segments.
    if flows.is_empty() && !has_agent_meta(path) {
        return None;
    }
    let mut agents = segments(path)
        .filter(|(name, meta)| flows.is_agent(name, meta))
        .map(|(name, _)| name);
    let outermost = agents.next()?;
    let nearest = agents.last().unwrap_or(outermost);
    Some((unquoted(outermost), unquoted(nearest)))
}

/// The path as people read it: `weather_flow > generate > fake/echo`.
pub(crate) fn display_path(path: &str) -> String {
    // Names and separators take at most as many bytes as the path.
    let mut out = String::with_capacity(path.len());
    for (i, (name, _)) in segments(path).enumerate() {
        if i > 0 {
            out.push_str(" > ");
        }
        out.push_str(&unquoted(name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str =
        "/{weather_flow,t:action,s:flow}/{generate,t:util}/{fake%2Fweather-model,t:action,s:model}";

    #[test]
    fn an_agent_segment_is_found_by_its_meta_only() {
        let says = |p: &str| has_agent_meta(p);
        assert!(says("/{a,t:action,s:agent}"));
        assert!(says(
            "/{f,t:flow}/{a,s:agent,t:action}/{m,t:action,s:model}"
        ));
        assert!(!says("/{s:agent,t:flow}"), "a name is not meta");
        assert!(!says("/{a,t:action,s:agents}"));
        assert!(!says("/{a,t:action,s:agent"), "a cut path");
        assert!(!says(""));
        // A near miss first, the marker after it.
        assert!(says("/{a,t:action,s:agents}/{b,t:action,s:agent}"));
        assert_eq!(last_segment("/{a,t:flow}/{b,t:util}"), Some(11));
        assert_eq!(last_segment("/{a,t:flow}/{b{c,t:util}"), Some(11));
        assert_eq!(last_segment("{a{b"), None);
        assert_eq!(last_segment("/{a,t:flow}"), Some(0));
        assert_eq!(last_segment("no segments"), None);
    }

    #[test]
    fn the_first_segment_names_the_root_and_the_feature() {
        assert_eq!(root_name(MODEL).as_deref(), Some("weather_flow"));
        assert_eq!(feature_name(MODEL).as_deref(), Some("weather_flow"));
        assert_eq!(
            root_name("/{fake%2Fecho,t:action,s:model}").as_deref(),
            Some("fake/echo")
        );
        assert_eq!(feature_name("/{step,t:flowStep}"), None);
        assert_eq!(root_name(""), None);
        assert_eq!(root_name("not a path"), None);
    }

    #[test]
    fn agents_are_found_outermost_and_nearest() {
        let inner = "/{triage,t:action,s:agent}/{runTurn-1,t:flowStep}/{generate,t:util}\
                     /{billing%20bot,t:action,s:agent}/{runTurn-1,t:flowStep}/{generate,t:util}\
                     /{fake%2Fm,t:action,s:model}";
        let (outer, nearest) = enclosing_agents(inner, &AgentFlows::default()).unwrap();
        assert_eq!((&*outer, &*nearest), ("triage", "billing bot"));
        let own = "/{triage,t:action,s:agent}";
        let (outer, nearest) = enclosing_agents(own, &AgentFlows::default()).unwrap();
        assert_eq!((&*outer, &*nearest), ("triage", "triage"));
        assert!(enclosing_agents(MODEL, &AgentFlows::default()).is_none());
        assert!(enclosing_agents("/{agent,t:action,s:flow}", &AgentFlows::default()).is_none());
        // A flow presented as an agent is one.
        let flows = AgentFlows::new(&["support flow".to_string()]);
        let path = "/{support%20flow,t:action,s:flow}/{generate,t:util}/{m,t:action,s:model}";
        let (outer, nearest) = enclosing_agents(path, &flows).unwrap();
        assert_eq!((&*outer, &*nearest), ("support flow", "support flow"));
        assert_eq!(flows.position(path), (true, false));
        assert_eq!(
            flows.position("/{support%20flow,t:action,s:flow}/{generate,t:util}"),
            (true, true)
        );
        assert_eq!(
            flows.position("/{other,t:action,s:flow}/{g,t:util}"),
            (false, false)
        );
    }

    /// The segments are what splitting at every `/` and the first `,`
    /// gives, for odd paths too.
    #[test]
    fn segments_split_at_slashes_and_the_first_comma() {
        let split = |path: &str| -> Vec<(String, String)> {
            path.split('/')
                .filter_map(|seg| {
                    let inner = seg.strip_prefix('{')?.strip_suffix('}')?;
                    let (n, m) = inner.split_once(',').unwrap_or((inner, ""));
                    Some((n.to_string(), m.to_string()))
                })
                .collect()
        };
        for path in [
            MODEL,
            "",
            "/",
            "//",
            "{a}",
            "/{a}",
            "/{a,}/{,b}/{}",
            "/{é,t:flow}/x/{ü,s:model,t:action}/",
            "/{a/b,t:flow}",
            "no/{segments",
            "/{a,t:flow}}/{b}",
        ] {
            let ours: Vec<(String, String)> = segments(path)
                .map(|(n, m)| (n.to_string(), m.to_string()))
                .collect();
            assert_eq!(ours, split(path), "{path:?}");
        }
    }

    #[test]
    fn display_paths_are_names_joined() {
        assert_eq!(
            display_path(MODEL),
            "weather_flow > generate > fake/weather-model"
        );
    }

    #[test]
    fn odd_escapes_stay_as_they_were() {
        assert_eq!(unquoted("a%2"), "a%2");
        assert_eq!(unquoted("a%zzb"), "a%zzb");
        assert_eq!(unquoted("%FF"), "%FF", "not UTF-8 once decoded");
        assert_eq!(unquoted("caf%C3%A9"), "café");
        assert_eq!(unquoted("%"), "%");
    }
}
