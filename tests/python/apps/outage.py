"""Steady tracing through an ingestion outage, as a user's app would see it.

Spans go out every few milliseconds; midway the emulator refuses connections for
three seconds (``POST /faults``). Prints the span ids produced and the counters.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

from _common import SpanRecorder, emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

telemetry = AzureTelemetry(
    service_name="outage", batch_delay_s=0.05, storage_directory=Path.cwd() / "offline"
)
telemetry.initialize()
recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]
tracer = trace.get_tracer("outage-app")


def traffic(seconds: float) -> None:
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with tracer.start_as_current_span("request"):
            with tracer.start_as_current_span("step"):
                pass
        time.sleep(0.005)


traffic(0.5)
request = urllib.request.Request(
    os.environ["EMULATOR_URL"] + "/faults",
    data=json.dumps({"outage_ms": 3000}).encode(),
    method="POST",
    headers={"Content-Type": "application/json"},
)
urllib.request.urlopen(request, timeout=10).read()
outage_began = time.monotonic()
traffic(3.5)  # through the outage and a little after
during = telemetry.stats()
traffic(0.5)
flushed = telemetry.flush(timeout_s=20)
# A long-running app keeps going; the pipeline resends from disk in the background.
deadline = time.monotonic() + 40
while time.monotonic() < deadline:
    s = telemetry.stats()
    if s["persisted_batches"] and s["resent_from_disk_batches"] >= s["persisted_batches"]:
        break
    time.sleep(0.1)
emit_result(
    {
        "flushed": flushed,
        "span_ids": [s["span_id"] for s in recorder.spans],
        "stats_during": during,
        "stats": telemetry.stats(),
    }
)
telemetry.shutdown(timeout_s=10)
