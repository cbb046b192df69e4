"""The span processor reads the SDK's spans through fast paths (a plain attribute dict
in place, keys by interned id kept per key object, ids, kinds, statuses and scopes by
identity); each must export exactly what the general path exports."""

from __future__ import annotations

from typing import Any

from _helpers import base, span_envelopes


def comparable(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope without what differs by construction within a pair: the span's
    name and id (the envelope's time is not compared either)."""
    b = dict(base(envelope))
    b.pop("name")
    b.pop("id")
    return {"base": b, "tags": envelope.get("tags", {}), "kind": envelope["name"]}


def test_fast_paths_export_what_the_general_path_exports(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    run = run_app("span_reading")
    r = run.result
    assert r["errors"] == [] and r["flushed"] is True, r
    assert r["stats"]["spans_invalid"] == 0 and r["stats"]["spans_accepted"] == 2 * r["pairs"], r["stats"]
    envelopes = emulator.wait_for(2 * r["pairs"], timeout_s=15)
    spans = {base(e)["name"]: e for e in span_envelopes(envelopes)}
    assert len(spans) == 2 * r["pairs"], len(spans)
    for i in range(r["pairs"]):
        fast, slow = spans[f"fast-{i}"], spans[f"slow-{i}"]
        assert comparable(fast) == comparable(slow), i
    # The fast path did see every kind of value and key.
    p = base(spans["fast-7"])["properties"]
    assert p["app.text"] == "t-7" and p["dyn.7"] == "7" and p["key.subclass"] == "v", p
    assert p["app.big"] == str(2**70 + 7) and p["app.surrogate"].startswith("a\ufffd"), p
