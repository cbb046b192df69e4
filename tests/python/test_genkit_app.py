"""A real Genkit 0.12 app (apps/genkit_app.py) exported through genkit_azure_rs, checked
at the emulator against what the app itself recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _helpers import base, by_span_id, kind, of_kind, props, span_envelopes, text
from conftest import AppRun, Emulator, run_scenario


@pytest.fixture(scope="module")
def app(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[AppRun, list[dict[str, Any]]]:
    emulator_session.reset()
    run = run_scenario(emulator_session, "genkit_app", cwd=tmp_path_factory.mktemp("genkit_app"))
    # The app flushed before printing its result; the atexit shutdown may add nothing.
    return run, emulator_session.envelopes()


def test_the_app_itself_worked(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    run, _ = app
    assert run.result["answer"] == "It is sunny in Paris."
    assert "flow exploded: no forecast" in run.result["error"]
    assert run.result["flushed"] is True
    names = [s["name"] for s in run.result["spans"]]
    # weather_flow -> generate -> model (asks for the tool) -> tool -> model (answers); failing_flow.
    assert sorted(names) == sorted(
        ["weather_flow", "generate", "fake/weather-model", "get_weather", "fake/weather-model", "failing_flow"]
    )


def test_every_span_arrives_exactly_once(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    run, envelopes = app
    recorded = {s["span_id"] for s in run.result["spans"]}
    arrived = by_span_id(envelopes)
    assert set(arrived) == recorded
    assert all(len(copies) == 1 for copies in arrived.values()), {k: len(v) for k, v in arrived.items()}
    assert run.result["stats"]["spans_accepted"] == len(recorded)


def test_operation_ids_follow_the_trace_tree(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    run, envelopes = app
    arrived = by_span_id(envelopes)
    traces = {s["trace_id"] for s in run.result["spans"]}
    assert len(traces) == 2  # the weather flow's tree and the failing flow
    for span in run.result["spans"]:
        (envelope,) = arrived[span["span_id"]]
        tags = envelope["tags"]
        assert tags["ai.operation.id"] == span["trace_id"]
        assert tags.get("ai.operation.parentId") == span["parent_id"], span["name"]
    weather_tree = [s for s in run.result["spans"] if s["name"] != "failing_flow"]
    assert len({s["trace_id"] for s in weather_tree}) == 1


def test_spans_carry_genkit_attributes_and_model_usage(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    run, envelopes = app
    arrived = by_span_id(envelopes)
    model_spans = [s for s in run.result["spans"] if s["name"] == "fake/weather-model"]
    usages = []
    for span in model_spans:
        (envelope,) = arrived[span["span_id"]]
        p = props(envelope)
        assert kind(envelope) == "RemoteDependency"
        assert p["genkit:metadata:subtype"] == "model"
        assert p["genkit:path"] == span["attributes"]["genkit:path"]
        # The response is redacted by default; its usage is read out first.
        assert p["genkit:output"] == "<redacted>"
        recorded = json.loads(span["attributes"]["genkit:output"])["usage"]
        usages.append((int(p["gen_ai.usage.input_tokens"]), int(p["gen_ai.usage.output_tokens"])))
        assert usages[-1] == (recorded["inputTokens"], recorded["outputTokens"])
    assert sorted(usages) == [(12, 4), (30, 7)]


def test_service_identity_is_on_every_item(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    _, envelopes = app
    assert envelopes
    for e in envelopes:
        assert e["tags"]["ai.cloud.role"] == "weather-app"
        assert e["tags"]["ai.application.ver"] == "2.3.4"


def test_failing_flow_is_a_failed_item_with_an_exception(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    run, envelopes = app
    (failing,) = [s for s in run.result["spans"] if s["name"] == "failing_flow"]
    (dep,) = by_span_id(envelopes)[failing["span_id"]]
    assert base(dep)["success"] is False
    exceptions = [
        e for e in of_kind(envelopes, "Exception") if e["tags"].get("ai.operation.parentId") == failing["span_id"]
    ]
    span_exceptions = [e for e in exceptions if "flow exploded: no forecast" in text(e)]
    assert span_exceptions, [text(e) for e in exceptions]
    assert span_exceptions[0]["tags"]["ai.operation.id"] == failing["trace_id"]
    # Successful spans are not failed items.
    for span in run.result["spans"]:
        if span["name"] != "failing_flow":
            (envelope,) = by_span_id(envelopes)[span["span_id"]]
            assert base(envelope).get("success", True) is True


def test_logs_carry_the_operation_of_the_span_they_were_emitted_in(
    app: tuple[AppRun, list[dict[str, Any]]],
) -> None:
    run, envelopes = app
    messages = {text(e): e for e in of_kind(envelopes, "Message")}
    for expected in run.result["logs"]:
        envelope = messages.get(expected["message"])
        assert envelope is not None, (expected["message"], sorted(messages))
        tags = envelope["tags"]
        assert tags.get("ai.operation.id") == expected["trace_id"], expected["message"]
        assert tags.get("ai.operation.parentId") == expected["span_id"], expected["message"]

    # structlog (Genkit's logger): the event, its keys as properties, the tool span as parent.
    tool = messages["weather tool called"]
    (tool_span,) = [s for s in run.result["spans"] if s["name"] == "get_weather"]
    assert tool["tags"]["ai.operation.parentId"] == tool_span["span_id"]
    assert props(tool)["city"] == "Paris"
    # stdlib: extra= fields become properties, WARNING maps to severity 2.
    planning = messages["planning weather answer for Paris"]
    assert props(planning)["city"] == "Paris"
    assert base(planning)["severityLevel"] == 2
    assert base(messages["about to fail: no forecast"])["severityLevel"] == 3


def test_structlog_console_lines_carry_the_operation_ids(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    run, _ = app
    (tool_span,) = [s for s in run.result["spans"] if s["name"] == "get_weather"]
    (line,) = [line for line in run.stdout.splitlines() if "weather tool called" in line and not line.startswith("RESULT")]
    assert f"operation_Id={tool_span['trace_id']}" in line
    assert f"operation_ParentId={tool_span['span_id']}" in line


def test_the_library_does_not_export_its_own_diagnostics(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    _, envelopes = app
    assert not [e for e in envelopes if "Azure telemetry initialized" in json.dumps(e)]


def test_the_sender_is_described_once_not_in_every_envelope(app: tuple[AppRun, list[dict[str, Any]]]) -> None:
    _, envelopes = app
    resource = [e for e in of_kind(envelopes, "Metric") if base(e)["metrics"][0]["name"] == "_OTELRESOURCE_"]
    assert len(resource) == 1, "the resource rides with the first request only"
    described = props(resource[0])
    assert described["service.name"] == "weather-app"
    assert described["service.version"] == "2.3.4"
    assert described["telemetry.sdk.language"] == "python"
    for e in span_envelopes(envelopes):
        assert e["tags"]["ai.cloud.role"] == "weather-app"
        assert e["tags"]["ai.application.ver"] == "2.3.4"
        assert e["tags"]["ai.internal.sdkVersion"].startswith("genkit-azure:python:")
        assert not set(props(e)) & set(described), "resource attributes are not repeated per envelope"
