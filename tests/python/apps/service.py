"""One of two services the cross-service test runs as separate processes on loopback,
each exported through genkit_azure_rs under its own name.

    service.py inventory
    service.py storefront --downstream http://127.0.0.1:PORT

``inventory`` answers ``GET /stock/{item}`` and echoes the trace headers it received.
``storefront`` serves a Genkit flow (genkit-fastapi, ``POST /api/order``) that asks the
inventory over HTTP with httpx. Each prints ``LISTENING <port>``, serves until SIGTERM
(a graceful shutdown), then flushes and prints ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading

import httpx
import uvicorn
from _common import emit_result
from fastapi import FastAPI, Request
from genkit import Genkit
from genkit_fastapi import serve_flow

from genkit_azure_rs import AzureTelemetry

parser = argparse.ArgumentParser()
parser.add_argument("name", choices=["inventory", "storefront"])
parser.add_argument("--downstream")
args = parser.parse_args()

telemetry = AzureTelemetry(service_name=args.name, batch_delay_s=0.05)
telemetry.initialize()

app = FastAPI()

if args.name == "inventory":

    @app.get("/stock/{item}")
    async def stock(item: str, request: Request) -> dict[str, object]:
        return {
            "item": item,
            "count": 3,
            "traceparent": request.headers.get("traceparent"),
            "tracestate": request.headers.get("tracestate"),
        }

else:
    ai = Genkit()

    @ai.flow()
    async def order(item: str) -> dict[str, object]:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{args.downstream}/stock/{item}")
        response.raise_for_status()
        return {"ordered": item, "inventory_saw": response.json()}

    app.include_router(serve_flow(order), prefix="/api")

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", 0))
sock.listen(128)  # callers queue until uvicorn accepts
print(f"LISTENING {sock.getsockname()[1]}", flush=True)
server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
# Uvicorn in the main thread would re-raise SIGTERM after its graceful shutdown, ending
# the process before it flushes: serve from a thread and stop it on SIGTERM here.
signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
thread.start()
thread.join()
emit_result({"name": args.name, "flushed": telemetry.flush(timeout_s=10)})
sys.exit(0)
