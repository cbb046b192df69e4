"""A Genkit 0.12 app as a user writes it, exported through genkit_azure_rs, for the
Genkit semantics of issue 9 (operations, GenAI dependencies, metrics, privacy, options).

    genkit_semantics.py SCENARIO [--runs N] [--log-input-and-output]
                                [--disable traces|metrics|logs] [--no-force-dev-export]

Scenarios:

* ``weather``: ``weather_flow`` looks the city up in a cache (a span of its own, made
  with the OpenTelemetry tracer, not by Genkit), then generates with a fake model that
  first asks for the ``get_weather`` tool and then answers; both model calls report
  usage (thoughts and cached tokens too). The flow logs through stdlib ``logging``, the
  tool through stdlib and structlog.
* ``failing_tool``: ``forecast_flow`` generates with a tool that raises, and fails.
* ``secret``: ``echo_flow`` sends a prompt to a model that echoes it back, called with
  a context naming the tenant.
* ``huge``: the same with a 20,000-character prompt of multi-byte text.

Under ``GENKIT_ENV=dev`` the app also runs a local stand-in for the Genkit CLI's
telemetry server, so Genkit's own dev span processor (which exports each span when it
starts and again when it ends) is really at work next to ours.

Prints ``RESULT {json}`` with what the app saw: flow outcomes, the spans it produced
(recorded by a second span processor), where each log was emitted, the model usage it
reported, the prompts it sent, and the telemetry's stats and exported signals.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import logging
import os
import threading
import time
from typing import Any

import structlog
from _common import SpanRecorder, current_ids, emit_result

parser = argparse.ArgumentParser()
parser.add_argument("scenario", choices=["weather", "failing_tool", "secret", "huge"])
parser.add_argument("--runs", type=int, default=1)
parser.add_argument("--log-input-and-output", action="store_true")
parser.add_argument("--disable", choices=["traces", "metrics", "logs"], action="append", default=[])
parser.add_argument("--no-force-dev-export", action="store_true")
args = parser.parse_args()


class DevTelemetryServer(http.server.BaseHTTPRequestHandler):
    """What ``genkit start`` runs for the Dev UI: it takes spans as JSON POSTs."""

    posts: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        DevTelemetryServer.posts.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


dev_mode = os.environ.get("GENKIT_ENV") == "dev"
if dev_mode:
    dev_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DevTelemetryServer)
    threading.Thread(target=dev_server.serve_forever, daemon=True).start()
    os.environ["GENKIT_TELEMETRY_SERVER"] = f"http://127.0.0.1:{dev_server.server_address[1]}"

# Imported after GENKIT_TELEMETRY_SERVER is set: in dev mode Genkit adds its dev
# processor at import.
from genkit import Genkit, Message, ModelResponse, Part, Role, ToolRequest  # noqa: E402
from genkit.model import ModelRequest, ModelUsage  # noqa: E402
from opentelemetry import trace  # noqa: E402

from genkit_azure_rs import AzureTelemetry  # noqa: E402

# Connection string from APPLICATIONINSIGHTS_CONNECTION_STRING.
telemetry = AzureTelemetry(
    service_name="weather-app",
    batch_delay_s=0.05,
    log_input_and_output=args.log_input_and_output,
    force_dev_export=not args.no_force_dev_export,
    disable_traces="traces" in args.disable,
    disable_metrics="metrics" in args.disable,
    disable_logs="logs" in args.disable,
)
telemetry.initialize()

recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]

ai = Genkit()
tracer = trace.get_tracer("weather.cache")
log = logging.getLogger("weather.app")
slog = structlog.get_logger("weather.tool")
emitted: list[dict[str, Any]] = []
reported_usage: list[dict[str, int]] = []
prompts: list[str] = []


def note(message: str) -> None:
    emitted.append({"message": message, **current_ids()})


def usage(**counts: int) -> ModelUsage:
    reported_usage.append(counts)
    return ModelUsage(**counts)


async def weather_model(request: ModelRequest, ctx: object) -> ModelResponse:
    """Asks for a tool until it has its answer, then answers with it."""
    answers = [part.tool_response for message in request.messages for part in message.content if part.tool_response]
    if not answers:
        tool = "get_weather" if args.scenario == "weather" else "get_forecast"
        return ModelResponse(
            message=Message(
                role=Role.MODEL,
                content=[Part(tool_request=ToolRequest(name=tool, input="Paris", ref="call-1"))],
            ),
            usage=usage(input_tokens=12, output_tokens=4, thoughts_tokens=3, cached_content_tokens=5),
            finish_reason="stop",
        )
    return ModelResponse(
        message=Message(role=Role.MODEL, content=[Part(text=f"It is {answers[0].output} now.")]),
        usage=usage(input_tokens=30, output_tokens=7, thoughts_tokens=2, cached_content_tokens=10),
        finish_reason="stop",
    )


async def echo_model(request: ModelRequest, ctx: object) -> ModelResponse:
    said = "".join(part.text or "" for message in request.messages for part in message.content)
    return ModelResponse(
        message=Message(role=Role.MODEL, content=[Part(text=f"You said: {said}")]),
        usage=usage(input_tokens=len(said), output_tokens=len(said) + 10),
        finish_reason="stop",
    )


ai.define_model(name="fake/weather-model", fn=weather_model)
ai.define_model(name="fake/echo", fn=echo_model)


@ai.tool()
async def get_weather(city: str) -> str:
    """Current weather in a city."""
    log.info("looking up the weather in %s", city)
    note(f"looking up the weather in {city}")
    slog.info("weather tool called", city=city)
    note("weather tool called")
    return f"sunny in {city}"


@ai.tool()
async def get_forecast(city: str) -> str:
    """Tomorrow's forecast for a city."""
    raise ConnectionError(f"forecast service unreachable for {city}")


@ai.flow()
async def weather_flow(city: str) -> str:
    log.warning("planning weather answer for %s", city)
    note(f"planning weather answer for {city}")
    with tracer.start_as_current_span("cache lookup") as span:
        span.set_attribute("cache.key", city)
    response = await ai.generate(model="fake/weather-model", prompt=f"Weather in {city}?", tools=["get_weather"])
    return response.text


@ai.flow()
async def forecast_flow(city: str) -> str:
    response = await ai.generate(model="fake/weather-model", prompt=f"Forecast for {city}?", tools=["get_forecast"])
    # Genkit 0.12 hands a failed tool back in the response instead of raising.
    if response.error:
        raise RuntimeError(f"no forecast: {response.error.message}")
    return response.text


@ai.flow()
async def echo_flow(prompt: str) -> str:
    prompts.append(prompt)
    response = await ai.generate(model="fake/echo", prompt=prompt)
    return response.text


# Markers no telemetry field would contain by chance.
SECRET = "the launch code is 7-SWORDFISH-42"
TENANT = "tenant-ACME-0451"
# 20,000 characters of 2-, 3- and 4-byte UTF-8, so a cut at any byte would break one.
HUGE = ("żółw 🐢 日本語 " * 2000)[:20000]


async def main() -> dict[str, Any]:
    outcomes: list[str] = []
    for _ in range(args.runs):
        try:
            if args.scenario == "weather":
                outcomes.append(await weather_flow("Paris"))
            elif args.scenario == "failing_tool":
                outcomes.append(await forecast_flow("Paris"))
            elif args.scenario == "secret":
                # The caller's context (who is asking) rides on the spans as genkit:metadata:context.
                outcomes.append((await echo_flow.run(SECRET, context={"tenant": TENANT})).response)
            else:
                outcomes.append(await echo_flow(HUGE))
        except Exception as e:  # noqa: BLE001
            outcomes.append(f"{type(e).__name__}: {e}")
    return {"outcomes": outcomes}


# ai.run_main would keep serving the Dev UI in dev mode; this app just runs and ends.
outcome = asyncio.run(main())
flushed = telemetry.flush(timeout_s=10)
if dev_mode:
    # Genkit's dev exporter posts from a thread of its own (and its processor's
    # force_flush does not wait for it): give it time to post each span twice.
    deadline = time.monotonic() + 5
    while len(DevTelemetryServer.posts) < 2 * len(recorder.spans) and time.monotonic() < deadline:
        time.sleep(0.01)
emit_result(
    {
        **outcome,
        "flushed": flushed,
        "exports": telemetry._native.exports,
        "spans": recorder.spans,
        "logs": emitted,
        "usage": reported_usage,
        "prompts": prompts,
        "dev_posts": len(DevTelemetryServer.posts),
        "stats": telemetry.stats(),
    }
)
