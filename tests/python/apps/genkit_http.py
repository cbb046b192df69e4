"""A Genkit 0.12 flow served over HTTP by FastAPI, exported through genkit_azure_rs.

    genkit_http.py [--instrument]

The flow is mounted twice, as users do: with ``genkit_fastapi.serve_flow`` (``POST
/api/weather_flow``, Genkit's wire format) and from a plain FastAPI route (``GET
/weather/{city}``). FastAPI traces requests itself through the OpenTelemetry API;
``--instrument`` also applies ``opentelemetry-instrumentation-fastapi``, as an app that
already used it would. Uvicorn serves on a free loopback port in a thread; the app then
calls both routes over real HTTP, waits until the server has ended its spans, flushes,
and prints ``RESULT {json}`` with the responses, the spans it produced (recorded by a
second span processor) and where each log was emitted.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import threading
import time
import urllib.request
from typing import Any

import structlog
import uvicorn
from _common import SpanRecorder, current_ids, emit_result
from fastapi import FastAPI
from genkit import Genkit, Message, ModelResponse, Part, Role, ToolRequest
from genkit.model import ModelRequest, ModelUsage
from genkit_fastapi import serve_flow
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

parser = argparse.ArgumentParser()
parser.add_argument("--instrument", action="store_true")
args = parser.parse_args()

# The app calls its own routes with urllib below, playing the browser: those calls are
# not this service's dependencies, so urllib's instrumentation stays off.
telemetry = AzureTelemetry(
    service_name="weather-api", batch_delay_s=0.05, instrumentation_options={"urllib": {"enabled": False}}
)
telemetry.initialize()
recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]

ai = Genkit()
log = logging.getLogger("weather.api")
slog = structlog.get_logger("weather.tool")
emitted: list[dict[str, Any]] = []


def note(message: str) -> None:
    emitted.append({"message": message, **current_ids()})


async def weather_model(request: ModelRequest, ctx: object) -> ModelResponse:
    answers = [part.tool_response for message in request.messages for part in message.content if part.tool_response]
    if not answers:
        return ModelResponse(
            message=Message(
                role=Role.MODEL,
                content=[Part(tool_request=ToolRequest(name="get_weather", input="Paris", ref="call-1"))],
            ),
            usage=ModelUsage(input_tokens=12, output_tokens=4),
            finish_reason="stop",
        )
    return ModelResponse(
        message=Message(role=Role.MODEL, content=[Part(text=f"It is {answers[0].output} now.")]),
        usage=ModelUsage(input_tokens=30, output_tokens=7),
        finish_reason="stop",
    )


ai.define_model(name="fake/weather-model", fn=weather_model)


@ai.tool()
async def get_weather(city: str) -> str:
    """Current weather in a city."""
    slog.info("weather tool called", city=city)
    note("weather tool called")
    return f"sunny in {city}"


@ai.flow()
async def weather_flow(city: str) -> str:
    log.warning("planning weather answer for %s", city)
    note(f"planning weather answer for {city}")
    response = await ai.generate(model="fake/weather-model", prompt=f"Weather in {city}?", tools=["get_weather"])
    return response.text


app = FastAPI()
app.include_router(serve_flow(weather_flow), prefix="/api")


@app.get("/weather/{city}")
async def weather(city: str) -> dict[str, str]:
    return {"answer": await weather_flow(city)}


if args.instrument:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app)

# Serve on a free loopback port.
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


def call(method: str, path: str, body: object | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return {"status": response.status, "body": json.load(response)}


responses = {
    "POST /api/weather_flow": call("POST", "/api/weather_flow", {"data": "Paris"}),
    "GET /weather/{city}": call("GET", "/weather/Paris"),
}

# The server ends its request span after the response is sent: wait for both.
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    if len([s for s in recorder.spans if s["parent_id"] is None]) >= len(responses):
        break
    time.sleep(0.01)
server.should_exit = True
thread.join(timeout=10)

flushed = telemetry.flush(timeout_s=10)
emit_result(
    {
        "responses": responses,
        "flushed": flushed,
        "spans": recorder.spans,
        "logs": emitted,
        "stats": telemetry.stats(),
    }
)
