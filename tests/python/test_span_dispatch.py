"""Spans reach our span processor without the SDK's Python loop over processors while
ours is the only one (half of what the pipeline costs the app's thread), and exactly as
the SDK delivers them once another processor is added."""

from __future__ import annotations

from _helpers import base, span_envelopes


def names(prefix: str) -> list[str]:
    return sorted([f"{prefix}-{i}" for i in range(5)] + [f"{prefix}-{i}-child" for i in range(5)])


def test_spans_skip_the_sdk_loop_while_ours_is_alone(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    r = run_app("span_dispatch").result
    # Alone: no call into the SDK's multi-processor, from either tracer.
    assert r["dispatched_alone"] == 0, r
    # With a second processor: the SDK's loop again, three calls a span.
    assert r["dispatched_shared"] == 30, r
    # The processor added later got every span from then on; ours got all of them, and
    # the provider's force_flush reached ours.
    assert r["recorded"] == names("shared"), r
    assert r["flushed"] is True and r["stats"]["spans_accepted"] == 20, r
    arrived = sorted(base(e)["name"] for e in span_envelopes(emulator.wait_for(20, timeout_s=15)))
    assert arrived == sorted(names("alone") + names("shared")), arrived


def test_another_kind_of_multi_processor_is_left_alone(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    r = run_app("span_dispatch", "concurrent").result
    assert r["dispatched_alone"] == 30 and r["dispatched_shared"] == 30, r
    assert r["recorded"] == names("shared"), r
    assert r["flushed"] is True and r["stats"]["spans_accepted"] == 20, r
    arrived = sorted(base(e)["name"] for e in span_envelopes(emulator.wait_for(20, timeout_s=15)))
    assert arrived == sorted(names("alone") + names("shared")), arrived
