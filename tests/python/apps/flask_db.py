"""A Flask app that reads PostgreSQL through psycopg, called over HTTP with requests,
exported through genkit_azure_rs with the instrumentations ``initialize()`` enables.

    flask_db.py --dsn "host=... port=..." [--disable LIB ...] [--missing LIB ...]

``--disable`` turns a library's instrumentation off through ``instrumentation_options``;
``--missing`` makes its instrumentation package unimportable, as if it were not
installed; ``--broken`` hands its instrumentor an option it fails on. ``initialize()`` comes before ``from flask import Flask``, as the README
asks. Werkzeug serves on a free loopback port in a thread; the app calls its route with
requests, flushes and prints ``RESULT {json}`` with the answers, the instrumentations'
states and the spans it produced.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from _common import SpanRecorder, emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

parser = argparse.ArgumentParser()
parser.add_argument("--dsn", required=True)
parser.add_argument("--disable", action="append", default=[])
parser.add_argument("--missing", action="append", default=[])
parser.add_argument("--broken", action="append", default=[])
args = parser.parse_args()

for name in args.missing:
    sys.modules[f"opentelemetry.instrumentation.{name}"] = None  # type: ignore[assignment]

reports: list[str] = []


class Collect(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        reports.append(record.getMessage())


logging.getLogger("genkit_azure_rs").addHandler(Collect(logging.WARNING))

telemetry = AzureTelemetry(
    service_name="menu-db",
    batch_delay_s=0.05,
    instrumentation_options={
        **{name: {"enabled": False} for name in args.disable},
        **{name: {"tracer_provider": "not a tracer provider"} for name in args.broken},
    },
)
telemetry.initialize()
recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]

import psycopg  # noqa: E402
import requests  # noqa: E402
from flask import Flask, jsonify  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

app = Flask(__name__)
QUERY = "SELECT name, price FROM menu WHERE id = %s"


@app.get("/menu/<int:item_id>")
def menu_item(item_id: int):  # type: ignore[no-untyped-def]
    with psycopg.connect(args.dsn) as conn:
        row = conn.execute(QUERY, (item_id,)).fetchone()
    if row is None:
        return jsonify({"error": "no such item"}), 404
    return jsonify({"name": row[0], "price": float(row[1])})


server = make_server("127.0.0.1", 0, app, threaded=True)
port = server.server_port
thread = threading.Thread(target=server.serve_forever, daemon=True)
thread.start()

answers = {}
with requests.Session() as session:
    for item in (1, 99):
        response = session.get(f"http://127.0.0.1:{port}/menu/{item}", timeout=10)
        answers[str(item)] = {"status": response.status_code, "body": response.json()}

server.shutdown()
thread.join(timeout=10)
flushed = telemetry.flush(timeout_s=10)
emit_result(
    {
        "port": port,
        "answers": answers,
        "flushed": flushed,
        "instrumentations": telemetry.instrumentations,
        "reports": reports,
        "spans": recorder.spans,
    }
)
