"""Spans with links, made through the OpenTelemetry API as a message consumer or a batch
job makes them: links given at the start, one added while the span runs, one with
attributes, and a span with more links than one property holds. Prints, for each span,
the links as the official distro's exporter writes them into ``_MS.links``."""

from __future__ import annotations

from typing import Any

from _common import emit_result
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind

from genkit_azure_rs import AzureTelemetry

telemetry = AzureTelemetry(service_name="span-links", batch_delay_s=0.05, enable_live_metrics=False)
telemetry.initialize()
tracer = trace.get_tracer("span-links")


def official_links(contexts: list[SpanContext]) -> list[dict[str, str]]:
    """What azure-monitor-opentelemetry-exporter 1.0.0b58 puts in ``_MS.links``
    (``_convert_span_to_envelope``): each link's trace id as 32 and its span id as 16
    lower-case hex digits, under ``operation_Id`` and ``id``."""
    return [{"operation_Id": format(c.trace_id, "032x"), "id": format(c.span_id, "016x")} for c in contexts]


producers: list[SpanContext] = []
for i in range(3):
    with tracer.start_as_current_span(f"send-{i}", kind=SpanKind.PRODUCER) as producer:
        producers.append(producer.get_span_context())

remote = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331, is_remote=True)
expected: dict[str, Any] = {}
links = [Link(producers[0]), Link(producers[1], {"messaging.batch.index": 1}), Link(remote)]
with tracer.start_as_current_span("process-batch", kind=SpanKind.CONSUMER, links=links) as consumer:
    consumer.add_link(producers[2], {"late": True})
    expected["process-batch"] = official_links([producers[0], producers[1], remote, producers[2]])

with tracer.start_as_current_span("no-links"):
    expected["no-links"] = None

# More links than `_MS.links` holds (8,192 characters): the SDK keeps 128 by default.
many = [
    SpanContext(trace_id=0x1000 + i, span_id=0x2000 + i, is_remote=True) for i in range(120)
]
with tracer.start_as_current_span("fan-in", links=[Link(c) for c in many]):
    expected["fan-in"] = official_links(many)

emit_result({"expected": expected, "flushed": telemetry.flush(10), "stats": telemetry.stats()})
