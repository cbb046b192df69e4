"""Shared bits of the scenario scripts: each runs in its own process (one global
TracerProvider per process) and prints one ``RESULT {json}`` line for the test."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

RESULT_PREFIX = "RESULT "


class SpanRecorder(SpanProcessor):
    """A second span processor on the same provider: what the app really produced."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        ctx = span.context
        with self._lock:
            self.spans.append(
                {
                    "name": span.name,
                    "trace_id": format(ctx.trace_id, "032x"),
                    "span_id": format(ctx.span_id, "016x"),
                    "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                    "status": span.status.status_code.name,
                    "attributes": {k: v for k, v in span.attributes.items() if isinstance(v, (str, int, float, bool))},
                }
            )


def current_ids() -> dict[str, str | None]:
    """The trace / span id current in the OpenTelemetry context (hex), as the test expects them."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {"trace_id": None, "span_id": None}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


def emit_result(result: dict[str, Any]) -> None:
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()
