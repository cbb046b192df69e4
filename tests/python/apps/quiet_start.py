"""``initialize()`` with an endpoint that never answers: ``quiet_start.py blackhole|unroutable``.

``blackhole``: ingestion and Live Metrics on a loopback socket that listens but never
accepts (the kernel still completes a connection and queues it, so a non-blocking
``accept`` afterwards shows whether anything connected), with an Entra ID credential
that counts its calls and hangs for 3 s, as a metadata endpoint that never answers would. ``unroutable``: ingestion on an address no packet reaches
(10.255.255.1), Live Metrics on the blackhole. Both times construction and
``initialize()`` are timed and the listener is asked what came.
"""

from __future__ import annotations

import socket
import sys
import time
from typing import Any

from _common import emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

MODE = sys.argv[1]
IKEY = "33333333-4444-5555-6666-777777777777"

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("127.0.0.1", 0))
listener.listen(1)
listener.setblocking(False)
blackhole = f"http://127.0.0.1:{listener.getsockname()[1]}/"


class HangingCredential:
    calls = 0

    def get_token(self, *scopes: str) -> Any:
        HangingCredential.calls += 1
        time.sleep(3)
        return ("a-token-that-goes-nowhere", int(time.time()) + 3600)


if MODE == "blackhole":
    connection_string = f"InstrumentationKey={IKEY};IngestionEndpoint={blackhole};LiveEndpoint={blackhole}"
    credential: HangingCredential | None = HangingCredential()
else:
    connection_string = f"InstrumentationKey={IKEY};IngestionEndpoint=https://10.255.255.1/;LiveEndpoint={blackhole}"
    credential = None


def connections() -> int:
    seen = 0
    while True:
        try:
            conn, _ = listener.accept()
        except BlockingIOError:
            return seen
        conn.close()
        seen += 1


t0 = time.perf_counter()
telemetry = AzureTelemetry(connection_string=connection_string, credential=credential, request_timeout_s=30)
t1 = time.perf_counter()
telemetry.initialize()
t2 = time.perf_counter()
calls_during_start = HangingCredential.calls
seen_during_start = connections()
with trace.get_tracer("quiet").start_as_current_span("after-start"):
    pass
emit_result(
    {
        "construct_s": t1 - t0,
        "initialize_s": t2 - t1,
        "connections_during_start": seen_during_start,
        "credential_calls_during_start": calls_during_start,
    }
)
telemetry.shutdown(0.2)
