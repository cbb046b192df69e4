"""Sampling from Python (issue 10): the traces kept are exactly those the Application
Insights score keeps, computed here by a DJB2 of the test's own; they arrive whole with
``sampleRate`` 50, their logs and custom events with them, and nothing of a dropped trace
arrives. With the TracerProvider ``initialize()`` creates, a dropped trace's spans are never
recorded at all; with a provider the app set first, they are dropped before export."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from _helpers import base, of_kind, span_envelopes
from genkit_azure_rs import AzureTelemetry

#: Nothing listens on the discard port; nothing here is sent.
UNREACHABLE = "InstrumentationKey=00000000-0000-4000-8000-000000000016;IngestionEndpoint=http://127.0.0.1:9/"


def djb2_score(trace_hex: str) -> float:
    """The Application Insights sampling score of a trace id, written for this test: DJB2
    over the lowercase hex with 32-bit signed wrap-around, its absolute value over
    2**31 - 1."""
    h = 5381
    for ch in trace_hex.lower():
        h = (h * 33 + ord(ch)) & 0xFFFFFFFF
    if h >= 2**31:
        h -= 2**32
    h = 2**31 - 1 if h == -(2**31) else abs(h)
    return h / (2**31 - 1)


def test_the_score_is_the_official_exporters() -> None:
    # Values the official exporter's _get_DJB2_sample_score gave (see sampling.rs).
    assert djb2_score("4bf92f3577b34da6a3ce929d0e0e4736") == 0.33461353850300124
    assert djb2_score("0af7651916cd43dd8448eb211c80319c") == 0.5278892803601405


def _operation(e: dict[str, Any]) -> str:
    return str(e["tags"]["ai.operation.id"])


@pytest.mark.parametrize("mode", ["created", "existing"])
def test_a_ratio_keeps_exactly_the_traces_scoring_below_it(run_app, emulator, mode: str) -> None:
    r = run_app("sampling", mode).result
    assert r["flushed"] is True
    assert r["sampling"] == "keeps 50% of traces"
    traces: list[str] = r["traces"]
    kept = {t for t in traces if djb2_score(t) < 0.5}
    dropped = set(traces) - kept
    assert 10 <= len(kept) <= 50, "a fair share of 60"

    recorded = Counter(s["trace_id"] for s in r["recorded"])
    stats = r["stats"]
    if mode == "created":
        assert r["sampler"].startswith("ParentBased"), r["sampler"]
        # Never recorded: no span processor saw a dropped trace's spans.
        assert set(recorded) == kept
        assert stats["spans_accepted"] == 2 * len(kept)
        assert stats["spans_sampled_out"] == 0
        roots = [s for s in r["recorded"] if s["parent_id"] is None]
        # The app's own start attributes survive, with the decision beside them.
        assert all(s["attributes"]["app.attr"] == "x" for s in roots)
        assert all(s["attributes"]["_MS.sampleRate"] == 50.0 for s in roots)
    else:
        # Every span recorded; ours dropped the dropped traces' before export.
        assert set(recorded) == set(traces)
        assert stats["spans_accepted"] == 2 * len(traces)
        assert stats["spans_sampled_out"] == 2 * len(dropped)

    envelopes = emulator.wait_for(1)
    spans = span_envelopes(envelopes)
    per_trace = Counter(_operation(e) for e in spans)
    assert set(per_trace) == kept
    assert all(n == 2 for n in per_trace.values()), "whole traces"
    assert all(e["sampleRate"] == 50.0 for e in spans)
    root = [e for e in spans if base(e)["name"].startswith("flow-")]
    assert all(base(e)["properties"]["app.attr"] == "x" for e in root)
    assert all("_MS.sampleRate" not in base(e)["properties"] for e in root)

    logs = [e for e in of_kind(envelopes, "Message") if base(e)["message"].startswith("log ")]
    events = [e for e in of_kind(envelopes, "Event") if base(e)["name"].startswith("event ")]
    for items in (logs, events):
        assert {_operation(e) for e in items} == kept
        assert all(e["sampleRate"] == 50.0 for e in items)
    assert stats["logs_sampled_out"] == len(dropped)
    assert stats["custom_sampled_out"] == len(dropped)


def test_a_ratio_with_a_rate_and_unreadable_environment_are_value_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="^invalid configuration: sampling_ratio: cannot be set together"):
        AzureTelemetry(connection_string=UNREACHABLE, sampling_ratio=0.5, traces_per_second=5)
    with pytest.raises(ValueError, match=r"^invalid configuration: sampling_ratio: must be between 0\.0 and 1\.0"):
        AzureTelemetry(connection_string=UNREACHABLE, sampling_ratio=float("nan"))
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "microsoft.fixed_percentage")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "half")
    with pytest.raises(ValueError, match="^invalid configuration: OTEL_TRACES_SAMPLER_ARG: is \"half\""):
        AzureTelemetry(connection_string=UNREACHABLE, disable_offline_storage=True)
    # A value set in code wins over the environment.
    telemetry = AzureTelemetry(connection_string=UNREACHABLE, disable_offline_storage=True, traces_per_second=3)
    try:
        assert telemetry._native.sampling == "keeps about 3 traces/s"
    finally:
        telemetry.shutdown(timeout_s=0)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.2")
    telemetry = AzureTelemetry(connection_string=UNREACHABLE, disable_offline_storage=True)
    try:
        assert telemetry._native.sampling == "keeps 20% of traces"
        assert telemetry._native._resolved_config()["sampling_ratio"] == 0.2
    finally:
        telemetry.shutdown(timeout_s=0)
