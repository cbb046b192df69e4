"""A small Genkit app instrumented with genkit_azure_rs, as a user would write it.

A fake model that first asks for a tool and then answers (reporting token usage), a
tool, a flow that generates with the tool, and a flow that fails. Logs go through both
structlog (Genkit's logger) and stdlib logging. Prints ``RESULT {json}`` with the spans
the app produced (recorded by a second span processor) and where each log was emitted.
"""

from __future__ import annotations

import logging

import structlog
from _common import SpanRecorder, current_ids, emit_result
from genkit import Genkit, Message, ModelResponse, Part, Role, ToolRequest
from genkit.model import ModelRequest, ModelUsage
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

# Connection string from APPLICATIONINSIGHTS_CONNECTION_STRING.
telemetry = AzureTelemetry(service_name="weather-app", service_version="2.3.4", batch_delay_s=0.05)
telemetry.initialize()

recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]

ai = Genkit()
log = logging.getLogger("weather.app")
slog = structlog.get_logger("weather.tool")
emitted: list[dict[str, object]] = []


def note(message: str) -> None:
    emitted.append({"message": message, **current_ids()})


async def fake_model(request: ModelRequest, ctx: object) -> ModelResponse:
    answered = any(part.tool_response for message in request.messages for part in message.content)
    if not answered:
        return ModelResponse(
            message=Message(
                role=Role.MODEL,
                content=[Part(tool_request=ToolRequest(name="get_weather", input="Paris", ref="call-1"))],
            ),
            usage=ModelUsage(input_tokens=12, output_tokens=4),
            finish_reason="stop",
        )
    return ModelResponse(
        message=Message(role=Role.MODEL, content=[Part(text="It is sunny in Paris.")]),
        usage=ModelUsage(input_tokens=30, output_tokens=7),
        finish_reason="stop",
    )


ai.define_model(name="fake/weather-model", fn=fake_model)


@ai.tool()
async def get_weather(city: str) -> str:
    """Current weather in a city."""
    slog.info("weather tool called", city=city)
    note("weather tool called")
    return f"Sunny in {city}"


@ai.flow()
async def weather_flow(city: str) -> str:
    log.warning("planning weather answer for %s", city, extra={"city": city})
    note(f"planning weather answer for {city}")
    response = await ai.generate(model="fake/weather-model", prompt=f"Weather in {city}?", tools=["get_weather"])
    return response.text


@ai.flow()
async def failing_flow(reason: str) -> str:
    log.error("about to fail: %s", reason)
    note(f"about to fail: {reason}")
    raise ValueError(f"flow exploded: {reason}")


async def main() -> dict[str, object]:
    answer = await weather_flow("Paris")
    error = None
    try:
        await failing_flow("no forecast")
    except Exception as e:  # noqa: BLE001
        error = f"{type(e).__name__}: {e}"
    log.warning("outside any span")
    note("outside any span")
    return {"answer": answer, "error": error}


outcome = ai.run_main(main())
flushed = telemetry.flush(timeout_s=10)
emit_result(
    {
        **(outcome or {}),
        "flushed": flushed,
        "spans": recorder.spans,
        "logs": emitted,
        "stats": telemetry.stats(),
    }
)
