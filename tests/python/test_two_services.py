"""One transaction across two services: two real processes on loopback (apps/service.py),
each exporting through genkit_azure_rs under its own name. ``storefront`` (FastAPI and
a Genkit flow) calls ``inventory`` over HTTP with httpx. The test calls storefront with
a W3C ``traceparent`` and ``tracestate``, as a caller already in a trace would.

At the emulator: storefront's HTTP client dependency is the parent of inventory's
Request, every span shares the caller's ``ai.operation.id``, and the dependency's target
names inventory's host and port, so the Application Map draws the edge.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from _helpers import base, kind, of_kind, span_envelopes
from conftest import APPS, Emulator

TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER = "b7ad6b7169203331"


@contextmanager
def service(emulator: Emulator, tmp: Path, *args: str) -> Iterator[int]:
    """Runs apps/service.py until the block ends; yields its port, then stops it as a
    process manager would (SIGTERM) and checks it flushed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENKIT_", "APPLICATIONINSIGHTS_"))}
    env.update(
        APPLICATIONINSIGHTS_CONNECTION_STRING=emulator.connection_string,
        PYTHONPATH=str(APPS),
        PYTHONUNBUFFERED="1",
        TMPDIR=str(tmp),
    )
    proc = subprocess.Popen([sys.executable, str(APPS / "service.py"), *args], env=env, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("LISTENING "), f"{args[0]} did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        yield int(line.split()[1])
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        result = json.loads(next(l for l in out.splitlines() if l.startswith("RESULT "))[len("RESULT "):])
        assert result["flushed"] is True
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_call_across_two_services_is_one_transaction(emulator: Emulator, tmp_path: Path) -> None:
    with ExitStack() as stack:
        inventory = stack.enter_context(service(emulator, tmp_path, "inventory"))
        storefront = stack.enter_context(
            service(emulator, tmp_path, "storefront", "--downstream", f"http://127.0.0.1:{inventory}")
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{storefront}/api/order",
            data=json.dumps({"data": "pasta"}).encode(),
            headers={
                "Content-Type": "application/json",
                "traceparent": f"00-{TRACE}-{CALLER}-01",
                "tracestate": "partner=t61rcWkgMzE",
            },
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            answer = json.load(response)["result"]
        # Storefront stops first (ExitStack unwinds in reverse), then inventory.

    envelopes: list[dict[str, Any]] = emulator.envelopes()
    spans = span_envelopes(envelopes)
    role = {base(e)["id"]: e["tags"]["ai.cloud.role"] for e in spans}
    assert set(role.values()) == {"storefront", "inventory"}
    assert {e["tags"]["ai.operation.id"] for e in spans} == {TRACE}, "one operation across both services"

    (front_request,) = [r for r in of_kind(envelopes, "Request") if r["tags"]["ai.cloud.role"] == "storefront"]
    assert base(front_request)["name"] == "POST /api/order"
    assert front_request["tags"]["ai.operation.parentId"] == CALLER

    (back_request,) = [r for r in of_kind(envelopes, "Request") if r["tags"]["ai.cloud.role"] == "inventory"]
    assert base(back_request)["name"] == "GET /stock/{item}"
    dependency_id = back_request["tags"]["ai.operation.parentId"]
    dependency = next(e for e in spans if base(e)["id"] == dependency_id)
    assert kind(dependency) == "RemoteDependency" and role[dependency_id] == "storefront"
    assert base(dependency)["type"] == "HTTP"
    assert base(dependency)["name"] == "GET /stock/pasta"
    assert base(dependency)["target"] == f"127.0.0.1:{inventory}"
    assert base(dependency)["resultCode"] == "200"

    # The headers inventory received: W3C trace context out of storefront, the
    # caller's tracestate carried through untouched.
    seen = answer["inventory_saw"]
    assert seen["traceparent"] == f"00-{TRACE}-{dependency_id}-01"
    assert seen["tracestate"] == "partner=t61rcWkgMzE"
