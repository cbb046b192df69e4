"""Odd attribute values on spans, stdlib records and structlog events must neither crash
the app nor the pipeline, and must arrive (cut at character boundaries)."""

from __future__ import annotations

import logging

import structlog
from _common import SpanRecorder, emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

HUGE = "日本語テキスト" * 50_000  # 350,000 characters, 1,050,000 UTF-8 bytes
EDGE = "a" * 8191 + "é"  # the multi-byte character straddles the 8192-byte cut

telemetry = AzureTelemetry(service_name="odd-values", batch_delay_s=0.05)
telemetry.initialize()
recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]
tracer = trace.get_tracer("odd-values")
log = logging.getLogger("app.odd")

with tracer.start_as_current_span("odd-span") as span:
    span.set_attribute("huge", HUGE)
    span.set_attribute("edge", EDGE)
    span.set_attribute("big_int", 2**100)
    span.set_attribute("negative_big_int", -(2**70))
    span.set_attribute("floats", (1.5, 2.5))
    span.set_attribute("emoji", "🚀" * 3000)  # 4-byte characters, 12,000 bytes
    # Lone surrogates are valid Python str but not UTF-8: replaced, never an error.
    span.set_attribute("lone_surrogate", "a\ud800b")
    span.set_attribute("key_\udcff", "value of an odd key")
    span.add_event("odd-event\ud800", {"edge": EDGE, "n": 2**65})
    log.warning(
        "odd record %s",
        "é" * 40_000,
        extra={
            "nested": {"a": {"b": [1, 2, {"c": None}]}},
            "nothing": None,
            "big_int": 10**30,
            "mixed": [1, "two", 3.0],
            "edge": EDGE,
            "raw": b"\xff\xfe bytes",
        },
    )
    structlog.get_logger("app.odd").warning(
        "odd structlog event", nested={"k": [1, {"x": None}]}, nothing=None, huge=HUGE
    )

with tracer.start_as_current_span("after-odd"):
    log.warning("still working")

flushed = telemetry.flush(timeout_s=20)
emit_result({"flushed": flushed, "spans": recorder.spans, "stats": telemetry.stats()})
