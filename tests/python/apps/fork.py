"""A process that forks after ``initialize()``: ``fork.py os_fork`` or ``fork.py pool``.

The parent queues a span and a log, forks children (``os.fork()`` twice, or a
``multiprocessing`` "fork" pool of 3 running 6 tasks) that each make their own, then
makes more. The batch delay is a minute, so what the parent queued before the fork is
still in its queue when it forks, and its span is still held by the span processor
(which converts ended spans sixteen at a time): a child that sent its inherited queue or
converted the spans it inherited held would send them twice.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading

from _common import emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

MODE = sys.argv[1]

telemetry = AzureTelemetry(service_name="forker", batch_delay_s=60).initialize()
tracer = trace.get_tracer("fork-test")
log = logging.getLogger("app.fork")


def work(tag: str) -> int:
    with tracer.start_as_current_span(f"span-{tag}"):
        log.warning("log-%s", tag)
    return os.getpid()


work("parent-before")
children: list[int] = []
statuses: list[int] = []
if MODE == "os_fork":
    for i in range(2):
        pid = os.fork()
        if pid == 0:
            work(f"child-{i}")
            # The thread that bounds how long ended spans are held did not survive the
            # fork: the child runs its own (a long-lived worker would hold its spans
            # until it exits otherwise). Exit status 3 says it does not.
            held = any(t.name == "genkit-azure-held-spans" for t in threading.enumerate())
            # A normal exit: atexit shuts the child's own pipeline down, delivering.
            sys.exit(0 if held else 3)
        children.append(pid)
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
elif MODE == "pool":
    pool = multiprocessing.get_context("fork").Pool(3)
    children = sorted(set(pool.map(work, [f"child-{i}" for i in range(6)], chunksize=1)))
    # close + join: the workers end normally (terminate() would kill them unsent).
    pool.close()
    pool.join()
else:
    raise SystemExit(f"unknown mode {MODE}")

work("parent-after")
flushed = telemetry.flush(10)
emit_result(
    {
        "parent": os.getpid(),
        "children": children,
        "statuses": statuses,
        "flushed": flushed,
        "stats": telemetry.stats(),
    }
)
telemetry.shutdown()
