"""A Genkit flow served by FastAPI (genkit-fastapi) that calls another HTTP service
with httpx, exported through genkit_azure_rs with the instrumentations
``initialize()`` enables.

The called service is a stdlib ``http.server`` on loopback (``/stock/<item>``: 200,
``/stock/gone``: 503). The app is driven with ``http.client``, which no
instrumentation traces, as a browser would be: a call, a call whose downstream
fails, a health check (excluded by the test through ``OTEL_PYTHON_EXCLUDED_URLS``),
a call carrying only a classic ``Request-Id``, one carrying a legacy ``Request-Id`` (no
W3C trace id in it) and one carrying both a ``traceparent`` and a ``Request-Id``. It also talks to the ingestion endpoint's host itself with
requests, urllib3, httpx and urllib (none of it may be traced), flushes several
times with the root logger at INFO, and prints ``RESULT {json}``.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn
from _common import SpanRecorder, emit_result
from fastapi import FastAPI
from genkit import Genkit
from genkit_fastapi import serve_flow
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

logging.basicConfig(level=logging.INFO)  # the root logger at INFO, as apps often have it
telemetry = AzureTelemetry(service_name="stock-api", batch_delay_s=0.05, log_level=logging.INFO)
telemetry.initialize()
recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]

import requests  # noqa: E402
import urllib3  # noqa: E402


class Warehouse(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        item = self.path.rsplit("/", 1)[-1]
        status, body = (503, {"error": "warehouse offline"}) if item == "gone" else (200, {"item": item, "count": 3})
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


warehouse = ThreadingHTTPServer(("127.0.0.1", 0), Warehouse)
threading.Thread(target=warehouse.serve_forever, daemon=True).start()
WAREHOUSE = f"http://127.0.0.1:{warehouse.server_port}"

ai = Genkit()


@ai.flow()
async def check_stock(item: str) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{WAREHOUSE}/stock/{item}")
    if response.status_code != 200:
        return f"{item}: stock unknown"
    return f"{item}: {response.json()['count']} left"


app = FastAPI()
app.include_router(serve_flow(check_stock), prefix="/api")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
thread.start()
deadline = time.monotonic() + 10
while not server.started and time.monotonic() < deadline:
    time.sleep(0.01)


def call(method: str, path: str, body: object | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    answer = {"status": response.status, "body": json.loads(response.read())}
    connection.close()
    return answer


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
answers = {
    "pasta": call("POST", "/api/check_stock", {"data": "pasta"}),
    "gone": call("POST", "/api/check_stock", {"data": "gone"}),
    "healthz": call("GET", "/healthz"),
    "request-id": call("POST", "/api/check_stock", {"data": "rice"},
                       {"Request-Id": f"|{TRACE}.00f067aa0ba902b7."}),
    "legacy": call("POST", "/api/check_stock", {"data": "salt"}, {"Request-Id": "|abc123.1."}),
    "both": call("POST", "/api/check_stock", {"data": "beans"},
                 {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                  "Request-Id": f"|{TRACE}.00f067aa0ba902b7."}),
}

# The server ends its request spans after the responses went out: wait for the five.
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    if sum(1 for s in recorder.spans if s["attributes"].get("http.route")) >= 5:
        break
    time.sleep(0.01)
server.should_exit = True
thread.join(timeout=10)

# Anything in the process that talks to the ingestion endpoint's host is not traced,
# whichever client it uses; and sending telemetry (several rounds of it) is never
# itself reported, in spans or in logs.
emulator = os.environ["EMULATOR_URL"]
requests.get(f"{emulator}/stats", timeout=10).raise_for_status()
urllib3.PoolManager().request("GET", f"{emulator}/stats")
httpx.get(f"{emulator}/stats").raise_for_status()
with urllib.request.urlopen(f"{emulator}/stats", timeout=10) as r:
    r.read()
flushes = []
for _ in range(5):
    logging.getLogger("stock.api").info("flushing")
    flushes.append(telemetry.flush(timeout_s=10))
    time.sleep(0.1)

emit_result(
    {
        "warehouse": WAREHOUSE,
        "port": port,
        "answers": answers,
        "flushed": all(flushes),
        "instrumentations": telemetry.instrumentations,
        "spans": recorder.spans,
        "stats": telemetry.stats(),
    }
)
