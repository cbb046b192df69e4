//! Genkit agents for Azure's Agents view, in the order spans end: every
//! span inside an agent is exported with the main (outermost) agent's
//! conversation, model and tool calls under their agent span, and an agent
//! span carries its model calls' token totals.
//!
//! Genkit's tree is agent > `runTurn-N` > `generate` > model and tool spans,
//! and the Agents workbook's tools and models tiles only look at a call's
//! direct parent (`ai.operation.parentId`), which must be the
//! `invoke_agent` dependency. A span ends before its parent, so when a call
//! ends its agent's id is not known yet, and the main agent's session
//! (`microsoft.gen_ai.main_agent.conversation_id`) is known only when the
//! main agent span ends, last. So every span whose `genkit:path` has an
//! agent above it waits (held here, not batched) on its parent; when that
//! parent ends, what waited on it, and the parent itself, wait on the
//! parent's parent, and so on up to the main agent. On the way, a span
//! whose Genkit parent is an agent (a turn) tells the calls below it their
//! agent: its parent span, whose id a call that is not the agent's direct
//! child takes as its parent in the export when re-parenting is on (a
//! `REPARENT` record; the true parent stays in the span and is said in the
//! property `genkit_azure.genkit_parent_id`; an agent reached through spans
//! that are not Genkit's is taken at its own end). A nested agent's end
//! names the agent of the calls that reached it (their nearest), and they
//! wait on with it for the main agent. The main agent's end releases them
//! all, each with the main agent's session when it has one (a
//! `MAIN_CONVERSATION` record), re-parenting on or off (off: no `REPARENT`,
//! the tree as Genkit made it). Token counts travel up the same way and
//! stop at each agent span they reach, which gets their sum (an
//! `AGENT_USAGE` record); an outer agent sums its inner agents' calls too.
//!
//! A span Genkit did not make (an HTTP call inside a tool) has no path to
//! say whether it runs inside an agent, and it ends before the spans above
//! it. Once an agent has run in this process, such a span with a parent
//! here waits on its parent tentatively, and what waits on a span that is
//! not Genkit's waits on with it, up to the first Genkit span above: if
//! that span is inside an agent (or is one) they learn their agents from
//! its path (an `AGENT_NAMES` record: the nearest and the main agent) and
//! wait on for the main agent's conversation like Genkit's spans; if not,
//! they go on as they are. They are never re-parented. Before the first
//! agent span inside an agent ends in the process, nothing is held
//! tentatively (unless the configuration names agents: `agent_flows`,
//! `agent_ids`), so spans Genkit did not make that end first in the first
//! agent run carry no agent. A span waits tentatively two sweeps at most
//! (one every batch delay, at least [`TENTATIVE_SWEEP_MIN`]; see
//! [`Agents::sweep`]), then goes on as it is: a parent that ends much later
//! (a long stream, a session span) or never here must not delay its
//! children's export.
//!
//! Cost: a span with nothing waiting on it and outside any agent costs a
//! check that the table is empty, or one lookup while agents are running
//! (the enricher finds its place among agents with one search of its path).
//! Once an agent has run, a span Genkit did not make with a parent here
//! costs an entry in the table until its parent ends.
//!
//! Held spans are released when their main agent ends, on every flush and
//! at shutdown (then without the conversation; calls whose agent is known
//! go under it, the others under their true parent), and when the table
//! reaches its cap, in spans awaited, spans held or their bytes (then
//! everything waiting goes as it is: a parent that never ends here, spilled
//! or not sampled, or an agent running very long, cannot keep spans or memory
//! for good; an agent whose calls carry large prompts and outputs holds no
//! more than [`MAX_HELD_BYTES`] of them).

use super::BySpanId;
use crate::ingest::PackedSpan;

/// Spans awaited, and spans held, at most; past it the table is emptied
/// (see the module doc).
pub(crate) const MAX_PENDING: usize = 8192;

/// The packed bytes of the spans held, at most; past it the table is
/// emptied as at [`MAX_PENDING`]. 8,192 model calls of a long agent run,
/// each with its prompt and output, could otherwise hold gigabytes.
pub(crate) const MAX_HELD_BYTES: usize = 64 << 20;

/// How often the worker sweeps spans held tentatively, at least: every
/// batch delay (the latency the app chose for its telemetry), but not more
/// often than this, so a tool that works on after its HTTP call still names
/// its agents. One held through two sweeps goes on as it is.
pub(crate) const TENTATIVE_SWEEP_MIN: std::time::Duration = std::time::Duration::from_secs(1);

/// What the tracker needs of a span that ended.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    pub span_id: [u8; 8],
    /// The parent in this process; `None` for a root or a remote parent.
    pub parent: Option<[u8; 8]>,
    /// A Genkit agent span.
    pub agent: bool,
    /// Its `genkit:path` has an agent above it: it waits for the main
    /// agent's end, which says the conversation.
    pub inside: bool,
    /// Its `genkit:path` says its parent is an agent (so its parent span is).
    pub child_of_agent: bool,
    /// A model or tool call inside an agent (exported under the agent when
    /// it is not the agent's direct child and re-parenting is on).
    pub call_inside_agent: bool,
    /// A model call's input and output tokens, inside an agent.
    pub tokens: Option<(f64, f64)>,
    /// Genkit made it: its path says where it sits among agents (`inside`,
    /// `agent`); a span that is not Genkit's learns it from above.
    pub genkit: bool,
}

/// A span held for its main agent: the agent it goes under once known.
#[derive(Debug)]
struct Held {
    span: PackedSpan,
    /// Exported under its (nearest) agent: a call that is not the agent's
    /// direct child, with re-parenting on.
    reparent: bool,
    agent: Option<[u8; 8]>,
    /// Not Genkit's: waiting for the first Genkit span above it to say
    /// whether it runs inside an agent.
    tentative: bool,
    /// The sweep generation it was held in (see [`Agents::sweep`]).
    since: u32,
}

/// What waits on one span's end.
#[derive(Debug, Default)]
struct Waiting {
    held: Vec<Held>,
    tokens: Option<(f64, f64)>,
}

impl Waiting {
    fn add_tokens(&mut self, t: (f64, f64)) {
        let sum = self.tokens.get_or_insert((0.0, 0.0));
        sum.0 += t.0;
        sum.1 += t.1;
    }

    fn merge(&mut self, other: Waiting) {
        if self.held.is_empty() {
            self.held = other.held;
        } else {
            self.held.extend(other.held);
        }
        if let Some(t) = other.tokens {
            self.add_tokens(t);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Agents {
    /// Export model and tool calls under their agent.
    reparent: bool,
    waiting: BySpanId<Waiting>,
    /// Spans held in `waiting`, all entries together, and their bytes.
    held: Load,
    cap: usize,
    max_bytes: usize,
    /// An agent has run in this process: spans Genkit did not make wait on
    /// their parents to learn whether they run inside one.
    agents_seen: bool,
    /// Sweeps so far (see [`Agents::sweep`]).
    generation: u32,
}

impl Agents {
    pub fn new(reparent: bool) -> Self {
        Self::with_cap(reparent, MAX_PENDING)
    }

    pub fn with_cap(reparent: bool, cap: usize) -> Self {
        Self::with_caps(reparent, cap, MAX_HELD_BYTES)
    }

    pub fn with_caps(reparent: bool, cap: usize, max_bytes: usize) -> Self {
        Self {
            reparent,
            waiting: BySpanId::default(),
            held: Load::default(),
            cap: cap.max(1),
            max_bytes,
            agents_seen: false,
            generation: 0,
        }
    }

    /// Agents are known to run here (the configuration names some): spans
    /// Genkit did not make wait to learn their agents from the start, so
    /// the first agent run names them too.
    pub fn expecting_agents(mut self, expected: bool) -> Self {
        self.agents_seen |= expected;
        self
    }

    /// Whether spans that are not Genkit's wait on `span_id` to learn their
    /// agents: then its end needs the names of its agents.
    pub fn awaits_names(&self, span_id: &[u8; 8]) -> bool {
        self.agents_seen
            && self
                .waiting
                .get(span_id)
                .is_some_and(|w| w.held.iter().any(|h| h.tentative))
    }

    /// Takes in a span as it ends. `exported`: the span will be batched
    /// (only those are held); `session`: an agent's session; `names`: the
    /// nearest and the main agent of a Genkit span inside an agent (or
    /// that is one), when [`Agents::awaits_names`] asked for them. Returns
    /// the span when it goes on now, `None` when it is held; spans released
    /// by its end go to `released`.
    pub fn ended(
        &mut self,
        seen: Seen,
        mut span: PackedSpan,
        exported: bool,
        session: Option<&str>,
        names: Option<(&str, &str)>,
        released: &mut Vec<PackedSpan>,
    ) -> Option<PackedSpan> {
        self.agents_seen |= seen.inside || seen.agent;
        let mut w = match self.waiting.is_empty() {
            true => None,
            false => self.waiting.remove(&seen.span_id),
        };
        if let Some(t) = seen.tokens {
            w.get_or_insert_with(Waiting::default).add_tokens(t);
        }
        if let Some(mut w) = w {
            if seen.genkit {
                self.place_tentative(&mut w, seen.agent || seen.inside, names, released);
            }
            if seen.agent {
                if let Some((input, output)) = w.tokens {
                    span.agent_usage(input, output);
                }
                // Reached through spans that are not Genkit's: this is the
                // agent they go under.
                for h in &mut w.held {
                    h.agent.get_or_insert(seen.span_id);
                }
                if seen.inside {
                    // A nested agent: its spans wait with it for the main
                    // agent's end; an outer agent sums its calls too.
                    self.forward(seen.parent, w, released);
                } else {
                    // The main agent: its session is their conversation.
                    self.held.remove(Load::of(&w.held));
                    release(&mut w.held, session, released);
                    let tokens = Waiting {
                        held: Vec::new(),
                        tokens: w.tokens,
                    };
                    self.forward(seen.parent, tokens, released);
                }
            } else if let (true, Some(agent)) = (seen.child_of_agent, seen.parent) {
                // The agent is known; the spans wait on for its end (its
                // turn's end in Genkit).
                for h in &mut w.held {
                    h.agent.get_or_insert(agent);
                }
                self.forward(seen.parent, w, released);
            } else {
                self.forward(seen.parent, w, released);
            }
        }
        let tentative = !seen.genkit && self.agents_seen;
        if exported && (seen.inside || tentative) {
            if let Some(parent) = seen.parent {
                if self.room(released) {
                    let reparent = self.reparent && seen.call_inside_agent && !seen.child_of_agent;
                    let held = Held {
                        span,
                        reparent,
                        agent: None,
                        tentative,
                        since: self.generation,
                    };
                    self.held.add(Load::of(std::slice::from_ref(&held)));
                    self.waiting.entry(parent).or_default().held.push(held);
                    return None;
                }
            }
        }
        Some(span)
    }

    /// Spans that are not Genkit's reached the first Genkit span above them:
    /// inside an agent (`inside`, also for an agent span) they are named
    /// after its agents and wait on like the others; outside any agent they
    /// go on now, as they are.
    fn place_tentative(
        &mut self,
        w: &mut Waiting,
        inside: bool,
        names: Option<(&str, &str)>,
        released: &mut Vec<PackedSpan>,
    ) {
        if !w.held.iter().any(|h| h.tentative) {
            return;
        }
        if inside {
            for h in w.held.iter_mut().filter(|h| h.tentative) {
                if let Some((nearest, main)) = names {
                    // The span grows while held: its bytes are counted again.
                    let before = h.span.heap_bytes();
                    h.span.agent_names(nearest, main);
                    self.held.bytes = self.held.bytes - before + h.span.heap_bytes();
                }
                h.tentative = false;
            }
            return;
        }
        let gone = release_where(&mut w.held, |h| h.tentative, released);
        self.held.remove(gone);
    }

    /// Hands what waited on a span to its parent; at a root (or a remote
    /// parent) held spans go as they are and tokens are done.
    fn forward(&mut self, parent: Option<[u8; 8]>, mut w: Waiting, released: &mut Vec<PackedSpan>) {
        if w.held.is_empty() && w.tokens.is_none() {
            return;
        }
        match parent {
            Some(p) if self.waiting.contains_key(&p) || self.room(released) => {
                self.waiting.entry(p).or_default().merge(w);
            }
            _ => {
                self.held.remove(Load::of(&w.held));
                release(&mut w.held, None, released);
            }
        }
    }

    /// Whether a new entry or span fits; at the cap, everything held is
    /// released as it is and the table starts again empty.
    fn room(&mut self, released: &mut Vec<PackedSpan>) -> bool {
        if self.waiting.len() < self.cap
            && self.held.spans < self.cap
            && self.held.bytes < self.max_bytes
        {
            return true;
        }
        for (_, mut w) in self.waiting.drain() {
            release(&mut w.held, None, released);
        }
        self.held = Load::default();
        true
    }

    /// Whether spans may be held tentatively, so that [`Agents::sweep`] is
    /// due (see [`TENTATIVE_SWEEP_MIN`]).
    pub fn sweeps(&self) -> bool {
        self.agents_seen
    }

    /// Spans held tentatively since before the previous sweep go on as they
    /// are: none waits longer than two sweep periods. Spans held for their
    /// main agent stay.
    pub fn sweep(&mut self, released: &mut Vec<PackedSpan>) {
        self.generation = self.generation.wrapping_add(1);
        let recent = [self.generation, self.generation.wrapping_sub(1)];
        let stale = |h: &Held| h.tentative && !recent.contains(&h.since);
        let mut gone = Load::default();
        for w in self.waiting.values_mut() {
            gone.add(release_where(&mut w.held, stale, released));
        }
        if gone.spans > 0 {
            self.held.remove(gone);
            self.waiting
                .retain(|_, w| !w.held.is_empty() || w.tokens.is_some());
        }
    }

    /// Every held span, under its agent when it is known, else under its
    /// true parent, without the conversation (a flush, the shutdown). Token
    /// sums on their way to an agent stay.
    pub fn release_all(&mut self, released: &mut Vec<PackedSpan>) {
        if self.waiting.len() >= self.cap {
            self.room(released);
            return;
        }
        for w in self.waiting.values_mut() {
            release(&mut w.held, None, released);
        }
        self.held = Load::default();
        self.waiting.retain(|_, w| w.tokens.is_some());
    }

    /// Spans awaited now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// What is held, counted afresh (to check `held` against).
    #[cfg(test)]
    fn recount(&self) -> Load {
        let mut all = Load::default();
        for w in self.waiting.values() {
            all.add(Load::of(&w.held));
        }
        all
    }
}

/// Spans held, and their packed bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Load {
    spans: usize,
    bytes: usize,
}

impl Load {
    fn of(held: &[Held]) -> Self {
        Self {
            spans: held.len(),
            bytes: held.iter().map(|h| h.span.heap_bytes()).sum(),
        }
    }

    fn add(&mut self, other: Load) {
        self.spans += other.spans;
        self.bytes += other.bytes;
    }

    fn remove(&mut self, other: Load) {
        self.spans -= other.spans;
        self.bytes -= other.bytes;
    }
}

/// The held spans `which` picks go on as they are; what went.
fn release_where(
    held: &mut Vec<Held>,
    which: impl Fn(&Held) -> bool,
    released: &mut Vec<PackedSpan>,
) -> Load {
    if !held.iter().any(&which) {
        return Load::default();
    }
    let (go, stay): (Vec<Held>, Vec<Held>) = held.drain(..).partition(&which);
    *held = stay;
    let gone = Load::of(&go);
    released.extend(go.into_iter().map(|h| h.span));
    gone
}

/// Held spans go on: calls under their agent when it is known (and
/// re-parenting is on), each with the main agent's conversation when it is.
fn release(held: &mut Vec<Held>, conversation: Option<&str>, released: &mut Vec<PackedSpan>) {
    for Held {
        mut span,
        reparent,
        agent,
        ..
    } in held.drain(..)
    {
        if let (true, Some(agent)) = (reparent, agent) {
            span.reparent(agent);
        }
        if let Some(c) = conversation {
            span.main_conversation_id(c);
        }
        released.push(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{SpanPacker, SpanParts};
    use opentelemetry::trace::SpanKind;

    fn packed(id: u8, parent: Option<u8>) -> PackedSpan {
        SpanPacker::new(
            [1; 16],
            [id; 8],
            parent.map(|p| [p; 8]),
            false,
            SpanKind::Internal,
            0,
            1,
        )
        .finish()
        .unwrap()
    }

    /// A Genkit span.
    fn seen(id: u8, parent: Option<u8>) -> Seen {
        Seen {
            span_id: [id; 8],
            parent: parent.map(|p| [p; 8]),
            genkit: true,
            ..Seen::default()
        }
    }

    fn read<T>(s: &PackedSpan, f: impl FnOnce(&SpanParts<'_>) -> T) -> T {
        let mut parts = SpanParts::default();
        assert!(parts.read(s));
        f(&parts)
    }

    /// A span inside an agent, under `parent`.
    fn inside(id: u8, parent: u8) -> Seen {
        Seen {
            inside: true,
            ..seen(id, Some(parent))
        }
    }

    /// A model or tool call inside an agent, under `parent`.
    fn call(id: u8, parent: u8, tokens: Option<(f64, f64)>) -> Seen {
        Seen {
            call_inside_agent: true,
            tokens,
            ..inside(id, parent)
        }
    }

    /// agent(1) > turn(2) > generate(3) > model(4), tool(5), model(6).
    fn run(a: &mut Agents) -> (Vec<PackedSpan>, Vec<Option<PackedSpan>>) {
        let mut released = Vec::new();
        let mut out = Vec::new();
        let mut end = |s: Seen, parent: Option<u8>, session| {
            let id = s.span_id[0];
            out.push(a.ended(s, packed(id, parent), true, session, None, &mut released));
        };
        end(call(4, 3, Some((12.0, 4.0))), Some(3), None);
        end(call(5, 3, None), Some(3), None);
        end(call(6, 3, Some((30.0, 7.0))), Some(3), None);
        end(inside(3, 2), Some(2), None);
        let turn = Seen {
            child_of_agent: true,
            ..inside(2, 1)
        };
        end(turn, Some(1), None);
        let agent = Seen {
            agent: true,
            ..seen(1, None)
        };
        end(agent, None, Some("s-1"));
        (released, out)
    }

    /// The id of a span's first byte (test spans repeat it).
    fn id(s: &PackedSpan) -> u8 {
        read(s, |p| p.span_id[0])
    }

    #[test]
    fn calls_inside_an_agent_go_under_it_and_it_sums_their_tokens() {
        let mut a = Agents::new(true);
        let (released, out) = run(&mut a);
        assert!(
            out[..5].iter().all(Option::is_none),
            "held to the agent's end"
        );
        assert_eq!(released.len(), 5, "released at the agent's end");
        for s in &released {
            read(s, |p| {
                let call = [4, 5, 6].contains(&p.span_id[0]);
                let expected: Option<&[u8; 8]> = call.then_some(&[1; 8]);
                assert_eq!(p.reparented, expected, "only the calls go under it");
                let genkit_parent = if call { 3 } else { p.span_id[0] - 1 };
                assert_eq!(
                    p.parent_span_id,
                    Some(&[genkit_parent; 8]),
                    "the true parent stays"
                );
                assert_eq!(
                    p.main_conversation_id,
                    Some("s-1"),
                    "the main agent's session"
                );
            });
        }
        let agent = out[5].as_ref().unwrap();
        read(agent, |p| assert_eq!(p.agent_usage, Some((42.0, 11.0))));
        assert_eq!(a.len(), 0, "nothing kept once the agent ended");
    }

    #[test]
    fn re_parenting_off_still_gives_every_span_the_conversation() {
        let mut a = Agents::new(false);
        let (released, out) = run(&mut a);
        assert!(
            out[..5].iter().all(Option::is_none),
            "held to the agent's end"
        );
        let mut ids: Vec<u8> = released.iter().map(id).collect();
        ids.sort();
        assert_eq!(ids, [2, 3, 4, 5, 6]);
        for s in &released {
            read(s, |p| {
                assert_eq!(p.reparented, None, "the tree stays as it is");
                assert_eq!(p.main_conversation_id, Some("s-1"));
            });
        }
        read(out[5].as_ref().unwrap(), |p| {
            assert_eq!(p.agent_usage, Some((42.0, 11.0)))
        });
        assert_eq!(a.len(), 0);
    }

    /// main(1) > turn(2) > tool(3) > nested agent(4) > turn(5) > generate(6)
    /// > model(7), ending from the model up.
    fn nested(a: &mut Agents) -> (Vec<PackedSpan>, Option<PackedSpan>) {
        let mut released = Vec::new();
        let mut end = |s: Seen, parent: Option<u8>, session| {
            let id = s.span_id[0];
            a.ended(s, packed(id, parent), true, session, None, &mut released)
        };
        assert!(end(call(7, 6, Some((5.0, 2.0))), Some(6), None).is_none());
        assert!(end(inside(6, 5), Some(5), None).is_none());
        let turn = |id, agent| Seen {
            child_of_agent: true,
            ..inside(id, agent)
        };
        assert!(end(turn(5, 4), Some(4), None).is_none());
        let nested = Seen {
            agent: true,
            ..inside(4, 3)
        };
        assert!(end(nested, Some(3), Some("inner")).is_none(), "held too");
        assert!(end(call(3, 2, None), Some(2), None).is_none());
        assert!(end(turn(2, 1), Some(1), None).is_none());
        let main = Seen {
            agent: true,
            ..seen(1, None)
        };
        let main = end(main, None, Some("s-1"));
        (released, main)
    }

    #[test]
    fn a_nested_agent_s_spans_wait_for_the_main_agent_s_conversation() {
        let mut a = Agents::new(true);
        let (released, main) = nested(&mut a);
        let mut ids: Vec<u8> = released.iter().map(id).collect();
        ids.sort();
        assert_eq!(ids, [2, 3, 4, 5, 6, 7], "released at the main agent's end");
        for s in &released {
            read(s, |p| {
                let under = match p.span_id[0] {
                    7 => Some(&[4; 8]),
                    3 => Some(&[1; 8]),
                    _ => None,
                };
                assert_eq!(p.reparented, under, "a call goes under its nearest agent");
                assert_eq!(p.main_conversation_id, Some("s-1"), "the outermost session");
                let usage = (p.span_id[0] == 4).then_some((5.0, 2.0));
                assert_eq!(p.agent_usage, usage, "the nested agent sums its calls");
            });
        }
        read(&main.unwrap(), |p| {
            assert_eq!(p.agent_usage, Some((5.0, 2.0)), "and the main agent too");
            assert_eq!(p.main_conversation_id, None, "its own session says it");
        });
        assert_eq!(a.len(), 0);

        let mut a = Agents::new(false);
        let (released, _) = nested(&mut a);
        assert_eq!(released.len(), 6);
        for s in &released {
            read(s, |p| {
                assert_eq!(p.reparented, None);
                assert_eq!(p.main_conversation_id, Some("s-1"));
            });
        }
    }

    #[test]
    fn a_flush_releases_held_spans_under_their_true_parent() {
        let mut a = Agents::new(true);
        let mut released = Vec::new();
        let c = call(4, 3, Some((1.0, 2.0)));
        assert!(a
            .ended(c, packed(4, Some(3)), true, None, None, &mut released)
            .is_none());
        a.release_all(&mut released);
        assert_eq!(released.len(), 1);
        read(&released[0], |p| {
            assert_eq!(p.reparented, None);
            assert_eq!(p.main_conversation_id, None);
        });
        assert_eq!(a.len(), 1, "the tokens still go to their agent");
        // A call that is not exported is never held.
        let c = call(7, 3, None);
        assert!(a
            .ended(c, packed(7, Some(3)), false, None, None, &mut released)
            .is_some());
        // Nor a span outside any agent.
        assert!(a
            .ended(
                seen(8, Some(3)),
                packed(8, Some(3)),
                true,
                None,
                None,
                &mut released
            )
            .is_some());
    }

    #[test]
    fn memory_is_bounded_when_parents_never_end() {
        let mut a = Agents::with_cap(true, 4);
        let mut released = Vec::new();
        for i in 1..=100u8 {
            a.ended(
                call(i, i.wrapping_add(100), None),
                packed(i, Some(i.wrapping_add(100))),
                true,
                None,
                None,
                &mut released,
            );
            assert!(a.len() <= 4);
        }
        a.release_all(&mut released);
        assert_eq!(released.len(), 100, "every span goes out");
        // Many spans held under one parent are bounded too.
        let mut a = Agents::with_cap(true, 4);
        let mut released = Vec::new();
        for i in 1..=10u8 {
            a.ended(
                call(i, 200, None),
                packed(i, Some(200)),
                true,
                None,
                None,
                &mut released,
            );
            assert!(a.held.spans <= 4);
        }
        a.release_all(&mut released);
        assert_eq!(released.len(), 10, "every span goes out");
    }

    /// Calls carrying large outputs are held up to the byte cap; past it
    /// everything held goes on as it is, every span once.
    #[test]
    fn held_bytes_are_bounded_too() {
        let large = |id: u8| {
            let mut p = SpanPacker::new(
                [1; 16],
                [id; 8],
                Some([200; 8]),
                false,
                SpanKind::Internal,
                0,
                1,
            );
            p.attribute_str("genkit:output", &"x".repeat(10_000));
            p.finish().unwrap()
        };
        let mut a = Agents::with_caps(true, 1000, 35_000);
        let mut released = Vec::new();
        for i in 1..=10u8 {
            a.ended(
                call(i, 200, None),
                large(i),
                true,
                None,
                None,
                &mut released,
            );
            assert!(a.held.bytes <= 35_000 + 10_100, "{:?}", a.held);
            assert!(a.held.spans <= 4, "{:?}", a.held);
        }
        assert!(!released.is_empty(), "the cap released some");
        a.release_all(&mut released);
        assert_eq!(a.held, Load::default());
        let mut ids: Vec<u8> = released.iter().map(|s| read(s, |p| p.span_id[0])).collect();
        ids.sort();
        assert_eq!(ids, (1..=10).collect::<Vec<u8>>(), "every span once");
    }

    /// Spans held tentatively go on, as they are, by the second sweep after
    /// they were held; spans held for their main agent stay.
    #[test]
    fn a_sweep_lets_spans_held_tentatively_too_long_go() {
        let mut a = Agents::new(true);
        let r = &mut Vec::new();
        assert!(!a.sweeps(), "nothing to sweep before an agent ran");
        end(&mut a, call(4, 3, None), r);
        assert!(a.sweeps());
        // http(10) waits on a parent that ends only much later (a stream).
        assert!(end(&mut a, foreign(10, 11), r).is_none());
        a.sweep(r);
        assert!(r.is_empty(), "held through one sweep");
        assert!(end(&mut a, foreign(12, 11), r).is_none(), "held after it");
        a.sweep(r);
        assert_eq!(r.iter().map(id).collect::<Vec<_>>(), [10]);
        a.sweep(r);
        assert_eq!(r.iter().map(id).collect::<Vec<_>>(), [10, 12]);
        for s in r.iter() {
            read(s, |p| assert_eq!(p.agent_names, None, "as it is"));
        }
        assert_eq!(a.len(), 1, "the model call still waits for its agent");
        assert_eq!(a.held.spans, 1);
        // When the parent ends at last, nothing is left of its children.
        assert!(end(&mut a, seen(11, None), r).is_some());
        assert_eq!(r.len(), 2);
    }

    /// A span Genkit did not make (no path), under `parent`.
    fn foreign(id: u8, parent: u8) -> Seen {
        Seen {
            genkit: false,
            ..seen(id, Some(parent))
        }
    }

    /// agent(1) > turn(2) > generate(3) > model(4), tool(5) > http(6) >
    /// socket(7): the HTTP call and its child are not Genkit's.
    #[test]
    fn spans_genkit_did_not_make_learn_their_agents_from_the_genkit_span_above() {
        for reparent in [true, false] {
            let mut a = Agents::new(reparent);
            let mut released = Vec::new();
            let mut end = |a: &mut Agents, s: Seen, names, session| {
                let (id, parent) = (s.span_id[0], s.parent.map(|p| p[0]));
                a.ended(s, packed(id, parent), true, session, names, &mut released)
            };
            assert!(end(&mut a, call(4, 3, Some((1.0, 1.0))), None, None).is_none());
            assert!(
                end(&mut a, foreign(7, 6), None, None).is_none(),
                "held tentatively"
            );
            assert!(
                end(&mut a, foreign(6, 5), None, None).is_none(),
                "and on with its child"
            );
            assert!(
                a.awaits_names(&[5; 8]),
                "the tool's end must name its agents"
            );
            assert!(
                !a.awaits_names(&[3; 8]),
                "nothing tentative waits on generate"
            );
            let names = Some(("weatherAgent", "mainAgent"));
            assert!(end(&mut a, call(5, 3, None), names, None).is_none());
            assert_eq!(a.held, a.recount(), "named while held: counted again");
            assert!(end(&mut a, inside(3, 2), None, None).is_none());
            let turn = Seen {
                child_of_agent: true,
                ..inside(2, 1)
            };
            assert!(end(&mut a, turn, None, None).is_none());
            let agent = Seen {
                agent: true,
                ..seen(1, None)
            };
            assert!(end(&mut a, agent, None, Some("s-1")).is_some());
            assert_eq!(a.len(), 0);
            assert_eq!(a.held, Load::default());
            let mut ids: Vec<u8> = released.iter().map(id).collect();
            ids.sort();
            assert_eq!(ids, [2, 3, 4, 5, 6, 7]);
            for s in &released {
                read(s, |p| {
                    let foreign = p.span_id[0] >= 6;
                    let names = foreign.then_some(("weatherAgent", "mainAgent"));
                    assert_eq!(p.agent_names, names, "named after the tool's agents");
                    assert_eq!(p.main_conversation_id, Some("s-1"));
                    if foreign {
                        assert_eq!(p.reparented, None, "never re-parented");
                    }
                });
            }
        }
    }

    /// Ends `s` (a span with its ids) with nothing to say.
    fn end(a: &mut Agents, s: Seen, released: &mut Vec<PackedSpan>) -> Option<PackedSpan> {
        let (id, parent) = (s.span_id[0], s.parent.map(|p| p[0]));
        a.ended(s, packed(id, parent), true, None, None, released)
    }

    #[test]
    fn spans_genkit_did_not_make_outside_agents_go_on_as_they_are() {
        let mut a = Agents::new(true);
        let r = &mut Vec::new();
        // Before any agent ran here: never held.
        assert!(end(&mut a, foreign(9, 8), r).is_some());
        // An agent ran (its model call ended).
        end(&mut a, call(4, 3, None), r);
        a.release_all(r);
        r.clear();
        // flow(12) > custom(11) > http(10), outside any agent: they wait up
        // to the flow, which says they are outside.
        assert!(end(&mut a, foreign(10, 11), r).is_none());
        assert!(end(&mut a, foreign(11, 12), r).is_none());
        assert!(!a.awaits_names(&[11; 8]));
        assert!(end(&mut a, seen(12, None), r).is_some());
        let mut ids: Vec<u8> = r.iter().map(id).collect();
        ids.sort();
        assert_eq!(ids, [10, 11], "released at the flow's end");
        for s in r.iter() {
            read(s, |p| {
                assert_eq!(p.agent_names, None);
                assert_eq!(p.main_conversation_id, None);
            });
        }
        assert_eq!((a.len(), a.held), (0, Load::default()));
        // Under a root that is not Genkit's, and at a flush: as they are.
        r.clear();
        end(&mut a, foreign(20, 21), r);
        end(&mut a, foreign(21, 22), r);
        let root = Seen {
            genkit: false,
            ..seen(22, None)
        };
        assert!(end(&mut a, root, r).is_some());
        assert_eq!(r.len(), 2);
        end(&mut a, foreign(30, 31), r);
        a.release_all(r);
        assert_eq!(r.len(), 3, "a flush lets it go");
        assert_eq!(a.held, Load::default());
    }

    #[test]
    fn a_span_knows_its_place_among_agents_from_its_path() {
        let position = |p: &str| crate::envelopes::genkit::AgentFlows::default().position(p);
        let agent = "/{weatherAgent,t:action,s:agent}";
        assert_eq!(position(agent), (false, false));
        let turn = format!("{agent}/{{runTurn-1,t:flowStep}}");
        assert_eq!(position(&turn), (true, true));
        let model = format!("{turn}/{{generate,t:util}}/{{fake%2Fm,t:action,s:model}}");
        assert_eq!(position(&model), (true, false));
        assert_eq!(
            position("/{f,t:action,s:flow}/{generate,t:util}/{m,t:action,s:model}"),
            (false, false)
        );
        assert_eq!(position(""), (false, false));
    }
}
