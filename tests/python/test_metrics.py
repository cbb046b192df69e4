"""The OpenTelemetry metrics API from Python reaches Application Insights as
customMetrics: values and dimensions checked at the emulator per interval (a counter's
delta sum; a histogram's sum, count, min and max), ``flush()`` sending what is pending,
and the pipeline's own clock sending the rest."""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import base, of_kind


def _series(envelopes: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """``{"value", "count", ..., "dims": properties}`` of each arrival of metric ``name``."""
    out = []
    for e in of_kind(envelopes, "Metric"):
        (m,) = base(e)["metrics"]
        if m["name"] == name:
            out.append({**{k: v for k, v in m.items() if k != "name"}, "dims": base(e).get("properties", {})})
    return out


@pytest.mark.parametrize("provider", ["created", "join"])
def test_counters_histograms_and_gauges_arrive_per_interval_with_their_dimensions(
    run_app, emulator, provider: str
) -> None:
    run = run_app("metrics", *(["join"] if provider == "join" else []))
    r = run.result
    assert r["flushed"] is True and r["shut_down"] is True
    assert r["provider_joined"] and r["reader_added"]
    assert r["collecting"] == [["genkit-azure-metrics"], []], "one collecting thread, gone after shutdown"
    if provider == "join":
        assert r["own_reader_points"] > 0, "the app's own reader still sees its metrics"
    envelopes = emulator.envelopes()
    for e in of_kind(envelopes, "Metric"):
        assert e["tags"]["ai.cloud.role"] == "metrics-py"

    # Interval 1 came with flush(); interval 2 on the pipeline's clock (1.5 s).
    orders = _series(envelopes, "orders")
    assert orders[:2] in (
        [{"value": 5, "count": 1, "dims": {"region": "eu"}}, {"value": 1, "count": 1, "dims": {"region": "us"}}],
        [{"value": 1, "count": 1, "dims": {"region": "us"}}, {"value": 5, "count": 1, "dims": {"region": "eu"}}],
    )
    assert orders[2:] == [{"value": 4, "count": 1, "dims": {"region": "eu"}}]
    assert 0.5 < r["waited_s"] < 6, "interval 2 left on the metric interval, without a flush"

    latency = _series(envelopes, "latency_ms")
    assert latency == [
        {"value": 60, "count": 3, "min": 10, "max": 30, "dims": {"route": "/orders"}},
        {"value": 100, "count": 1, "min": 100, "max": 100, "dims": {"route": "/orders"}},
    ]
    # An up-down counter is its running total, a gauge its reading, at each collection.
    queue = _series(envelopes, "queue")
    assert queue and all(q == {"value": 3, "count": 1, "dims": {}} for q in queue)
    pool = _series(envelopes, "pool")
    assert pool and all(p == {"value": 7, "count": 1, "dims": {"pool": "db"}} for p in pool)

    stats = r["stats"]
    assert stats["metrics_accepted"] >= 6
    assert stats["metric_series_overflowed"] == 0


def test_metrics_never_flushed_leave_when_the_interpreter_exits(run_app, emulator) -> None:
    run_app("metrics_at_exit")
    assert _series(emulator.envelopes(), "orders") == [{"value": 2, "count": 1, "dims": {"region": "eu"}}]
