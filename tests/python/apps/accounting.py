"""Every item accounted for, whatever the service answers.

For each answer the test names (200, a mixed 206, 400, 401, 403, 404, 413, 429, 500, a
connection reset), the app installs it at the emulator (``POST /faults``), emits spans
and logs through the real SDK and Python logging, flushes, and records the counters.
The test checks ``accepted == delivered + persisted + rejected + dropped`` after each.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import urllib.request
from pathlib import Path

from _common import emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

telemetry = AzureTelemetry(
    service_name="accounting",
    batch_delay_s=0.02,
    max_batch_size=4,
    storage_directory=Path.cwd() / "offline",
    log_level=logging.INFO,
)
telemetry.initialize()
tracer = trace.get_tracer("accounting-app")
log = logging.getLogger("accounting")


def faults(plan: object) -> None:
    request = urllib.request.Request(
        os.environ["EMULATOR_URL"] + "/faults",
        data=json.dumps(plan).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


PLANS: dict[str, object] = {
    "200": [200],
    "206": [{"status": 206, "item_errors": {"0": 500, "1": 400}}],
    "400": {"steps": [400], "repeat": True},
    "401": [401, 200],
    "403": [403, 200],
    "404": {"steps": [404], "repeat": True},
    "413": [413],
    "429": [{"status": 429, "retry_after": "0"}],
    "500": [500],
    "reset": [{"reset": True}],
}

phases = []
for name in sys.argv[1:]:
    faults(PLANS[name])
    for i in range(6):
        with tracer.start_as_current_span(f"{name} request {i}"):
            log.info("%s log %d", name, i)
    flushed = telemetry.flush(timeout_s=20)
    faults([])
    phases.append({"answer": name, "flushed": flushed, "stats": telemetry.stats()})
emit_result({"phases": phases})
telemetry.shutdown(timeout_s=10)
