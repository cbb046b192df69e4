"""A direct line from the SDK's spans to our span processor, while it is the only one.

A ``TracerProvider`` hands each span's start, ending and end to its active processor, a
``SynchronousMultiSpanProcessor``, whose Python methods loop over the processors added to
it. With ours alone in that loop, the three Python calls a span costs (and their frames)
are all the loop does, yet they take about as long as our processor's own work: measured
on the synthetic benchmark, they are half of what the pipeline adds to the app's thread.

:func:`attach` therefore points the multi-processor's ``on_start``, ``_on_ending`` and
``on_end`` straight at our processor's native methods (instance attributes, which the
span's method lookup finds before the class's), as long as ours is its only processor.
Every tracer shares that one multi-processor, so tracers made before :func:`attach` take
the direct line too. Its ``add_span_processor`` is wrapped as well: a second processor
first removes the direct line, so from then on the SDK's own loop calls every processor in
the order they were added, exactly as without it. ``shutdown`` and ``force_flush`` are
never touched. Any other active processor (a ``ConcurrentMultiSpanProcessor``, one of the
app's own) is left alone.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import SpanProcessor, SynchronousMultiSpanProcessor, TracerProvider

#: The multi-processor's methods the direct line replaces, then ``add_span_processor``.
_DIRECT = ("on_start", "_on_ending", "on_end")


def attach(provider: TracerProvider, processor: SpanProcessor) -> bool:
    """Sends ``provider``'s spans straight to ``processor`` if it is the provider's only
    span processor; returns whether it does. Never raises: a provider whose internals are
    not the SDK's as we know them keeps its own dispatch."""
    multi = getattr(provider, "_active_span_processor", None)
    lock = getattr(multi, "_lock", None)
    if type(multi) is not SynchronousMultiSpanProcessor or lock is None:
        return False
    with lock:
        if getattr(multi, "_span_processors", None) != (processor,):
            return False
        state = vars(multi)

        def add_then_detach(span_processor: SpanProcessor, *args: Any, **kwargs: Any) -> None:
            with lock:
                for name in (*_DIRECT, "add_span_processor"):
                    state.pop(name, None)
            SynchronousMultiSpanProcessor.add_span_processor(multi, span_processor, *args, **kwargs)

        for name in _DIRECT:
            state[name] = getattr(processor, name)
        state["add_span_processor"] = add_then_detach
    return True

