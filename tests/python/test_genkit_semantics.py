"""Genkit semantics in Application Insights (issue 9), end to end: a real Genkit 0.12 app
(apps/genkit_semantics.py) exported through genkit_azure_rs, checked at the emulator
against what the app itself recorded (its spans through a second span processor, the
usage its fake model reported, where it logged)."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pytest
from _helpers import base, by_span_id, kind, metric_points, metric_total, of_kind, props, span_envelopes, text
from conftest import AppRun, Emulator, run_scenario

Run = tuple[AppRun, list[dict[str, Any]]]
REDACTED = "<redacted>"


def run_semantics(
    emulator: Emulator, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> Run:
    """Runs apps/genkit_semantics.py against the emptied emulator: its result and every
    envelope that arrived (the app flushed before it printed its result and has exited)."""
    emulator.reset()
    run = run_scenario(emulator, "genkit_semantics", *args, cwd=cwd, env=env)
    return run, emulator.envelopes()


def spans_named(run: AppRun, name: str) -> list[dict[str, Any]]:
    return [s for s in run.result["spans"] if s["name"] == name]


def the_envelope_of(span: dict[str, Any], envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    copies = by_span_id(envelopes).get(span["span_id"], [])
    assert len(copies) == 1, f"{span['name']} arrived {len(copies)} times"
    return copies[0]


def of_operation(envelopes: list[dict[str, Any]], trace_id: str) -> list[dict[str, Any]]:
    return [e for e in envelopes if e["tags"].get("ai.operation.id") == trace_id]


# -- a flow, a model that reports usage, a tool -----------------------------------------


@pytest.fixture(scope="module")
def weather(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_semantics(emulator_session, tmp_path_factory.mktemp("weather"), "weather")


def test_the_flow_is_one_request_named_after_it(weather: Run) -> None:
    run, envelopes = weather
    assert run.result["outcomes"] == ["It is sunny in Paris now."]
    (flow,) = spans_named(run, "weather_flow")
    request = the_envelope_of(flow, envelopes)
    assert kind(request) == "Request"
    assert base(request)["name"] == "weather_flow"
    assert base(request)["success"] is True
    assert props(request)["genkit:isRoot"] == "true"
    assert "ai.operation.parentId" not in request["tags"]
    assert len(of_kind(envelopes, "Request")) == 1, "everything else is a step of the flow"


def test_model_calls_are_genai_dependencies_with_their_usage(weather: Run) -> None:
    run, envelopes = weather
    calls = spans_named(run, "fake/weather-model")
    assert len(calls) == 2  # asks for the tool, then answers
    seen = []
    for call in calls:
        dependency = the_envelope_of(call, envelopes)
        assert kind(dependency) == "RemoteDependency"
        assert base(dependency)["type"] == "GenAI | fake"
        assert base(dependency)["target"] == "fake"
        assert base(dependency)["name"] == "chat weather-model"
        p = props(dependency)
        assert p["genkit:name"] == "fake/weather-model"
        assert p["gen_ai.operation.name"] == "chat"
        assert p["gen_ai.provider.name"] == "fake"
        assert p["gen_ai.system"] == "fake"
        assert p["gen_ai.request.model"] == "weather-model"
        asked_for_tool = "toolRequest" in call["attributes"]["genkit:output"]
        assert json.loads(p["gen_ai.response.finish_reasons"]) == (["tool_calls"] if asked_for_tool else ["stop"])
        seen.append(
            {
                "input_tokens": int(p["gen_ai.usage.input_tokens"]),
                "output_tokens": int(p["gen_ai.usage.output_tokens"]),
                "thoughts_tokens": int(p["gen_ai.usage.reasoning.output_tokens"]),
                "cached_content_tokens": int(p["gen_ai.usage.cache_read.input_tokens"]),
            }
        )
    key = lambda u: u["input_tokens"]  # noqa: E731
    assert sorted(seen, key=key) == sorted(run.result["usage"], key=key)


def test_the_tool_is_an_execute_tool_step(weather: Run) -> None:
    run, envelopes = weather
    (tool,) = spans_named(run, "get_weather")
    (generate,) = spans_named(run, "generate")
    step = the_envelope_of(tool, envelopes)
    assert kind(step) == "RemoteDependency"
    # OpenTelemetry's GenAI name; the Genkit name stays in a property.
    assert base(step)["name"] == "execute_tool get_weather"
    assert props(step)["genkit:name"] == "get_weather"
    assert base(step)["success"] is True
    assert step["tags"]["ai.operation.parentId"] == generate["span_id"]
    p = props(step)
    assert p["gen_ai.operation.name"] == "execute_tool"
    assert p["gen_ai.tool.name"] == "get_weather"
    assert p["gen_ai.tool.type"] == "function"
    assert "genkit:isRoot" not in p and "genkit:isFailureSource" not in p


def test_every_envelope_of_the_operation_carries_the_flow_name(weather: Run) -> None:
    run, envelopes = weather
    (flow,) = spans_named(run, "weather_flow")
    operation = of_operation(envelopes, flow["trace_id"])
    names = {e["tags"].get("ai.operation.name") for e in operation}
    assert names == {"weather_flow"}, [(kind(e), text(e), e["tags"].get("ai.operation.name")) for e in operation]

    # Every span the app made is in it, the cache lookup (not Genkit's) too ...
    assert {base(e)["id"] for e in span_envelopes(operation)} == {s["span_id"] for s in run.result["spans"]}
    (cache,) = spans_named(run, "cache lookup")
    assert "genkit:path" not in cache["attributes"]
    assert the_envelope_of(cache, envelopes)["tags"]["ai.operation.name"] == "weather_flow"
    # ... and every log, stdlib and structlog, emitted inside the tool or the flow.
    (tool,) = spans_named(run, "get_weather")
    messages = {text(e): e for e in of_kind(operation, "Message")}
    for emitted in run.result["logs"]:
        message = messages.get(emitted["message"])
        assert message is not None, (emitted["message"], sorted(messages))
        assert message["tags"]["ai.operation.parentId"] == emitted["span_id"]
        assert message["tags"]["ai.operation.name"] == "weather_flow"
    assert messages["weather tool called"]["tags"]["ai.operation.parentId"] == tool["span_id"]  # structlog
    assert messages["looking up the weather in Paris"]["tags"]["ai.operation.parentId"] == tool["span_id"]  # stdlib


# -- a failing tool ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def failing_tool(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_semantics(emulator_session, tmp_path_factory.mktemp("failing_tool"), "failing_tool")


def test_the_failing_tool_is_the_failure_source(failing_tool: Run) -> None:
    run, envelopes = failing_tool
    (outcome,) = run.result["outcomes"]
    assert "no forecast" in outcome
    (tool,) = spans_named(run, "get_forecast")
    (flow,) = spans_named(run, "forecast_flow")
    assert tool["attributes"]["genkit:state"] == "error"
    assert flow["attributes"]["genkit:state"] == "error"

    step = the_envelope_of(tool, envelopes)
    assert base(step)["success"] is False
    request = the_envelope_of(flow, envelopes)
    assert kind(request) == "Request" and base(request)["success"] is False
    marked = [base(e)["name"] for e in span_envelopes(envelopes) if props(e).get("genkit:isFailureSource") == "true"]
    assert marked == ["execute_tool get_forecast"], "only the step where the failure started, not the flow it failed"
    # The exception's type, which Azure's Agents view groups errors by.
    (thrown,) = [e for e in of_kind(envelopes, "Exception") if e["tags"].get("ai.operation.parentId") == tool["span_id"]]
    assert props(step)["error.type"] == base(thrown)["exceptions"][0]["typeName"]


def test_the_failures_exceptions_carry_the_flow_name(failing_tool: Run) -> None:
    run, envelopes = failing_tool
    (flow,) = spans_named(run, "forecast_flow")
    (tool,) = spans_named(run, "get_forecast")
    exceptions = of_kind(envelopes, "Exception")
    thrown_in = {e["tags"].get("ai.operation.parentId"): text(e) for e in exceptions}
    assert thrown_in[tool["span_id"]] == "forecast service unreachable for Paris"
    assert "no forecast" in thrown_in[flow["span_id"]]
    operation = of_operation(envelopes, flow["trace_id"])
    assert {e["tags"].get("ai.operation.name") for e in operation} == {"forecast_flow"}


def test_the_failure_is_counted_and_logged_where_it_started(failing_tool: Run) -> None:
    run, envelopes = failing_tool
    (tool,) = spans_named(run, "get_forecast")
    tool_path = tool["attributes"]["genkit:path"]

    # The feature (the flow) failed once.
    requests = metric_points(envelopes, "genkit/feature/requests")
    assert [(p["value"], d.get("featureName"), d.get("status")) for p, d in requests] == [(1, "forecast_flow", "failure")]
    assert requests[0][1].get("error"), "a failure says which error"
    assert metric_points(envelopes, "genkit/feature/latency")

    # The path that failed is the tool's, and only that one.
    for name in ("genkit/feature/path/requests", "genkit/feature/path/latency"):
        points = metric_points(envelopes, name)
        assert [(d.get("path"), d.get("status"), d.get("featureName")) for _, d in points] == [
            (tool_path, "failure", "forecast_flow")
        ], name
        assert points[0][1].get("error") == "ConnectionError"
    assert metric_total(envelopes, "genkit/feature/path/requests") == 1

    # One Error[...] record, correlated with the tool's span.
    errors = [e for e in of_kind(envelopes, "Message") if text(e).startswith("Error[")]
    assert len(errors) == 1, [text(e) for e in errors]
    (error,) = errors
    assert "get_forecast" in text(error) and "ConnectionError" in text(error)
    assert base(error)["severityLevel"] == 3
    assert error["tags"]["ai.operation.id"] == tool["trace_id"]
    assert error["tags"]["ai.operation.parentId"] == tool["span_id"]
    assert error["tags"]["ai.operation.name"] == "forecast_flow"


# -- token metrics ----------------------------------------------------------------------


def test_token_metrics_add_up_to_the_models_reported_usage(emulator: Emulator, tmp_path: Path) -> None:
    runs = 5
    run, envelopes = run_semantics(emulator, tmp_path, "weather", "--runs", str(runs))
    usage = run.result["usage"]
    assert len(usage) == 2 * runs  # two model calls per flow
    for metric, field in [
        ("genkit/ai/generate/input/tokens", "input_tokens"),
        ("genkit/ai/generate/output/tokens", "output_tokens"),
        ("genkit/ai/generate/thinking/tokens", "thoughts_tokens"),
    ]:
        expected = sum(u[field] for u in usage)
        assert metric_total(envelopes, metric, modelName="fake/weather-model", featureName="weather_flow") == expected, metric
        assert metric_total(envelopes, metric) == expected, f"{metric}: nothing counted under other labels"
    assert metric_total(envelopes, "genkit/ai/generate/requests", status="success") == 2 * runs
    assert metric_total(envelopes, "genkit/feature/requests", featureName="weather_flow", status="success") == runs
    for _, dims in metric_points(envelopes, "genkit/ai/generate/input/tokens"):
        assert dims["source"] == "py" and dims["sourceVersion"] == importlib.metadata.version("genkit")


# -- privacy ----------------------------------------------------------------------------


def test_prompts_and_responses_are_redacted_by_default(emulator: Emulator, tmp_path: Path) -> None:
    run, envelopes = run_semantics(emulator, tmp_path, "secret")
    (prompt,) = run.result["prompts"]
    assert prompt in run.result["outcomes"][0], "the model did see and echo it"
    assert envelopes
    raw = json.dumps(envelopes, ensure_ascii=False)
    assert prompt not in raw
    assert "SWORDFISH" not in raw
    assert "tenant-ACME" not in raw, "the caller's context never leaves"

    genkit_spans = [e for e in span_envelopes(envelopes) if "genkit:type" in props(e)]
    assert len(genkit_spans) == len(run.result["spans"]) == 3  # flow, generate, model
    for e in genkit_spans:
        p = props(e)
        assert p["genkit:input"] == REDACTED and p["genkit:output"] == REDACTED, base(e)["name"]
    # What is useful was read before the content went.
    (model,) = spans_named(run, "fake/echo")
    p = props(the_envelope_of(model, envelopes))
    assert int(p["gen_ai.usage.input_tokens"]) == run.result["usage"][0]["input_tokens"]
    assert p["gen_ai.response.finish_reasons"] == '["stop"]'
    assert not [e for e in of_kind(envelopes, "Message") if text(e).startswith(("Input[", "Output["))]


def test_log_input_and_output_exports_the_content(emulator: Emulator, tmp_path: Path) -> None:
    run, envelopes = run_semantics(emulator, tmp_path, "secret", "--log-input-and-output")
    (prompt,) = run.result["prompts"]
    (model,) = spans_named(run, "fake/echo")
    p = props(the_envelope_of(model, envelopes))
    assert p["genkit:input"] == model["attributes"]["genkit:input"]
    assert prompt in p["genkit:input"]
    assert f"You said: {prompt}" in p["genkit:output"]

    contents = {text(e).split("[", 1)[0]: props(e).get("content") for e in of_kind(envelopes, "Message")
                if text(e).startswith(("Input[", "Output[")) and "fake/echo" in text(e)}
    assert contents == {"Input": prompt, "Output": f"You said: {prompt}"}
    # The caller's context stays out even now.
    raw = json.dumps(envelopes, ensure_ascii=False)
    assert "tenant-ACME" not in raw
    for e in span_envelopes(envelopes):
        assert props(e).get("genkit:metadata:context", REDACTED) == REDACTED


def test_a_huge_prompt_is_cut_at_a_character_boundary(emulator: Emulator, tmp_path: Path) -> None:
    run, envelopes = run_semantics(emulator, tmp_path, "huge", "--log-input-and-output")
    assert run.result["flushed"] is True
    assert run.result["stats"]["envelopes_rejected"] == 0
    recorded = {s["span_id"]: s["attributes"] for s in run.result["spans"]}
    cut = 0
    for e in envelopes:
        for key, value in props(e).items():
            value.encode("utf-8")  # strict: a lone surrogate from a cut pair would raise
            # GenAI messages take 256 KiB, as Microsoft's exporters give them.
            assert len(value) <= (256 * 1024 if key.startswith("gen_ai.") else 8192), (key, len(value))
            original = recorded.get(base(e).get("id", ""), {}).get(key)
            if isinstance(original, str) and len(original) > 8192:
                assert original.startswith(value) and value, f"{key}: not a prefix of what Genkit recorded"
                cut += 1
        if kind(e) == "Message":
            assert len(text(e)) <= 32768
    # genkit:input and genkit:output of the flow, generate and the model call.
    assert cut == 6
    (model,) = spans_named(run, "fake/echo")
    assert "🐢" in props(the_envelope_of(model, envelopes))["genkit:input"]


# -- options ----------------------------------------------------------------------------


@pytest.mark.parametrize("signal", ["traces", "metrics", "logs"])
def test_each_disable_option_turns_its_signal_off(emulator: Emulator, tmp_path: Path, signal: str) -> None:
    run, envelopes = run_semantics(emulator, tmp_path, "weather", "--disable", signal)
    assert run.result["outcomes"] == ["It is sunny in Paris now."]
    exports = run.result["exports"]
    assert exports == {"traces": signal != "traces", "metrics": signal != "metrics", "logs": signal != "logs",
                       "custom": True}
    kinds = {kind(e) for e in envelopes}
    of_signal = {"traces": {"Request", "RemoteDependency"}, "metrics": {"Metric"}, "logs": {"Message"}}
    for other, its_kinds in of_signal.items():
        if other == signal:
            assert not kinds & its_kinds, f"disable_{signal}: {sorted(kinds & its_kinds)} still exported"
        else:
            assert its_kinds <= kinds, f"disable_{signal} must leave {other} on: got {sorted(kinds)}"
    if signal != "metrics":
        # Genkit's metrics are derived from spans, exported or not.
        assert metric_total(envelopes, "genkit/feature/requests", featureName="weather_flow") == 1


def test_dev_mode_exports_every_span_exactly_once(emulator: Emulator, tmp_path: Path) -> None:
    run, envelopes = run_semantics(emulator, tmp_path, "weather", env={"GENKIT_ENV": "dev"})
    assert run.result["outcomes"] == ["It is sunny in Paris now."]
    # Genkit's dev processor was at work: each span went to the Dev UI at start and at end.
    assert run.result["dev_posts"] == 2 * len(run.result["spans"]) == 12
    arrived = by_span_id(envelopes)
    assert set(arrived) == {s["span_id"] for s in run.result["spans"]}
    assert {k: len(v) for k, v in arrived.items() if len(v) != 1} == {}
    assert run.result["stats"]["spans_accepted"] == len(run.result["spans"])


def test_dev_mode_without_force_dev_export_exports_nothing(emulator: Emulator, tmp_path: Path) -> None:
    run, envelopes = run_semantics(
        emulator, tmp_path, "weather", "--no-force-dev-export", env={"GENKIT_ENV": "dev"}
    )
    assert run.result["outcomes"] == ["It is sunny in Paris now."]
    assert run.result["exports"] == {"traces": False, "metrics": False, "logs": False, "custom": False}
    assert len(run.result["spans"]) == 6, "the app still traced"
    assert envelopes == []
    assert emulator.stats()["requests"] == 0, "not even the resource or an empty batch is sent"
