"""A Genkit flow served over HTTP (apps/genkit_http.py: genkit-fastapi and a plain FastAPI
route, uvicorn on loopback, real HTTP calls), exported through genkit_azure_rs: the HTTP
server span is the Request, the flow a step beneath it, and every envelope of the call
carries the Request's name as its operation name. Run with FastAPI's own tracing alone,
and with opentelemetry-instrumentation-fastapi applied as well (never two Requests)."""

from __future__ import annotations

from typing import Any

import pytest
from _helpers import base, by_span_id, kind, metric_total, of_kind, props, span_envelopes, text
from conftest import AppRun, Emulator, run_scenario

Run = tuple[AppRun, list[dict[str, Any]]]
ROUTES = {"POST /api/weather_flow", "GET /weather/{city}"}


@pytest.fixture(scope="module", params=["fastapi", "fastapi+instrumentation"])
def served(request: pytest.FixtureRequest, emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    emulator_session.reset()
    args = ["--instrument"] if request.param == "fastapi+instrumentation" else []
    run = run_scenario(emulator_session, "genkit_http", *args, cwd=tmp_path_factory.mktemp("genkit_http"))
    return run, emulator_session.envelopes()


def root_of(span: dict[str, Any], spans: list[dict[str, Any]]) -> dict[str, Any]:
    by_id = {s["span_id"]: s for s in spans}
    while span["parent_id"] is not None:
        span = by_id[span["parent_id"]]
    return span


def test_both_routes_answered(served: Run) -> None:
    run, _ = served
    responses = run.result["responses"]
    assert responses["POST /api/weather_flow"] == {"status": 200, "body": {"result": "It is sunny in Paris now."}}
    assert responses["GET /weather/{city}"] == {"status": 200, "body": {"answer": "It is sunny in Paris now."}}
    assert run.result["flushed"] is True


def test_each_call_is_one_request_named_by_its_route(served: Run) -> None:
    run, envelopes = served
    requests = of_kind(envelopes, "Request")
    assert sorted(base(r)["name"] for r in requests) == sorted(ROUTES)
    roots = {s["span_id"] for s in run.result["spans"] if s["parent_id"] is None}
    for r in requests:
        assert base(r)["id"] in roots
        assert base(r)["responseCode"] == "200"
        assert base(r)["success"] is True
        assert "ai.operation.parentId" not in r["tags"]
    arrived = by_span_id(envelopes)
    assert {k: len(v) for k, v in arrived.items() if len(v) != 1} == {}, "every span once"
    assert set(arrived) == {s["span_id"] for s in run.result["spans"]}


def test_the_flow_is_a_step_beneath_the_request(served: Run) -> None:
    run, envelopes = served
    spans = run.result["spans"]
    flows = [s for s in spans if s["name"] == "weather_flow"]
    assert len(flows) == 2
    requests = {base(r)["id"]: base(r)["name"] for r in of_kind(envelopes, "Request")}
    under = set()
    for flow in flows:
        (step,) = by_span_id(envelopes)[flow["span_id"]]
        assert kind(step) == "RemoteDependency"
        assert step["tags"]["ai.operation.parentId"] == flow["parent_id"]
        # Not the Request, but still its feature's root, as Genkit JS marks it.
        assert props(step)["genkit:isRoot"] == "true"
        root = root_of(flow, spans)
        under.add(requests[root["span_id"]])
    assert under == ROUTES
    # Model calls under it stay GenAI dependencies.
    models = [e for e in span_envelopes(envelopes) if base(e)["name"] == "chat weather-model"]
    assert len(models) == 4 and all(base(m)["type"] == "GenAI | fake" for m in models)
    # Each served call is a request of the weather_flow feature.
    assert metric_total(envelopes, "genkit/feature/requests", featureName="weather_flow", status="success") == 2


def test_every_envelope_of_a_call_carries_the_requests_name(served: Run) -> None:
    run, envelopes = served
    for request in of_kind(envelopes, "Request"):
        name = base(request)["name"]
        operation = [e for e in envelopes if e["tags"].get("ai.operation.id") == request["tags"]["ai.operation.id"]]
        # Spans (FastAPI's, Genkit's), Genkit's Config logs, the app's stdlib and structlog logs.
        assert {"Request", "RemoteDependency", "Message"} <= {kind(e) for e in operation}
        wrong = sorted({(kind(e), text(e), e["tags"].get("ai.operation.name")) for e in operation
                        if e["tags"].get("ai.operation.name") != name})
        assert not wrong, f"{name}: {wrong[:6]}"
    logged = {text(e) for e in of_kind(envelopes, "Message")}
    assert {"weather tool called", "planning weather answer for Paris"} <= logged
