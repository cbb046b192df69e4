"""initialize / flush / shutdown / stats, as an application uses them."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from _helpers import base, of_kind, span_envelopes, text

from genkit_azure_rs import AzureTelemetry, TelemetryShutDownError

CORE_COUNTERS = {
    "spans_accepted",
    "logs_accepted",
    "batches_exported",
    "batches_failed",
    "envelopes_sent",
    "envelopes_delivered",
    "envelopes_rejected",
    "items_export_failed",
    "dropped_queue_full",
    "dropped_shut_down",
    "dropped_mapping_error",
    "values_truncated",
    "queue_depth",
    "http_requests",
    "bytes_sent",
}


def test_tracer_provider_force_flush_delivers_the_rust_pipeline(run_app) -> None:
    # The batch delay is a minute: only the flush can have sent these.
    run = run_app("lifecycle", "force_flush")
    assert run.result["flushed"] is True
    arrived = run.result["arrived"]
    assert sorted(base(e)["id"] for e in span_envelopes(arrived)) == sorted(s["span_id"] for s in run.result["spans"])
    (message,) = of_kind(arrived, "Message")
    assert text(message) == "inside step one"
    assert message["tags"]["ai.operation.id"] == run.result["log_ids"]["trace_id"]
    assert message["tags"]["ai.operation.parentId"] == run.result["log_ids"]["span_id"]


def test_spans_held_to_convert_together_are_sent_when_the_app_goes_quiet(run_app) -> None:
    run = run_app("lifecycle", "quiet")
    spans = span_envelopes(run.result["arrived"])
    # Two batches of sixteen converted as the spans ended, and the last eight by the
    # thread that bounds how long a span is held (half a second), with no flush.
    assert sorted(base(e)["id"] for e in spans) == sorted(s["span_id"] for s in run.result["spans"])
    assert len(spans) == 40
    assert run.result["seconds"] < 5, run.result["seconds"]
    # The thread is there while the pipeline runs and ends with it.
    assert "genkit-azure-held-spans" in run.result["threads_before"]
    assert "genkit-azure-held-spans" not in run.result["threads_after"]


def test_stats_counts_spans_the_processor_still_held(run_app) -> None:
    run = run_app("lifecycle", "stats_right_after")
    assert run.result["stats"]["spans_accepted"] == len(run.result["spans"]) == 3


def test_stats_counts_what_went_through(run_app) -> None:
    run = run_app("lifecycle", "force_flush")
    before, after = run.result["stats_before"], run.result["stats_after"]
    assert CORE_COUNTERS <= set(before) and CORE_COUNTERS <= set(after)
    assert all(isinstance(v, int) for v in after.values())
    assert before["spans_accepted"] == 0
    assert after["spans_accepted"] == len(run.result["spans"]) == 3
    assert after["logs_accepted"] == 1
    # Three spans, one log, and the resource's `_OTELRESOURCE_` metric.
    assert after["envelopes_delivered"] == 5
    assert after["http_requests"] >= 1 and after["queue_depth"] == 0


def test_initialize_twice_wires_everything_once(run_app, emulator) -> None:
    run = run_app("lifecycle", "initialize_twice")
    assert run.result["span_processors"] == 1
    assert run.result["handlers"] == 1
    names = run.result["structlog_processors"]
    assert names.count("inject_azure_trace_context") == 1
    # Right before the renderer, which stays last.
    assert names.index("inject_azure_trace_context") == len(names) - 2
    assert names[-1] == "ConsoleRenderer"
    envelopes = emulator.envelopes()
    assert len(span_envelopes(envelopes)) == 1
    messages = Counter(text(e) for e in of_kind(envelopes, "Message"))
    assert messages == {"stdlib once": 1, "structlog once": 1}


def test_the_library_logger_is_never_exported(run_app, emulator) -> None:
    run_app("lifecycle", "own_logger")
    envelopes = emulator.envelopes()
    texts = [text(e) for e in envelopes]
    assert "application record" in texts  # the handler works...
    assert "library diagnostic" not in texts  # ...but not for genkit_azure_rs
    assert "library child diagnostic" not in texts
    assert not [t for t in texts if "Azure telemetry initialized" in t]


def test_interpreter_exit_delivers_what_was_not_flushed(run_app, emulator) -> None:
    run = run_app("lifecycle", "atexit")
    envelopes = emulator.envelopes()
    assert sorted(base(e)["id"] for e in span_envelopes(envelopes)) == sorted(s["span_id"] for s in run.result["spans"])
    assert [text(e) for e in of_kind(envelopes, "Message")] == ["inside step one"]


def test_shutdown_then_exit(run_app, emulator) -> None:
    run = run_app("lifecycle", "shutdown_then_exit")
    result = run.result
    assert result["first"] is True
    assert result["second"] is True  # idempotent: the first call's result
    assert result["flush_error_is_runtime_error"] is True
    assert result["flush_error"] == "TelemetryShutDownError: the telemetry pipeline is shut down"
    assert result["force_flush"] is False
    # Exiting after an explicit shutdown neither fails nor sends anything twice.
    assert "Traceback" not in run.stderr and "Logging error" not in run.stderr, run.stderr
    envelopes = emulator.envelopes()
    spans_before_shutdown = [s["span_id"] for s in result["spans"] if s["name"] != "after-shutdown"]
    assert sorted(base(e)["id"] for e in span_envelopes(envelopes)) == sorted(spans_before_shutdown)
    assert [text(e) for e in of_kind(envelopes, "Message")] == ["inside step one"]


def test_an_existing_sdk_tracer_provider_is_reused(run_app, emulator) -> None:
    run = run_app("lifecycle", "existing_provider")
    assert run.result["reused"] is True
    (span,) = run.result["spans"]
    (envelope,) = span_envelopes(emulator.envelopes())
    assert base(envelope)["id"] == span["span_id"]
    # Items carry the pipeline's resource, whatever the provider's says.
    assert envelope["tags"]["ai.cloud.role"] == "lifecycle"


def test_without_a_provider_one_is_created_with_the_service_resource(run_app) -> None:
    run = run_app("lifecycle", "created_provider")
    assert run.result["is_sdk"] is True and run.result["is_ours"] is True
    assert run.result["resource"]["service.name"] == "lifecycle"
    assert run.result["resource"]["service.version"] == "1.0.0"


def test_flush_and_shutdown_let_other_python_threads_run(run_app, emulator) -> None:
    if not emulator.set_faults({"delay_ms": 700}):
        pytest.skip("this emulator has no fault injection")
    run = run_app("lifecycle", "gil")
    for name in ("flush", "shutdown"):
        timing = run.result[name]
        assert timing["ok"] is True
        assert timing["seconds"] >= 0.5, timing  # it did wait for the slow endpoint...
        assert timing["ticks_while_waiting"] >= 5, timing  # ...without holding the GIL


def test_flush_after_shutdown_raises_a_clear_error(emulator) -> None:
    telemetry = AzureTelemetry(connection_string=emulator.connection_string)
    assert telemetry.flush(timeout_s=5) is True
    assert telemetry.shutdown(timeout_s=5) is True
    assert telemetry.is_shut_down
    with pytest.raises(TelemetryShutDownError, match="shut down"):
        telemetry.flush()
    with pytest.raises(RuntimeError):
        telemetry.initialize()
    assert telemetry.shutdown() is True
    assert set(telemetry.stats()) >= CORE_COUNTERS


def test_constructor_stores_settings(emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    explicit = AzureTelemetry(
        connection_string=emulator.connection_string,
        service_name="explicit",
        enable_live_metrics=False,
        log_level=logging.WARNING,
    )
    from_env = AzureTelemetry(connection_string=emulator.connection_string)
    try:
        assert explicit.service_name == "explicit"  # an explicit name wins
        assert from_env.service_name == "from-env"  # else OTEL_SERVICE_NAME
        assert explicit.enable_live_metrics is False and from_env.enable_live_metrics is True
        assert explicit.log_level == logging.WARNING
        assert explicit.resource["service.version"] == "1.0.0"
    finally:
        explicit.shutdown(timeout_s=1)
        from_env.shutdown(timeout_s=1)
    monkeypatch.delenv("OTEL_SERVICE_NAME")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=ai")
    attrs = AzureTelemetry(connection_string=emulator.connection_string)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES")
    default = AzureTelemetry(connection_string=emulator.connection_string)
    try:
        assert attrs.service_name == "from-attrs"
        assert default.service_name == "genkit-app"
    finally:
        attrs.shutdown(timeout_s=1)
        default.shutdown(timeout_s=1)
