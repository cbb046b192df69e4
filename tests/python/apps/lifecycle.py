"""Lifecycle scenarios of AzureTelemetry, one per run: ``lifecycle.py MODE``.

Spans are made with the plain OpenTelemetry API (Genkit traces the same way). The batch
delay is a minute, so anything at the emulator right after a call was sent by that call.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import urllib.request

import structlog
from _common import SpanRecorder, current_ids, emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureLogHandler, AzureSpanProcessor, AzureTelemetry, TelemetryShutDownError

MODE = sys.argv[1]
EMULATOR = os.environ["EMULATOR_URL"]

if MODE == "existing_provider":
    # The application (or Genkit in dev mode) made the global provider first.
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    users_provider = TracerProvider(resource=Resource.create({"service.name": "users-own"}))
    trace.set_tracer_provider(users_provider)

# "quiet" sends on a short batch delay: it watches spans reach the emulator unflushed.
telemetry = AzureTelemetry(service_name="lifecycle", batch_delay_s=0.05 if MODE == "quiet" else 60)
stats_before = telemetry.stats()
telemetry.initialize()
recorder = SpanRecorder()
provider = trace.get_tracer_provider()
provider.add_span_processor(recorder)  # type: ignore[attr-defined]
tracer = trace.get_tracer("lifecycle-test", "0.1")
log = logging.getLogger("app.lifecycle")


def envelopes_now() -> list[dict[str, object]]:
    with urllib.request.urlopen(EMULATOR + "/envelopes", timeout=10) as response:
        return json.load(response)


def some_spans() -> dict[str, object]:
    with tracer.start_as_current_span("request") as root:
        root.set_attribute("http.route", "/weather")
        with tracer.start_as_current_span("step-1"):
            log.warning("inside step one")
            ids = current_ids()
        with tracer.start_as_current_span("step-2"):
            pass
    return ids


if MODE == "force_flush":
    ids = some_spans()
    flushed = provider.force_flush()  # type: ignore[attr-defined]
    arrived = envelopes_now()
    emit_result(
        {
            "flushed": flushed,
            "arrived": arrived,
            "spans": recorder.spans,
            "log_ids": ids,
            "stats_before": stats_before,
            "stats_after": telemetry.stats(),
        }
    )

elif MODE == "initialize_twice":
    telemetry.initialize()
    telemetry.initialize()
    processors = provider._active_span_processor._span_processors  # type: ignore[attr-defined]
    structlog_processors = structlog.get_config()["processors"]
    names = [getattr(p, "__name__", type(p).__name__) for p in structlog_processors]
    with tracer.start_as_current_span("once"):
        log.warning("stdlib once")
        structlog.get_logger("app").warning("structlog once")
    telemetry.flush()
    emit_result(
        {
            "span_processors": sum(isinstance(p, AzureSpanProcessor) for p in processors),
            "handlers": sum(isinstance(h, AzureLogHandler) for h in logging.getLogger().handlers),
            "structlog_processors": names,
            "spans": recorder.spans,
        }
    )

elif MODE == "own_logger":
    with tracer.start_as_current_span("work"):
        logging.getLogger("genkit_azure_rs").warning("library diagnostic")
        logging.getLogger("genkit_azure_rs.export").error("library child diagnostic")
        log.warning("application record")
    telemetry.flush()
    emit_result({"spans": recorder.spans})

elif MODE == "atexit":
    ids = some_spans()
    # No flush, no shutdown: the atexit handler delivers.
    emit_result({"spans": recorder.spans, "log_ids": ids})

elif MODE == "shutdown_then_exit":
    ids = some_spans()
    first = telemetry.shutdown(timeout_s=10)
    second = telemetry.shutdown(timeout_s=10)
    try:
        telemetry.flush()
        flush_error = None
    except TelemetryShutDownError as e:
        flush_error = f"{type(e).__name__}: {e}"
    # Still safe to use tracing and logging afterwards; nothing is sent any more.
    with tracer.start_as_current_span("after-shutdown"):
        log.warning("after shutdown")
    emit_result(
        {
            "first": first,
            "second": second,
            "flush_error": flush_error,
            "flush_error_is_runtime_error": issubclass(TelemetryShutDownError, RuntimeError),
            "force_flush": provider.force_flush(),  # type: ignore[attr-defined]
            "spans": recorder.spans,
            "log_ids": ids,
        }
    )

elif MODE == "existing_provider":
    with tracer.start_as_current_span("on-the-users-provider"):
        pass
    telemetry.flush()
    emit_result(
        {
            "reused": telemetry.tracer_provider is users_provider and trace.get_tracer_provider() is users_provider,
            "spans": recorder.spans,
        }
    )

elif MODE == "created_provider":
    from opentelemetry.sdk.trace import TracerProvider

    created = trace.get_tracer_provider()
    emit_result(
        {
            "is_sdk": isinstance(created, TracerProvider),
            "is_ours": created is telemetry.tracer_provider,
            "resource": dict(created.resource.attributes),  # type: ignore[attr-defined]
        }
    )

elif MODE == "gil":
    # The emulator answers every track request after a delay. While flush / shutdown
    # wait for it, another Python thread must keep running: it stamps the time every
    # few milliseconds, and the stamps must cover the middle of the wait.
    stamps: list[float] = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            stamps.append(time.monotonic())
            time.sleep(0.005)

    thread = threading.Thread(target=ticker)
    thread.start()
    timings = {}
    for name, call in (("flush", lambda: telemetry.flush(timeout_s=10)), ("shutdown", lambda: telemetry.shutdown(10))):
        with tracer.start_as_current_span(f"before-{name}"):
            pass
        started = time.monotonic()
        ok = call()
        ended = time.monotonic()
        middle = [t for t in stamps if started + 0.15 < t < ended - 0.15]
        timings[name] = {"ok": ok, "seconds": ended - started, "ticks_while_waiting": len(middle)}
    stop.set()
    thread.join()
    emit_result(timings)

elif MODE == "stats_right_after":
    # Three spans end (the processor holds them, to convert sixteen together); stats()
    # at once counts them, as an app reading it right after its work expects.
    some_spans()
    emit_result({"stats": telemetry.stats(), "spans": recorder.spans})

elif MODE == "quiet":
    # 40 spans end, then the app goes quiet: no flush, no stats, no more spans. The
    # processor converts ended spans sixteen at a time; the last eight are sent all the
    # same, within the time the held spans' thread bounds.
    ended = time.monotonic()
    for i in range(40):
        with tracer.start_as_current_span(f"quiet-{i}"):
            pass
    arrived: list[dict[str, object]] = []
    while time.monotonic() < ended + 10 and len(arrived) < 40:
        time.sleep(0.05)
        arrived = envelopes_now()
    seconds = time.monotonic() - ended
    threads_before = [t.name for t in threading.enumerate()]
    telemetry.shutdown(10)
    time.sleep(1.5)
    threads_after = [t.name for t in threading.enumerate()]
    emit_result(
        {
            "arrived": arrived,
            "seconds": seconds,
            "spans": recorder.spans,
            "threads_before": threads_before,
            "threads_after": threads_after,
        }
    )

else:
    raise SystemExit(f"unknown mode {MODE}")
