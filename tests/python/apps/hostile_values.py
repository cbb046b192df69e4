"""Values no well-behaved instrumentation sends, straight to the span processor, the log
handler and ``track_event``: a sequence nested 100,000 deep (which once overflowed the
converting thread's stack and killed the process), bytes, NaN and infinities, lone
surrogates, non-str keys, objects whose ``str`` and ``repr`` raise, a 5 MB string,
mixed sequences, sets, dicts, huge ints."""

from __future__ import annotations

import logging
import math

from _common import emit_result
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags

from genkit_azure_rs import AzureTelemetry


class Evil:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


deep: list[object] = []
level = deep
for _ in range(100_000):
    inner: list[object] = []
    level.append(inner)
    level = inner

ODD: dict[object, object] = {
    "deep": deep,
    "deep_tuple": (deep,),
    "bytes": b"\xff\x00abc",
    "nan": math.nan,
    "inf": math.inf,
    "surrogate": "a\ud800b",
    "evil": Evil(),
    1: "int key",
    None: "none key",
    ("t",): "tuple key",
    "huge": "x" * 5_000_000,
    "mixed": [1, "a", None, b"b", math.nan],
    "set": {1, 2},
    "dict": {"a": {"b": [1]}},
    "bigint": 2**200,
}

telemetry = AzureTelemetry(service_name="hostile", batch_delay_s=0.05, enable_live_metrics=False).initialize()
processor = telemetry.span_processor
assert processor is not None
ctx = SpanContext(trace_id=0x1234, span_id=0x5678, is_remote=False, trace_flags=TraceFlags(1))
processor.on_end(ReadableSpan(name="hostile-span", context=ctx, attributes=ODD, start_time=1, end_time=2))  # type: ignore[arg-type]
processor.on_end(ReadableSpan(name="hostile-\ud800", context=ctx, attributes=None, start_time=1, end_time=2))
extra = {f"x{i}": v for i, v in enumerate(ODD.values())}
logging.getLogger("app.hostile").warning("hostile-log %s", "a\ud800", extra=extra)
queued = [telemetry.track_event("hostile-event", ODD), telemetry.track_event("hostile-\ud800", {"a\ud800": "v"})]  # type: ignore[arg-type]
emit_result({"queued": queued, "flushed": telemetry.flush(10), "stats": telemetry.stats()})
