"""How spans reach the span processor. With ours as the provider's only processor, the
SDK's Python loop over processors (``SynchronousMultiSpanProcessor.on_start`` /
``_on_ending`` / ``on_end``) never runs: spans go straight to ours. A processor added later
(here a recorder, as an app adds one) gets every span from then on, in order after ours,
and the provider's ``force_flush`` and ``shutdown`` still reach ours.

``python span_dispatch.py concurrent`` does the same with a provider the app made first
around a ``ConcurrentMultiSpanProcessor``, which is left as it is.

The SDK's dispatch is counted with ``sys.setprofile``: calls into the multi-processors'
own methods while spans run."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from _common import SpanRecorder, emit_result
from opentelemetry import trace
from opentelemetry.sdk.trace import ConcurrentMultiSpanProcessor, SynchronousMultiSpanProcessor, TracerProvider

from genkit_azure_rs import AzureTelemetry

CONCURRENT = sys.argv[1:] == ["concurrent"]
if CONCURRENT:
    trace.set_tracer_provider(TracerProvider(active_span_processor=ConcurrentMultiSpanProcessor()))

# A tracer made before initialize(): it shares the provider's multi-processor.
early = trace.get_tracer("span-dispatch-early")
telemetry = AzureTelemetry(service_name="span-dispatch", batch_delay_s=0.05, enable_live_metrics=False)
telemetry.initialize()
tracer = trace.get_tracer("span-dispatch")

SDK_CODE = {
    cls.__dict__[name].__code__
    for cls in (SynchronousMultiSpanProcessor, ConcurrentMultiSpanProcessor)
    for name in ("on_start", "_on_ending", "on_end")
}
dispatched = 0


def count(frame: FrameType, event: str, arg: Any) -> None:
    global dispatched
    if event == "call" and frame.f_code in SDK_CODE:
        dispatched += 1


def run_spans(prefix: str) -> int:
    """Ten spans (five through the early tracer), and the SDK dispatch calls they made."""
    global dispatched
    dispatched = 0
    sys.setprofile(count)
    try:
        for i in range(5):
            with tracer.start_as_current_span(f"{prefix}-{i}"):
                with early.start_as_current_span(f"{prefix}-{i}-child"):
                    pass
    finally:
        sys.setprofile(None)
    return dispatched


alone = run_spans("alone")
recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]
shared = run_spans("shared")
flushed = trace.get_tracer_provider().force_flush(10_000)  # type: ignore[attr-defined]
emit_result(
    {
        "dispatched_alone": alone,
        "dispatched_shared": shared,
        "recorded": sorted(s["name"] for s in recorder.spans),
        "flushed": flushed,
        "stats": telemetry.stats(),
    }
)
