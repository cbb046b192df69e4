"""A Genkit 0.12 agent (``ai.define_agent`` from ``genkit.exp``) as a user writes it,
exported through genkit_azure_rs, for Azure's Agents view (issue 13).

    genkit_agent.py [--no-reparenting] [--failing-tool] [--configured] [--flow-agent] [--evaluate]

``--configured`` maps the agent to a Foundry id, gives the model a price table and turns
``log_input_and_output`` on. ``--flow-agent`` runs ``support_flow`` (a plain flow asking the
same model about the weather, with the same tool) instead of the chat, presented as an agent
with ``agent_flows``. ``--evaluate`` also runs a Genkit evaluator over one test case after the
chat.

``weatherAgent`` has a fake model and a ``get_weather`` tool and keeps its session in an
in-memory store. The tool asks a weather service over HTTP (a server on 127.0.0.1 in this
process; ``urllib``'s OpenTelemetry instrumentation, on by default, traces the call): a span
Genkit did not make, inside the agent. One chat of two turns: the first asks for the weather (the model calls
the tool, then answers), the second says thanks (the model answers). Every model call
reports usage.

Prints ``RESULT {json}`` with the replies, the spans the app produced (recorded by a
second span processor), the usage its model reported, the session's id, and the sessions
the store holds.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _common import SpanRecorder, emit_result
from genkit import Message, ModelResponse, Part, Role, ToolRequest
from genkit.exp import Genkit, InMemorySessionStore
from genkit.model import ModelRequest, ModelUsage
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry

# Connection string from APPLICATIONINSIGHTS_CONNECTION_STRING.
CONFIGURED = "--configured" in sys.argv
#: USD per million input and output tokens.
PRICES = {"fake/agent-model": (0.3, 2.5)}
telemetry = AzureTelemetry(
    service_name="agent-app",
    batch_delay_s=0.05,
    enable_agent_reparenting="--no-reparenting" not in sys.argv,
    agent_ids={"weatherAgent": "asst_weather"} if CONFIGURED else None,
    model_prices=PRICES if CONFIGURED else None,
    log_input_and_output=CONFIGURED,
    agent_flows=["support_flow"] if "--flow-agent" in sys.argv else None,
)
telemetry.initialize()

recorder = SpanRecorder()
trace.get_tracer_provider().add_span_processor(recorder)  # type: ignore[attr-defined]

ai = Genkit()
reported_usage: list[dict[str, int]] = []


def usage(**counts: int) -> ModelUsage:
    reported_usage.append(counts)
    return ModelUsage(**counts)


async def agent_model(request: ModelRequest, ctx: object) -> ModelResponse:
    """Asks for the tool when the last message is the user's question about the weather;
    answers with the tool's output once it has it; otherwise says you're welcome."""
    last = request.messages[-1]
    answers = [part.tool_response for part in last.content if part.tool_response]
    said = "".join(part.text or "" for part in last.content)
    if answers:
        return ModelResponse(
            message=Message(role=Role.MODEL, content=[Part(text=f"It is {answers[0].output}.")]),
            usage=usage(input_tokens=30, output_tokens=7),
            finish_reason="stop",
        )
    if "forecast" in said.lower():
        return ModelResponse(
            message=Message(
                role=Role.MODEL,
                content=[Part(tool_request=ToolRequest(name="get_forecast", input="Paris", ref="call-2"))],
            ),
            usage=usage(input_tokens=20, output_tokens=5),
            finish_reason="stop",
        )
    if "weather" in said.lower():
        return ModelResponse(
            message=Message(
                role=Role.MODEL,
                content=[Part(tool_request=ToolRequest(name="get_weather", input="Paris", ref="call-1"))],
            ),
            usage=usage(input_tokens=12, output_tokens=4),
            finish_reason="stop",
        )
    return ModelResponse(
        message=Message(role=Role.MODEL, content=[Part(text="You're welcome.")]),
        usage=usage(input_tokens=50, output_tokens=3),
        finish_reason="stop",
    )


ai.define_model(name="fake/agent-model", fn=agent_model)


class WeatherService(BaseHTTPRequestHandler):
    """The weather service the tool asks: sunny everywhere."""

    def do_GET(self) -> None:
        body = f"sunny in {self.path.rsplit('/', 1)[-1]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


weather_service = ThreadingHTTPServer(("127.0.0.1", 0), WeatherService)
threading.Thread(target=weather_service.serve_forever, daemon=True).start()
WEATHER_URL = f"http://127.0.0.1:{weather_service.server_address[1]}/weather"


@ai.tool()
async def get_weather(city: str) -> str:
    """Current weather in a city."""
    with urllib.request.urlopen(f"{WEATHER_URL}/{city}", timeout=10) as answer:
        return answer.read().decode()


class ForecastUnavailable(Exception):
    """What the forecast tool raises."""


@ai.tool()
async def get_forecast(city: str) -> str:
    """Tomorrow's weather in a city (always unavailable)."""
    raise ForecastUnavailable(f"no forecast for {city}")


store: InMemorySessionStore[Any] = InMemorySessionStore()
agent = ai.define_agent(
    name="weatherAgent",
    model="fake/agent-model",
    system="You are a weather assistant.",
    tools=[get_weather, get_forecast],
    store=store,
)


async def relevance(datapoint: Any, options: Any) -> Any:
    from genkit.evaluator import EvalFnResponse, Score

    return EvalFnResponse(
        test_case_id=datapoint.test_case_id,
        evaluation=Score(score=0.8, status="PASS", details={"reasoning": "on topic"}),
    )


ai.define_evaluator(name="myeval/relevance", display_name="Relevance", definition="On topic?", fn=relevance)


@ai.flow()
async def support_flow(question: str) -> str:
    response = await ai.generate(model="fake/agent-model", prompt=question, tools=["get_weather"])
    return response.text


async def main() -> dict[str, Any]:
    if "--flow-agent" in sys.argv:
        return {"replies": [await support_flow("What is the weather in Paris?")], "session_id": None}
    chat = agent.chat()
    replies = []
    said_all = ["What is the weather in Paris?", "Thanks!"]
    if "--failing-tool" in sys.argv:
        said_all = ["What is the forecast for Paris?"]
    for said in said_all:
        try:
            response = await chat.send(said)
            replies.append(response.text)
        except Exception as e:  # a failing tool fails the turn
            replies.append(f"failed: {type(e).__name__}")
    if "--evaluate" in sys.argv:
        from genkit.evaluator import BaseDataPoint

        # Over the first turn's trace, as an evaluation run over an agent's traces names them.
        first_turn = next(
            s["trace_id"] for s in recorder.spans if s["attributes"].get("genkit:metadata:subtype") == "agent"
        )
        dataset = [
            BaseDataPoint(
                input="What is the weather in Paris?", output=replies[0], test_case_id="tc1", trace_ids=[first_turn]
            )
        ]
        await ai.evaluate(evaluator="myeval/relevance", dataset=dataset)
    # The sessions the store saved snapshots for (its own record of the conversation).
    stored = {snap.session_id or (snap.state.session_id if snap.state else None) for snap in store.snapshots.values()}
    return {"replies": replies, "session_id": getattr(chat, "session_id", None), "stored_sessions": sorted(stored)}


outcome = asyncio.run(main())
flushed = telemetry.flush(timeout_s=10)
emit_result(
    {**outcome, "flushed": flushed, "spans": recorder.spans, "usage": reported_usage, "prices": PRICES}
)
