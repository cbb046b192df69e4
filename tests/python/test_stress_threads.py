"""Threads (issue 14): 16 Python threads emit spans and logs while 4 flush, and the
pipeline is shut down while they all go on. No deadlock, no crash, and the counts
add up: everything accepted arrives, once."""

from __future__ import annotations

from collections import Counter

from _helpers import base, of_kind, span_envelopes, text


def test_emitting_flushing_and_shutting_down_at_once(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    run = run_app("stress")
    r = run.result
    s = r["stats"]
    assert r["alive"] == 0, r
    assert r["shut_down"] is True, r
    assert r["spans_accepted_before"] >= 16 * 150, r
    # Spans made after the shutdown began are refused, never half-sent.
    assert s["spans_accepted"] <= r["emitted_spans"], r
    assert s["dropped_queue_full"] == 0 and s["items_pending"] == 0, s
    assert set(r["flush_answers"]) <= {"True", "False", "shut down"}, r
    envelopes = emulator.wait_for(2 * s["spans_accepted"], timeout_s=15)
    spans = Counter(base(e)["name"] for e in span_envelopes(envelopes) if base(e)["name"].startswith("s-"))
    logs = Counter(text(e) for e in of_kind(envelopes, "Message") if text(e).startswith("l-"))
    assert sum(spans.values()) == s["spans_accepted"] and max(spans.values()) == 1, s
    # Each accepted span's log was accepted before it (the log is emitted inside it).
    assert len(logs) >= len(spans) and max(logs.values()) == 1
    assert {f"l-{n[2:]}" for n in spans} <= set(logs)
