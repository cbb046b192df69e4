//! Genkit agents for Azure's Agents view, in the order spans end: model and
//! tool calls inside an agent are exported under the agent span, and the
//! agent span carries its model calls' token totals.
//!
//! Genkit's tree is agent > `runTurn-N` > `generate` > model and tool spans,
//! and the Agents workbook's tools and models tiles only look at a call's
//! direct parent (`ai.operation.parentId`), which must be the
//! `invoke_agent` dependency. A call ends before its turn and its agent,
//! so when it ends the agent's id is not known yet. Each ending span
//! therefore hands what waits on it to its parent: a call inside an agent
//! waits (held here, not batched) on its parent; when that parent ends, the
//! call waits on the parent's parent, and so on, until a span whose Genkit
//! parent is an agent ends: its parent span is the agent, whose id every
//! call waiting on it takes (a `REPARENT` record; the true parent stays in
//! the span and is said in the property `genkit_azure.genkit_parent_id`).
//! The calls then wait for the agent's own end (in Genkit a moment after
//! its turn's), which says its session: a main agent's is their
//! `microsoft.gen_ai.main_agent.conversation_id` (a `MAIN_CONVERSATION`
//! record; a nested agent's calls go without it, rather than wait for the
//! outermost agent). Token counts travel up the same way (held or not) and
//! stop at each agent span they reach, which gets their sum (an
//! `AGENT_USAGE` record); an outer agent sums its inner agents' calls too.
//!
//! Cost: a span with nothing waiting on it and that is no call inside an
//! agent costs a check that the table is empty, or one lookup while agents
//! are running.
//!
//! Held spans are released when their agent is known, on every flush and at
//! shutdown (those that did not learn it go under their true parent), and
//! when the table reaches its cap (then everything waiting goes as it is:
//! a parent that never ends here, spilled or not sampled, cannot keep spans
//! or memory for good).

use crate::ingest::PackedSpan;
use std::collections::HashMap;

/// Spans awaited at most; past it the table is emptied (see the module doc).
pub(crate) const MAX_PENDING: usize = 8192;

/// What the tracker needs of a span that ended.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    pub span_id: [u8; 8],
    /// The parent in this process; `None` for a root or a remote parent.
    pub parent: Option<[u8; 8]>,
    /// A Genkit agent span.
    pub agent: bool,
    /// An agent inside no other: the main agent, whose session is the
    /// conversation (`microsoft.gen_ai.main_agent.conversation_id`).
    pub main_agent: bool,
    /// Its `genkit:path` says its parent is an agent (so its parent span is).
    pub child_of_agent: bool,
    /// A model or tool call inside an agent that is not the agent's direct
    /// child: exported under the agent when re-parenting is on.
    pub call_inside_agent: bool,
    /// A model call's input and output tokens, inside an agent.
    pub tokens: Option<(f64, f64)>,
}

/// A call held for its agent: the agent's id once known.
#[derive(Debug)]
struct Held {
    span: PackedSpan,
    agent: Option<[u8; 8]>,
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
        self.held.extend(other.held);
        if let Some(t) = other.tokens {
            self.add_tokens(t);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Agents {
    /// Export model and tool calls under their agent.
    reparent: bool,
    waiting: HashMap<[u8; 8], Waiting>,
    cap: usize,
}

impl Agents {
    pub fn new(reparent: bool) -> Self {
        Self::with_cap(reparent, MAX_PENDING)
    }

    pub fn with_cap(reparent: bool, cap: usize) -> Self {
        Self {
            reparent,
            waiting: HashMap::new(),
            cap: cap.max(1),
        }
    }

    /// Whether anything waits on the span `id` (a lookup only while agents
    /// are running).
    pub fn awaited(&self, id: &[u8; 8]) -> bool {
        !self.waiting.is_empty() && self.waiting.contains_key(id)
    }

    /// Takes in a span as it ends. `exported`: the span will be batched
    /// (only those are held); `session`: an agent's session. Returns the
    /// span when it goes on now, `None` when it is held; spans released by
    /// its end go to `released`.
    pub fn ended(
        &mut self,
        seen: Seen,
        mut span: PackedSpan,
        exported: bool,
        session: Option<&str>,
        released: &mut Vec<PackedSpan>,
    ) -> Option<PackedSpan> {
        let mut w = match self.waiting.is_empty() {
            true => None,
            false => self.waiting.remove(&seen.span_id),
        };
        if let Some(t) = seen.tokens {
            w.get_or_insert_with(Waiting::default).add_tokens(t);
        }
        if let Some(mut w) = w {
            if seen.agent {
                if let Some((input, output)) = w.tokens {
                    span.agent_usage(input, output);
                }
                // Reached through spans that are not Genkit's: this is the
                // agent they wait for.
                for h in &mut w.held {
                    h.agent.get_or_insert(seen.span_id);
                }
                // The main agent's session is its calls' conversation.
                let conversation = session.filter(|_| seen.main_agent);
                release(&mut w.held, conversation, released);
                // An outer agent sums its inner agents' calls too.
                self.forward(
                    seen.parent,
                    Waiting {
                        held: Vec::new(),
                        tokens: w.tokens,
                    },
                    released,
                );
            } else if let (true, Some(agent)) = (seen.child_of_agent, seen.parent) {
                // The agent is known; the calls wait on for its end (its
                // turn's end in Genkit), which says its session.
                for h in &mut w.held {
                    h.agent.get_or_insert(agent);
                }
                self.forward(seen.parent, w, released);
            } else {
                self.forward(seen.parent, w, released);
            }
        }
        if self.reparent && exported && seen.call_inside_agent && !seen.child_of_agent {
            if let Some(parent) = seen.parent {
                if self.room(released) {
                    let held = Held { span, agent: None };
                    self.waiting.entry(parent).or_default().held.push(held);
                    return None;
                }
            }
        }
        Some(span)
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
            _ => release(&mut w.held, None, released),
        }
    }

    /// Whether a new entry fits; at the cap, everything held is released
    /// as it is and the table starts again empty.
    fn room(&mut self, released: &mut Vec<PackedSpan>) -> bool {
        if self.waiting.len() < self.cap {
            return true;
        }
        self.release_all(released);
        true
    }

    /// Every held span, under its agent when it is known, else under its
    /// true parent (a flush, the shutdown, the cap). Token sums on their
    /// way to an agent stay.
    pub fn release_all(&mut self, released: &mut Vec<PackedSpan>) {
        if self.waiting.len() >= self.cap {
            for (_, mut w) in self.waiting.drain() {
                release(&mut w.held, None, released);
            }
            return;
        }
        for w in self.waiting.values_mut() {
            release(&mut w.held, None, released);
        }
        self.waiting.retain(|_, w| w.tokens.is_some());
    }

    /// Spans awaited now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }
}

/// Held calls go on, under their agent when it is known, with the main
/// agent's conversation when it is.
fn release(held: &mut Vec<Held>, conversation: Option<&str>, released: &mut Vec<PackedSpan>) {
    for Held { mut span, agent } in held.drain(..) {
        if let Some(agent) = agent {
            span.reparent(agent);
            if let Some(c) = conversation {
                span.main_conversation_id(c);
            }
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

    fn seen(id: u8, parent: Option<u8>) -> Seen {
        Seen {
            span_id: [id; 8],
            parent: parent.map(|p| [p; 8]),
            ..Seen::default()
        }
    }

    fn read<T>(s: &PackedSpan, f: impl FnOnce(&SpanParts<'_>) -> T) -> T {
        let mut parts = SpanParts::default();
        assert!(parts.read(s));
        f(&parts)
    }

    /// agent(1) > turn(2) > generate(3) > model(4), tool(5), model(6).
    fn run(a: &mut Agents) -> (Vec<PackedSpan>, Vec<Option<PackedSpan>>) {
        let mut released = Vec::new();
        let mut out = Vec::new();
        let call = |id, tokens| Seen {
            call_inside_agent: true,
            tokens,
            ..seen(id, Some(3))
        };
        out.push(a.ended(
            call(4, Some((12.0, 4.0))),
            packed(4, Some(3)),
            true,
            None,
            &mut released,
        ));
        out.push(a.ended(call(5, None), packed(5, Some(3)), true, None, &mut released));
        out.push(a.ended(
            call(6, Some((30.0, 7.0))),
            packed(6, Some(3)),
            true,
            None,
            &mut released,
        ));
        assert!(released.is_empty(), "nothing is known before the turn ends");
        out.push(a.ended(
            seen(3, Some(2)),
            packed(3, Some(2)),
            true,
            None,
            &mut released,
        ));
        let turn = Seen {
            child_of_agent: true,
            ..seen(2, Some(1))
        };
        out.push(a.ended(turn, packed(2, Some(1)), true, None, &mut released));
        let agent = Seen {
            agent: true,
            main_agent: true,
            ..seen(1, None)
        };
        out.push(a.ended(agent, packed(1, None), true, Some("s-1"), &mut released));
        (released, out)
    }

    #[test]
    fn calls_inside_an_agent_go_under_it_and_it_sums_their_tokens() {
        let mut a = Agents::new(true);
        let (released, out) = run(&mut a);
        assert!(out[..3].iter().all(Option::is_none), "the calls are held");
        assert_eq!(released.len(), 3, "released at the agent's end");
        for s in &released {
            read(s, |p| {
                assert_eq!(p.reparented, Some(&[1; 8]));
                assert_eq!(p.parent_span_id, Some(&[3; 8]), "the true parent stays");
                assert_eq!(
                    p.main_conversation_id,
                    Some("s-1"),
                    "the main agent's session"
                );
            });
        }
        let agent = out[5].as_ref().unwrap();
        read(agent, |p| assert_eq!(p.agent_usage, Some((42.0, 11.0))));
        read(out[3].as_ref().unwrap(), |p| assert_eq!(p.reparented, None));
        assert_eq!(a.len(), 0, "nothing kept once the agent ended");
    }

    #[test]
    fn re_parenting_off_holds_nothing_and_still_sums() {
        let mut a = Agents::new(false);
        let (released, out) = run(&mut a);
        assert!(released.is_empty());
        for s in out.iter().take(5) {
            read(s.as_ref().unwrap(), |p| assert_eq!(p.reparented, None));
        }
        read(out[5].as_ref().unwrap(), |p| {
            assert_eq!(p.agent_usage, Some((42.0, 11.0)))
        });
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn a_flush_releases_held_spans_under_their_true_parent() {
        let mut a = Agents::new(true);
        let mut released = Vec::new();
        let call = Seen {
            call_inside_agent: true,
            tokens: Some((1.0, 2.0)),
            ..seen(4, Some(3))
        };
        assert!(a
            .ended(call, packed(4, Some(3)), true, None, &mut released)
            .is_none());
        a.release_all(&mut released);
        assert_eq!(released.len(), 1);
        read(&released[0], |p| assert_eq!(p.reparented, None));
        assert_eq!(a.len(), 1, "the tokens still go to their agent");
        // A call that is not exported is never held.
        let call = Seen {
            call_inside_agent: true,
            ..seen(7, Some(3))
        };
        assert!(a
            .ended(call, packed(7, Some(3)), false, None, &mut released)
            .is_some());
    }

    #[test]
    fn memory_is_bounded_when_parents_never_end() {
        let mut a = Agents::with_cap(true, 4);
        let mut released = Vec::new();
        for i in 1..=100u8 {
            let call = Seen {
                call_inside_agent: true,
                ..seen(i, Some(i.wrapping_add(100)))
            };
            a.ended(
                call,
                packed(i, Some(i.wrapping_add(100))),
                true,
                None,
                &mut released,
            );
            assert!(a.len() <= 4);
        }
        a.release_all(&mut released);
        assert_eq!(released.len(), 100, "every span goes out");
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
