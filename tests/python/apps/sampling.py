"""Sampling at a ratio of 0.5 with logs sampled by trace.

``created``: ``initialize()`` creates the TracerProvider, with our sampler: a dropped
trace's spans are never recorded, so no span processor (ours, or the recorder here)
ever sees them. ``existing``: the app set a provider of its own first (no sampler): every
span is recorded, and ours drops the dropped traces' spans before export.

Each trace: a root ``flow-<i>`` (started with an attribute of the app's own) and a child
``step``, inside which a stdlib log record and a custom event are emitted.
"""

from __future__ import annotations

import logging
import sys

from _common import SpanRecorder, emit_result
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from genkit_azure_rs import AzureTelemetry

N = 60
mode = sys.argv[1]

recorder = SpanRecorder()
if mode == "existing":
    own = TracerProvider()
    own.add_span_processor(recorder)
    trace.set_tracer_provider(own)

telemetry = AzureTelemetry(
    service_name="sampling-py",
    sampling_ratio=0.5,
    enable_trace_based_sampling_for_logs=True,
    batch_delay_s=0.05,
    log_level=logging.INFO,
)
telemetry.initialize()
provider = trace.get_tracer_provider()
assert isinstance(provider, TracerProvider)
if mode == "created":
    provider.add_span_processor(recorder)

tracer = trace.get_tracer("sampling-app")
log = logging.getLogger("sampling-app")
traces = []
for i in range(N):
    with tracer.start_as_current_span(f"flow-{i}", attributes={"app.attr": "x"}) as root:
        traces.append(format(root.get_span_context().trace_id, "032x"))
        with tracer.start_as_current_span("step"):
            log.info("log %d", i)
            telemetry.track_event(f"event {i}")

flushed = telemetry.flush(timeout_s=10)
emit_result(
    {
        "mode": mode,
        "traces": traces,
        "recorded": recorder.spans,
        "sampler": provider.sampler.get_description(),
        "sampling": telemetry._native.sampling,
        "flushed": flushed,
        "stats": telemetry.stats(),
    }
)
telemetry.shutdown(timeout_s=5)
