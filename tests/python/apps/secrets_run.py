"""A run where everything fails, for the secrets test: ``secrets_run.py logging|unconfigured``.

One pipeline sends to the emulator with Entra ID, whose credential returns a token the
emulator refuses (401 every time); another sends to a port where nothing listens; a
third connection string is malformed. With ``logging``, every record of every logger
down to DEBUG is formatted (exception text included) and printed; with
``unconfigured``, logging is left as Python starts it. ``repr``s, stats and the error
are printed too. The test then greps all of it for the keys and the tokens.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from typing import Any

from _common import emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

MODE = sys.argv[1]
WRONG_TOKEN = os.environ["WRONG_TOKEN"]
DEAD_IKEY = os.environ["DEAD_IKEY"]
records: list[str] = []


class Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        records.append(logging.Formatter("%(name)s %(levelname)s %(message)s").format(record))


if MODE == "logging":
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(Collect(logging.DEBUG))


class WrongCredential:
    def get_token(self, *scopes: str) -> Any:
        return (WRONG_TOKEN, int(time.time()) + 3600)


refused = AzureTelemetry(
    connection_string=os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] + ";Authorization=AAD",
    credential=WrongCredential(),
    disable_offline_storage=True,
    batch_delay_s=0.05,
    retry_base_delay_s=0.01,
    retry_max_delay_s=0.05,
    log_level=logging.DEBUG,
).initialize()
with trace.get_tracer("secrets").start_as_current_span("refused-span"):
    logging.getLogger("app").warning("a record that is refused")
refused_flushed = refused.flush(2.0)

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    dead_port = s.getsockname()[1]
dead = AzureTelemetry(
    connection_string=f"InstrumentationKey={DEAD_IKEY};IngestionEndpoint=http://127.0.0.1:{dead_port}/",
    enable_live_metrics=False,
    disable_offline_storage=True,
    retry_base_delay_s=0.01,
    request_timeout_s=1,
)
dead.track_event("doomed")
dead_flushed = dead.flush(1.0)

try:
    AzureTelemetry(connection_string=f"InstrumentationKey={DEAD_IKEY};IngestionEndpoint=ftp://nowhere")
    error = "no error"
except ValueError as e:
    logging.getLogger("app").exception("the connection string was refused")
    error = f"{e!r} {e}"

time.sleep(0.5)  # diagnostics reach logging from a thread of their own
print(repr(refused), repr(dead), refused.stats(), dead.stats(), refused.resource)
emit_result(
    {
        "records": records,
        "error": error,
        "refused_flushed": refused_flushed,
        "dead_flushed": dead_flushed,
    }
)
dead.shutdown(0.1)
refused.shutdown(0.1)
