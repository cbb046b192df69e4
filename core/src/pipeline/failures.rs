//! Failure sources: the failing Genkit span where a failure started, found in
//! the order spans end. Python Genkit never sets `genkit:isFailureSource`, so
//! without this a failing tool would look no different from the flow that
//! failed because of it.
//!
//! Children end before their parents, so when a span ends every child has
//! already told it whether a failure reached it. A failing Genkit span that
//! no failure reached from below is a failure source. A failure travels up
//! only through spans that failed too (a parent that caught the error is not
//! failing because of it), and it travels through spans Genkit did not make,
//! without starting there: when an HTTP call inside a tool fails and the tool
//! fails with it, the tool is the step that failed, as Genkit JS marks it.
//!
//! Memory: one entry per span that a failure reached and that has not ended
//! yet. A parent that never ends here (dropped, spilled to disk, or ended by
//! another process) would keep its entry forever, so the table has a cap and
//! forgets its oldest entry past it; the cost of forgetting is a parent that
//! fails much later being taken for a failure source.

use super::BySpanId;
use std::collections::VecDeque;

/// Entries kept at most: spans a failure reached whose parent has not ended.
/// Thousands of flows failing at the same moment still fit.
pub(crate) const MAX_PENDING: usize = 8192;

/// What the tracker needs of a span that ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    pub span_id: [u8; 8],
    /// The parent in this process; `None` for a root or a remote parent
    /// (which never ends here).
    pub parent: Option<[u8; 8]>,
    /// Its status is Error, or `genkit:state` says error.
    pub failed: bool,
    /// Genkit made it (it has `genkit:type`).
    pub genkit: bool,
}

#[derive(Debug)]
pub(crate) struct Failures {
    /// Spans a failure reached from below, by id, with when it did (a
    /// sequence number, so eviction can tell a stale `order` entry).
    reached: BySpanId<u64>,
    /// Insertion order for eviction; may hold entries already removed.
    order: VecDeque<([u8; 8], u64)>,
    next: u64,
    cap: usize,
    /// Entries forgotten at the cap.
    evicted: u64,
}

impl Default for Failures {
    fn default() -> Self {
        Self::with_cap(MAX_PENDING)
    }
}

impl Failures {
    pub fn with_cap(cap: usize) -> Self {
        Self {
            reached: BySpanId::default(),
            order: VecDeque::new(),
            next: 0,
            cap: cap.max(1),
            evicted: 0,
        }
    }

    /// Takes in a span as it ends; true when it is a failure source.
    pub fn ended(&mut self, span: Ended) -> bool {
        let reached = self.reached.remove(&span.span_id).is_some();
        if span.failed && (span.genkit || reached) {
            if let Some(parent) = span.parent {
                self.reach(parent);
            }
        }
        span.failed && span.genkit && !reached
    }

    /// Entries held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.reached.len()
    }

    /// Entries forgotten at the cap so far.
    #[cfg(test)]
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn reach(&mut self, id: [u8; 8]) {
        if self.reached.contains_key(&id) {
            return;
        }
        while self.reached.len() >= self.cap {
            let Some((old, seq)) = self.order.pop_front() else {
                break;
            };
            if self.reached.get(&old) == Some(&seq) {
                self.reached.remove(&old);
                self.evicted += 1;
            }
        }
        let seq = self.next;
        self.next += 1;
        self.reached.insert(id, seq);
        self.order.push_back((id, seq));
        // Entries removed by their span's end stay in `order` until here:
        // drop them once they outnumber the live ones, so `order` stays
        // within twice the cap.
        if self.order.len() > 2 * self.cap {
            let reached = &self.reached;
            self.order.retain(|(id, seq)| reached.get(id) == Some(seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(f: &mut Failures, id: u8, parent: Option<u8>, failed: bool) -> bool {
        f.ended(Ended {
            span_id: [id; 8],
            parent: parent.map(|p| [p; 8]),
            failed,
            genkit: true,
        })
    }

    #[test]
    fn the_innermost_failing_span_is_the_source() {
        let mut f = Failures::default();
        // flow(1) > generate(2) > tool(3) fails, and so do its ancestors.
        assert!(end(&mut f, 3, Some(2), true), "the tool");
        assert!(!end(&mut f, 2, Some(1), true), "failed because of the tool");
        assert!(!end(&mut f, 1, None, true), "the flow too");
        assert_eq!(f.len(), 0, "nothing kept once the root ended");
    }

    #[test]
    fn a_parent_that_recovered_breaks_the_chain() {
        let mut f = Failures::default();
        // tool(3) fails, generate(2) catches it and succeeds; the flow(1)
        // then fails on its own: it is a source of its own failure.
        assert!(end(&mut f, 3, Some(2), true));
        assert!(!end(&mut f, 2, Some(1), false));
        assert!(end(&mut f, 1, None, true));
        // Two failing siblings: each is a source; their parent is not.
        assert!(end(&mut f, 5, Some(4), true));
        assert!(end(&mut f, 6, Some(4), true));
        assert!(!end(&mut f, 4, None, true));
    }

    #[test]
    fn spans_genkit_did_not_make_pass_a_failure_on_but_never_start_one() {
        let mut f = Failures::default();
        let other = |f: &mut Failures, id: u8, parent: u8, failed: bool| {
            f.ended(Ended {
                span_id: [id; 8],
                parent: Some([parent; 8]),
                failed,
                genkit: false,
            })
        };
        // An HTTP call (3) inside a tool (2) fails; the tool fails with it.
        assert!(!other(&mut f, 3, 2, true), "not a Genkit step");
        assert!(end(&mut f, 2, Some(1), true), "the tool is where it failed");
        assert!(!end(&mut f, 1, None, true));
        // A Genkit model (6) fails inside a wrapper span (5) that fails too:
        // the tool (4) above the wrapper is not the source.
        assert!(end(&mut f, 6, Some(5), true));
        assert!(!other(&mut f, 5, 4, true));
        assert!(!end(&mut f, 4, None, true));
    }

    #[test]
    fn memory_is_bounded_when_parents_never_end() {
        let mut f = Failures::with_cap(4);
        for i in 0..100u8 {
            // Each failing span's parent (100 + i) never ends here.
            assert!(end(&mut f, i, Some(i.wrapping_add(100)), true));
            assert!(f.len() <= 4);
            assert!(f.order.len() <= 8 + 1);
        }
        assert_eq!(f.evicted(), 96);
        // The most recent parents are still known.
        assert!(!end(&mut f, 199, None, true), "still remembered");
        // A forgotten one is taken for a source: the documented cost.
        assert!(end(&mut f, 100, None, true));
    }

    #[test]
    fn removed_entries_do_not_make_the_order_grow() {
        let mut f = Failures::with_cap(4);
        for i in 0..200u8 {
            end(&mut f, 1, Some(2), true);
            end(&mut f, 2, None, i % 2 == 0);
        }
        assert_eq!(f.len(), 0);
        assert!(f.order.len() <= 9, "{}", f.order.len());
        assert_eq!(f.evicted(), 0);
    }
}
