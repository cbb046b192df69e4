"""Python host, Genkit workload (one variant per process; run by bench/run.py).

    python bench/py_genkit.py --variant floor|official-lossless|official-defaults|ours
                              --runs 1000 --connection-string "..."

A real Genkit app (genkit 0.12.0): a fake model defined with ``ai.define_model``
that first asks for a tool and then answers (reporting token usage), a tool, and a
flow that generates with the tool. The flow runs ``--runs`` times, one after the
other, inside ``ai.run_main``. Telemetry is set up before ``Genkit()`` is created,
so Genkit traces into the variant's provider (the floor: a plain SDK
TracerProvider without processors). A wrapper around the SDK's ``Tracer.start_span``
(one integer increment per span, in every variant) counts the spans Genkit created,
sampled or not.
"""

# No `from __future__ import annotations`: Genkit reads the fake model's and the tool's
# annotations at definition time, and they name types imported inside App.__init__.
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _worker_common import Variant, measure  # noqa: E402


class App:
    """The Genkit app, built after the variant's telemetry is set up (untimed)."""

    def __init__(self) -> None:
        from genkit import Genkit, Message, ModelResponse, Part, Role, ToolRequest
        from genkit.model import ModelRequest, ModelUsage
        from opentelemetry.sdk import trace as sdk_trace

        # Counts every span Genkit starts, sampled or not (a span processor would see only
        # the sampled ones, and the official distro's default sampler drops most).
        counter = self.counter = [0]
        start_span = sdk_trace.Tracer.start_span

        def counted_start_span(tracer: object, *args: object, **kwargs: object) -> object:
            counter[0] += 1
            return start_span(tracer, *args, **kwargs)  # type: ignore[arg-type]

        sdk_trace.Tracer.start_span = counted_start_span  # type: ignore[method-assign]

        ai = Genkit()

        async def fake_model(request: ModelRequest, ctx: object) -> ModelResponse:
            answered = any(part.tool_response for message in request.messages for part in message.content)
            if not answered:
                return ModelResponse(
                    message=Message(
                        role=Role.MODEL,
                        # The tool takes one `str`, so its input is the bare string.
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
            return f"Sunny in {city}"

        @ai.flow()
        async def weather_flow(city: str) -> str:
            response = await ai.generate(model="fake/weather-model", prompt=f"Weather in {city}?", tools=["get_weather"])
            return response.text

        self.ai = ai
        self.flow = weather_flow


def workload(app: App, runs: int) -> dict[str, object]:
    answers: list[str] = []

    async def main() -> None:
        for i in range(runs):
            answers.append(await app.flow("Paris" if i % 2 else "Lyon"))

    t0 = time.perf_counter()
    app.ai.run_main(main())
    loop_s = time.perf_counter() - t0
    # The fake model's final answer proves the tool round trip worked (a failed tool call
    # ends the generate with an empty message instead of raising).
    if len(answers) != runs or answers[-1] != "It is sunny in Paris.":
        raise SystemExit(f"the Genkit flow did not run as expected: {answers[-1:]!r}")
    return {"loop_s": loop_s, "runs": runs, "spans_created": app.counter[0], "answer": answers[-1]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--variant", required=True)
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--connection-string", required=True)
    a = p.parse_args()
    variant = Variant(a.variant, a.connection_string)
    measure(variant, lambda app: workload(app, a.runs), {"host": "python", "workload": "genkit"}, prepare=App)


if __name__ == "__main__":
    main()
