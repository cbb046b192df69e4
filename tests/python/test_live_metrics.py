"""Live Metrics from Python: with a viewer at the emulator, an ``AzureTelemetry`` pings at
once, then posts every second what its pipeline takes in (a tracked event arrives as a
document, a tracked exception as a document and in ``Exceptions/Sec``), saying who sends
it; with ``enable_live_metrics=False`` nothing reaches the live endpoint."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from genkit_azure_rs import AzureTelemetry

EXCEPTIONS = "\\ApplicationInsights\\Exceptions/Sec"


def _live(emulator: Any, method: str, control: dict[str, Any] | None = None) -> Any:
    data = json.dumps(control).encode() if control is not None else None
    request = urllib.request.Request(emulator.url + "/live", data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _requests(emulator: Any) -> list[dict[str, Any]]:
    return list(_live(emulator, "GET")["requests"])


def _wait(emulator: Any, what: str, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        requests = _requests(emulator)
        if done(requests):
            return requests
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {requests}"
        time.sleep(0.05)


def _posts(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r["body"][0] for r in requests if r["kind"] == "post" and r["status"] == 200]


def _exceptions(requests: list[dict[str, Any]]) -> float:
    return sum(m["Value"] for p in _posts(requests) for m in p["Metrics"] if m["Name"] == EXCEPTIONS)


def _documents(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for p in _posts(requests) for d in p["Documents"]]


@pytest.fixture()
def watched(emulator: Any) -> Iterator[str]:
    """The emulator with a viewer; its connection string names it as the live endpoint."""
    _live(emulator, "POST", {"subscribed": True})
    try:
        yield f"{emulator.connection_string};LiveEndpoint={emulator.url}/"
    finally:
        _live(emulator, "DELETE")


def test_live_metrics_post_what_python_tracks_while_watched(emulator: Any, watched: str) -> None:
    telemetry = AzureTelemetry(connection_string=watched, service_name="live-py")
    try:
        assert telemetry._native._resolved_config()["enable_live_metrics"] is True
        # A post means the session started: what is tracked from now on counts.
        _wait(emulator, "the first post", lambda r: len(_posts(r)) >= 1)
        assert telemetry.track_event("order placed", properties={"tier": "gold"})
        try:
            raise ValueError("order 42 is gone")
        except ValueError:
            assert telemetry.track_exception()
        requests = _wait(
            emulator,
            "the event and the exception",
            lambda r: _exceptions(r) >= 1 and any(d.get("Name") == "order placed" for d in _documents(r)),
        )
    finally:
        telemetry.shutdown(timeout_s=2)
    assert all(r["status"] == 200 for r in requests), [r["error"] for r in requests]
    ping = requests[0]
    assert ping["kind"] == "ping"
    assert ping["headers"]["x-ms-qps-role-name"] == "live-py"
    assert ping["body"]["Version"].startswith("genkit-azure:python:")
    assert _exceptions(requests) == 1
    documents = _documents(requests)
    (event,) = [d for d in documents if d["DocumentType"] == "Event"]
    assert event["Properties"] == [{"key": "tier", "value": "gold"}]
    (exception,) = [d for d in documents if d["DocumentType"] == "Exception"]
    assert exception["ExceptionType"] == "ValueError"
    assert exception["ExceptionMessage"] == "order 42 is gone"
    for post in _posts(requests):
        metrics = {m["Name"]: m["Value"] for m in post["Metrics"]}
        assert 0 <= metrics["\\Processor(_Total)\\% Processor Time"] <= 100
        assert metrics["\\Process\\Physical Bytes"] > 1 << 20


def test_enable_live_metrics_false_sends_nothing(emulator: Any, watched: str) -> None:
    telemetry = AzureTelemetry(connection_string=watched, enable_live_metrics=False)
    try:
        assert telemetry._native._resolved_config()["enable_live_metrics"] is False
        assert telemetry.track_event("not live")
        assert telemetry.flush(timeout_s=10)
        time.sleep(1.5)
        assert _requests(emulator) == []
    finally:
        telemetry.shutdown(timeout_s=2)
    assert [e["data"]["baseData"]["name"] for e in emulator.envelopes() if e["name"].endswith("Event")] == [
        "not live"
    ]
