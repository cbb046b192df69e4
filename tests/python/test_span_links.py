"""Span links arrive as the official distro writes them: ``_MS.links`` on the span's
item, a JSON list of the linked spans' operation and span ids, which the portal follows
to the linked operations."""

from __future__ import annotations

import json

from _helpers import base, props, span_envelopes


def test_links_become_ms_links_as_the_distro_writes_them(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    run = run_app("span_links")
    r = run.result
    assert r["flushed"] is True and r["stats"]["spans_invalid"] == 0, r
    envelopes = emulator.wait_for(6, timeout_s=15)
    spans = {base(e)["name"]: e for e in span_envelopes(envelopes)}
    expected = r["expected"]

    batch = props(spans["process-batch"])
    assert json.loads(batch["_MS.links"]) == expected["process-batch"]
    # Link attributes are not written, as the distro does not write them.
    assert "messaging.batch.index" not in batch and "late" not in batch, batch

    assert "_MS.links" not in props(spans["no-links"])
    for i in range(3):
        assert "_MS.links" not in props(spans[f"send-{i}"])

    # The property keeps whole links: as many as fit its 8,192 characters, still JSON.
    fan_in = props(spans["fan-in"])["_MS.links"]
    assert len(fan_in) <= 8192
    kept = json.loads(fan_in)
    assert 100 <= len(kept) < len(expected["fan-in"]), len(kept)
    assert kept == expected["fan-in"][: len(kept)]
