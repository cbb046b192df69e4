"""16 Python threads emit spans and logs while others flush, then one shuts the
pipeline down while they are still emitting: ``stress.py``.

Prints what was emitted and accepted, whether every thread finished (a deadlock
would leave some alive), and what flush and shutdown answered.
"""

from __future__ import annotations

import logging
import threading
import time

from _common import emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry, TelemetryShutDownError

EMITTERS = 16
FLUSHERS = 4
BEFORE_SHUTDOWN = 150  # per emitter, all accepted

telemetry = AzureTelemetry(service_name="stress", batch_delay_s=0.02, enable_live_metrics=False).initialize()
tracer = trace.get_tracer("stress")
log = logging.getLogger("app.stress")
lock = threading.Lock()
emitted = {"spans": 0}
half_done = threading.Barrier(EMITTERS + 1)
stop = threading.Event()
flush_answers: list[str] = []


def emitter(n: int) -> None:
    i = 0
    while True:
        if i == BEFORE_SHUTDOWN:
            half_done.wait()
        if i >= BEFORE_SHUTDOWN and (stop.is_set() or i >= 10 * BEFORE_SHUTDOWN):
            return
        with tracer.start_as_current_span(f"s-{n}-{i}"):
            log.warning("l-%d-%d", n, i)
        with lock:
            emitted["spans"] += 1
        i += 1


def flusher() -> None:
    while not stop.is_set():
        try:
            answer = str(telemetry.flush(5.0))
        except TelemetryShutDownError:
            answer = "shut down"
        with lock:
            flush_answers.append(answer)
        if answer == "shut down":
            return


threads = [threading.Thread(target=emitter, args=(n,)) for n in range(EMITTERS)]
threads += [threading.Thread(target=flusher) for _ in range(FLUSHERS)]
for t in threads:
    t.start()
half_done.wait(30)  # every emitter has emitted BEFORE_SHUTDOWN spans
stats_before = telemetry.stats()
t0 = time.monotonic()
shut_down = telemetry.shutdown(20.0)  # while emitters and flushers go on
shutdown_s = time.monotonic() - t0
stop.set()
for t in threads:
    t.join(30)
emit_result(
    {
        "alive": sum(t.is_alive() for t in threads),
        "emitted_spans": emitted["spans"],
        "spans_accepted_before": stats_before["spans_accepted"],
        "stats": telemetry.stats(),
        "shut_down": shut_down,
        "shutdown_s": shutdown_s,
        "flush_answers": sorted(set(flush_answers)),
    }
)
