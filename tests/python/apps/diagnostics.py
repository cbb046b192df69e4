"""The core's diagnostics in a Python process: ``diagnostics.py logging|unconfigured``.

One pipeline exports to the emulator with the log handler on the root logger; a second
one sends to a port where nothing listens, so the core says why delivery fails. With
``logging``, the root logger also has a handler that collects every record; with
``unconfigured``, logging is left as Python starts it.
"""

from __future__ import annotations

import logging
import socket
import sys
import time

from _common import emit_result

from genkit_azure_rs import AzureTelemetry

MODE = sys.argv[1]
records: list[dict[str, str]] = []


class Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        records.append({"logger": record.name, "level": record.levelname, "message": record.getMessage()})


if MODE == "logging":
    logging.getLogger().addHandler(Collect())

telemetry = AzureTelemetry(service_name="diagnostics", batch_delay_s=0.05).initialize()

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
dead = AzureTelemetry(
    connection_string=f"InstrumentationKey=22222222-3333-4444-5555-666666666666;"
    f"IngestionEndpoint=http://127.0.0.1:{dead_port}/",
    enable_live_metrics=False,
    disable_offline_storage=True,
    retry_base_delay_s=0.01,
    request_timeout_s=1,
)
dead.track_event("doomed")
dead.flush(1.0)

logging.getLogger("app").warning("app-record")
deadline = time.monotonic() + 5
while MODE == "logging" and not any(r["logger"] == "genkit_azure_rs" for r in records):
    if time.monotonic() > deadline:
        break
    time.sleep(0.05)
if MODE == "unconfigured":
    time.sleep(1.0)  # the diagnostics thread writes to stderr on its own time
flushed = telemetry.flush(5)
emit_result({"records": records, "flushed": flushed})
dead.shutdown(0.1)
telemetry.shutdown()
