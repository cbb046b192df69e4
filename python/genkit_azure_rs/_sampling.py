"""``AzureSampler``: the Rust pipeline's sampling decision, made when a trace's root starts,
as an OpenTelemetry SDK sampler.

With it on the ``TracerProvider``, a span of a dropped trace is never recorded: the SDK
hands out a non-recording span (``Decision.DROP``), so it costs the application almost
nothing and never reaches the span processor. :meth:`AzureTelemetry.initialize` gives it to
a provider it creates; on a provider that already exists, the span processor applies the
same decision before export instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)

from . import _native

#: The attribute a kept root carries: the percentage of traces kept. The official Azure
#: Monitor sampler sets the same one; the span processor reads it at the root's start so
#: the decision is not made twice, and the envelopes' ``sampleRate`` says it.
SAMPLE_RATE_ATTRIBUTE = "_MS.sampleRate"


def _parent_trace_state(parent_context: Context | None) -> TraceState | None:
    span_context = get_current_span(parent_context).get_span_context()
    if span_context is None or not span_context.is_valid:
        return None
    return span_context.trace_state


class AzureSampler(Sampler):
    """Decides, once per trace at its root, whether the trace is kept: a fixed share of
    traces (``sampling_ratio``, by the DJB2 score of the trace id that every Application
    Insights SDK uses) or about ``traces_per_second``. One call into Rust per root.

    Use it as the root sampler of a :func:`parent_based` sampler, so that children follow
    their root and traces arrive whole.
    """

    def __init__(self, telemetry: _native.Telemetry) -> None:
        self._telemetry = telemetry
        self._description = f"AzureSampler{{{telemetry.sampling or 'keeps every trace'}}}"

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        keep, percentage = self._telemetry.sample_root(trace_id)
        if not keep:
            return SamplingResult(Decision.DROP, None, _parent_trace_state(parent_context))
        # The span starts with these attributes: the caller's, and the decision.
        kept = dict(attributes or {})
        kept[SAMPLE_RATE_ATTRIBUTE] = percentage
        return SamplingResult(Decision.RECORD_AND_SAMPLE, kept, _parent_trace_state(parent_context))

    def get_description(self) -> str:
        return self._description


def parent_based(telemetry: _native.Telemetry) -> ParentBased:
    """Our decision for roots and for spans whose parent is in another process and was
    sampled there (this process's part of the trace is its own root); a local child follows
    its parent, and a remote parent that was not sampled is not sampled here either, so a
    trace stays whole across services."""
    azure = AzureSampler(telemetry)
    return ParentBased(
        root=azure,
        remote_parent_sampled=azure,
        remote_parent_not_sampled=ALWAYS_OFF,
        local_parent_sampled=ALWAYS_ON,
        local_parent_not_sampled=ALWAYS_OFF,
    )
