"""`make sample`: runs azure-hello against the local ingestion emulator, calls it over
HTTP a few times, stops it, and prints what arrived: each operation as a tree, then the
Application Map's nodes and edges as the portal would draw them.

Usage: python samples/azure-hello/run_sample.py
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "demo"))
from run_demo import IKEY, fetch, print_tree, start_emulator  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(url: str, body: object | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.load(response)


def wait_until_serving(url: str, app: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if app.poll() is not None:
            sys.exit("azure-hello exited before serving")
        try:
            with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("azure-hello did not start serving")


def print_application_map(envelopes: list[dict[str, Any]]) -> None:
    """Nodes: the services that sent telemetry (cloud roles) and what they called;
    edges: each service's dependencies by target, with calls and failures."""
    spans = [e for e in envelopes if e["name"].endswith((".Request", ".RemoteDependency"))]
    roles = sorted({e["tags"].get("ai.cloud.role", "?") for e in spans})
    edges: Counter[tuple[str, str, str]] = Counter()
    failed: Counter[tuple[str, str, str]] = Counter()
    for e in spans:
        base = e["data"]["baseData"]
        if e["name"].endswith(".RemoteDependency") and base.get("type") != "InProc" and base.get("target"):
            key = (e["tags"].get("ai.cloud.role", "?"), base["type"], base["target"])
            edges[key] += 1
            failed[key] += 0 if base.get("success", True) else 1
    requests = Counter(e["tags"].get("ai.cloud.role", "?") for e in spans if e["name"].endswith(".Request"))
    print("\nApplication Map")
    print("  nodes:")
    for role in roles:
        print(f"    [{role}]  {requests[role]} incoming requests")
    for target in sorted({t for _, _, t in edges}):
        print(f"    ({target})")
    print("  edges:")
    for (role, kind, target), n in sorted(edges.items()):
        print(f"    [{role}] --{kind}--> ({target})  {n} calls, {failed[(role, kind, target)]} failed")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        emulator, ingestion = start_emulator(Path(tmp))
        try:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENKIT_"))}
            env.update(
                APPLICATIONINSIGHTS_CONNECTION_STRING=f"InstrumentationKey={IKEY};IngestionEndpoint={ingestion}/",
                PORT=str(port),
                # A private temp dir: the offline store (per key) of an earlier run must not replay here.
                TMPDIR=tmp,
            )
            app = subprocess.Popen([sys.executable, str(HERE / "app.py")], env=env)
            url = f"http://127.0.0.1:{port}"
            try:
                wait_until_serving(url, app)
                calls = [
                    (f"{url}/api/say_hi", {"data": "Ada"}),
                    (f"{url}/hello/Grace", None),
                    (f"{url}/hello/Linus", None),
                ]
                for target, body in calls:
                    status, answer = call(target, body)
                    print(f"{'POST' if body else 'GET '} {target[len(url):]:<14} -> {status} {answer}")
            finally:
                app.send_signal(signal.SIGTERM)  # the app flushes while it shuts down
                app.wait(timeout=30)
            envelopes = fetch(ingestion + "/envelopes")
            stats = fetch(ingestion + "/stats")
            print(f"\n{stats['itemsAccepted']} envelopes accepted in {stats['requests']} requests, "
                  f"{stats['itemsRejected']} rejected\n")
            print_tree(envelopes)
            print_application_map(envelopes)
            requests = [e for e in envelopes if e["name"].endswith(".Request")]
            ok = len(requests) == len(calls) and stats["itemsRejected"] == 0
            if not ok:
                print(f"\nexpected {len(calls)} requests and no rejections", file=sys.stderr)
            return 0 if ok else 1
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
