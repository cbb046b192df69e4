"""Python host, synthetic workload (one variant per process; run by bench/run.py).

    python bench/py_synthetic.py --variant floor|official-lossless|official-defaults|ours
                                 --spans 100000 --connection-string "InstrumentationKey=...;IngestionEndpoint=http://127.0.0.1:PORT/"

Traces of 1 SERVER span and 4 INTERNAL/CLIENT children, 10 attributes each, created
through the OpenTelemetry API with ``start_as_current_span`` (as instrumented code
does), then a flush. The same workload as the Rust and C hosts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _worker_common import Variant, measure  # noqa: E402

GENKIT_NAMES = ("answer_flow", "generate", "fake-model", "lookup", "fetch")
GENKIT_PATHS = (
    "/{answer_flow,t:flow}",
    "/{answer_flow,t:flow}/{generate,t:util}",
    "/{answer_flow,t:flow}/{generate,t:util}/{fake-model,t:action,s:model}",
    "/{answer_flow,t:flow}/{generate,t:util}/{lookup,t:action,s:tool}",
    "/{answer_flow,t:flow}/{fetch,t:action}",
)
SUBTYPES = ("flow", "util", "model", "tool", "action")


def attributes(t: int, c: int) -> dict[str, object]:
    """The 10 attributes of span ``c`` (0 = the root) of trace ``t``."""
    return {
        "genkit:name": GENKIT_NAMES[c],
        "genkit:path": GENKIT_PATHS[c],
        "genkit:type": "action",
        "genkit:metadata:subtype": SUBTYPES[c],
        "genkit:state": "success",
        "app.request_id": f"req-{t:08d}",
        "app.user_id": f"user-{t % 1000}",
        "app.items": t % 50,
        "app.score": 0.25 * c,
        "app.cached": t % 2 == 0,
    }


def workload(spans: int) -> dict[str, object]:
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind

    children = (
        ("generate", SpanKind.INTERNAL),
        ("model/call", SpanKind.CLIENT),
        ("tool/lookup", SpanKind.INTERNAL),
        ("http GET", SpanKind.CLIENT),
    )
    tracer = trace.get_tracer("genkit-azure-bench")
    traces = spans // 5
    t0 = time.perf_counter()
    for t in range(traces):
        with tracer.start_as_current_span("POST /answer", kind=SpanKind.SERVER, attributes=attributes(t, 0)):
            for c, (name, kind) in enumerate(children, 1):
                with tracer.start_as_current_span(name, kind=kind, attributes=attributes(t, c)):
                    pass
    return {"loop_s": time.perf_counter() - t0, "spans_created": traces * 5, "traces": traces}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variant", required=True)
    p.add_argument("--spans", type=int, default=100_000)
    p.add_argument("--connection-string", required=True)
    a = p.parse_args()
    variant = Variant(a.variant, a.connection_string)
    measure(variant, lambda _: workload(a.spans), {"host": "python", "workload": "synthetic"})


if __name__ == "__main__":
    main()
