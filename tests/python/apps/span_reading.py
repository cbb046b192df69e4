"""The span processor's fast paths against its general one: each span is ended twice,
once with its attributes in a plain dict (read in place, keys by their cached interned
id, exact str/bool/int/float values straight from the object) and once behind a
``MappingProxyType`` (read through ``items()`` and the general conversion), with the
same statuses, kinds, parents, events and scopes, enough distinct keys to wrap the
per-thread key cache, and on several threads. The test compares the two envelopes of
each pair."""

from __future__ import annotations

import enum
import threading
from types import MappingProxyType
from typing import Any

from _common import emit_result
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from genkit_azure_rs import AzureTelemetry


class Text(str):
    pass


class Level(enum.IntEnum):
    HIGH = 3


SCOPES = [
    InstrumentationScope("lib-a", "1.0"),
    InstrumentationScope("lib-b"),
    InstrumentationScope("lib-c", "2.0", "https://opentelemetry.io/schemas/1.21.0"),
    None,
]
STATUSES = [Status(StatusCode.UNSET), Status(StatusCode.OK), Status(StatusCode.ERROR, "it broke"), Status()]
KINDS = list(SpanKind)
PAIRS = 800


def attributes(i: int) -> dict[Any, Any]:
    """Literal keys with every kind of value, and keys made per span (600 distinct)."""
    return {
        "app.text": f"t-{i}",
        "app.empty": "",
        "app.unicode": "naïve ☃",
        "app.surrogate": "a\ud800b",
        "app.int": i,
        "app.negative": -i - 1,
        "app.big": 2**70 + i,
        "app.float": i / 7,
        "app.true": True,
        "app.false": False,
        "app.str_subclass": Text("sub"),
        "app.int_enum": Level.HIGH,
        "app.tuple": (1, 2, i),
        "app.list": ["a", "b"],
        f"dyn.{i % 600}": i,
        Text("key.subclass"): "v",
    }


def end_pair(processor: Any, i: int, errors: list[str]) -> None:
    try:
        trace_id = 0x1000 + i // 5  # five spans a trace share one trace id, as the SDK's do
        parent = None
        if i % 5:
            parent = SpanContext(trace_id=trace_id, span_id=0x9000 + i, is_remote=i % 10 == 7)
        events = [Event("ev", attributes={"ev.key": i, "ev.text": "x"}, timestamp=5)] if i % 3 == 0 else []
        for label, attrs in (("fast", attributes(i)), ("slow", MappingProxyType(attributes(i)))):
            ctx = SpanContext(
                trace_id=trace_id,
                span_id=(0x10000 if label == "fast" else 0x20000) + i,
                is_remote=False,
                trace_flags=TraceFlags(1),
            )
            processor.on_end(
                ReadableSpan(
                    name=f"{label}-{i}",
                    context=ctx,
                    parent=parent,
                    attributes=attrs,  # type: ignore[arg-type]
                    events=events,
                    kind=KINDS[i % len(KINDS)],
                    status=STATUSES[i % len(STATUSES)],
                    start_time=1_000_000_000 + i,
                    end_time=2_000_000_000 + i,
                    instrumentation_scope=SCOPES[i % len(SCOPES)],
                )
            )
    except Exception as e:  # reported to the test
        errors.append(repr(e))


def end_pairs(processor: Any, indices: range, errors: list[str]) -> None:
    for i in indices:
        end_pair(processor, i, errors)


telemetry = AzureTelemetry(service_name="span-reading", batch_delay_s=0.05, enable_live_metrics=False).initialize()
processor = telemetry.span_processor
assert processor is not None
errors: list[str] = []
end_pairs(processor, range(PAIRS // 2), errors)
threads = [
    threading.Thread(target=end_pairs, args=(processor, range(PAIRS // 2 + t, PAIRS, 4), errors)) for t in range(4)
]
for t in threads:
    t.start()
for t in threads:
    t.join()
emit_result({"pairs": PAIRS, "errors": errors, "flushed": telemetry.flush(10), "stats": telemetry.stats()})
