"""Incoming trace context: the global OpenTelemetry propagator (W3C ``traceparent`` /
``tracestate`` unless the application chose others), plus the classic Application
Insights ``Request-Id`` header as a parent when no other header gave one, as the
official Application Insights SDKs accept it.

Outgoing calls carry only what the global propagator injects: ``Request-Id`` is read,
never written (services that still speak it also read ``traceparent``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    DefaultGetter,
    DefaultSetter,
    Getter,
    Setter,
    TextMapPropagator,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

_getter: Getter[Any] = DefaultGetter()
_setter: Setter[Any] = DefaultSetter()

# `|<root id>.<span id>.` (a W3C-compatible hierarchical id), possibly with more
# levels after the span id; the root must be a W3C trace id to join the trace.
_REQUEST_ID = re.compile(r"^\|?([0-9a-f]{32})(?:\.([^.]*))?")
_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")


def _first(getter: Getter[Any], carrier: Any, *names: str) -> str | None:
    for name in names:
        values = getter.get(carrier, name)
        if values:
            value = values[0] if not isinstance(values, str) else values
            if value and value.strip():
                return value.strip()
    return None


def parent_from_request_id(value: str) -> SpanContext | None:
    """The remote parent a classic ``Request-Id`` names, or None when its root is not a
    W3C trace id (a legacy id that cannot join a W3C trace)."""
    match = _REQUEST_ID.match(value.strip().lower())
    if match is None:
        return None
    trace_id = int(match.group(1), 16)
    if trace_id == 0:
        return None
    span = match.group(2) or ""
    if _SPAN_ID.match(span) and int(span, 16) != 0:
        span_id = int(span, 16)
    else:
        # No span id of the W3C form: a stable stand-in, so every call naming this
        # Request-Id hangs under the same parent of the same operation.
        span_id = int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "big") or 1
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))


class RequestIdFallbackPropagator(TextMapPropagator):
    """Wraps a propagator: extraction is the wrapped one's, then ``Request-Id`` when it
    found no parent and the request has no ``traceparent``; injection is the wrapped
    one's alone."""

    def __init__(self, inner: TextMapPropagator) -> None:
        self.inner = inner

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = _getter
    ) -> Context:
        ctx = self.inner.extract(carrier, context=context, getter=getter)
        if trace.get_current_span(ctx).get_span_context().is_valid:
            return ctx
        if _first(getter, carrier, "traceparent", "Traceparent") is not None:
            # A traceparent the W3C propagator refused starts a new trace; an older
            # header must not overrule it.
            return ctx
        request_id = _first(getter, carrier, "request-id", "Request-Id")
        if request_id is None:
            return ctx
        parent = parent_from_request_id(request_id)
        if parent is None:
            return ctx
        return trace.set_span_in_context(NonRecordingSpan(parent), ctx)

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = _setter
    ) -> None:
        self.inner.inject(carrier, context=context, setter=setter)

    @property
    def fields(self) -> set[str]:
        return set(self.inner.fields)


def install_request_id_fallback() -> None:
    """Wraps the global propagator once; the application's own propagators stay."""
    current = propagate.get_global_textmap()
    if isinstance(current, RequestIdFallbackPropagator):
        return
    propagate.set_global_textmap(RequestIdFallbackPropagator(current))

