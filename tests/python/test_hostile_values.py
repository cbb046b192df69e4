"""Hostile attribute values (issue 14): whatever a misbehaving instrumentation hands
over is exported sanely as text or a number, never an exception into the host and
never a crash (a sequence nested 100,000 deep used to overflow the stack)."""

from __future__ import annotations

from _helpers import base, kind, props


def test_hostile_values_arrive_as_text_and_crash_nothing(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    run = run_app("hostile_values")
    r = run.result
    assert r["queued"] == [True, True] and r["flushed"] is True, r
    assert r["stats"]["spans_invalid"] == 0 and r["stats"]["items_rejected"] == 0, r["stats"]
    envelopes = emulator.wait_for(5, timeout_s=10)
    names = sorted(base(e).get("name", base(e).get("message", "")) for e in envelopes if kind(e) != "Metric")
    # A lone surrogate becomes replacement characters (one per byte of its encoding).
    assert "hostile-span" in names and "hostile-event" in names, names
    assert sum(n.startswith("hostile-\ufffd") for n in names) == 2, names
    assert any(n.startswith("hostile-log a\ufffd") for n in names), names
    for e in envelopes:
        if base(e).get("name") in ("hostile-span", "hostile-event"):
            p = props(e)
            assert p["surrogate"].startswith("a\ufffd") and p["surrogate"].endswith("b")
            assert p["1"] == "int key" and p["None"] == "none key"
            assert p["evil"] == "<unprintable>" and p["deep"] == "<unprintable>"
            assert len(p["huge"]) == 8192
