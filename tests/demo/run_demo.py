"""`make demo`: start the local ingestion emulator, run a small Genkit app that
exports to it through genkit_azure_rs, print what arrived as an operation tree,
and stop the emulator.

Usage: python tests/demo/run_demo.py [path/to/app.py]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMULATOR = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "genkit-azure-emulator"
IKEY = "00000000-0000-0000-0000-000000000000"
DEFAULT_APP = Path(__file__).with_name("genkit_app.py")


def start_emulator(tmp: Path) -> tuple[subprocess.Popen, str]:
    port_file = tmp / "port"
    proc = subprocess.Popen(
        [str(EMULATOR), "--port", "0", "--ikey", IKEY, "--port-file", str(port_file),
         "--out", str(tmp / "envelopes.jsonl")],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"the emulator did not start (is {EMULATOR} built? `make build`)")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"


def fetch(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def describe(env: dict) -> str:
    kind = env["name"].rsplit(".", 1)[-1]
    base = env["data"]["baseData"]
    props = base.get("properties", {})
    if kind in ("Request", "RemoteDependency"):
        ok = "ok" if base.get("success", True) else "FAILED"
        extra = props.get("genkit:type", base.get("type", ""))
        return f"{kind} {base.get('name')!r} [{extra}] {base.get('duration')} {ok}"
    if kind == "Exception":
        ex = base["exceptions"][0]
        return f"Exception {ex['typeName']}: {ex['message']}"
    if kind == "Message":
        return f"Message (severity {base.get('severityLevel')}): {base.get('message')}"
    if kind == "Metric":
        metric = base["metrics"][0]
        if metric["name"] == "_OTELRESOURCE_":
            role = env.get("tags", {}).get("ai.cloud.role")
            return f"Metric _OTELRESOURCE_: the sender, {role!r}, described once ({len(props)} attributes)"
        return f"Metric {metric['name']} = {metric['value']}"
    return kind


def print_tree(envelopes: list[dict]) -> None:
    """Groups envelopes by ai.operation.id and nests them by ai.operation.parentId."""
    by_op: dict[str, list[dict]] = defaultdict(list)
    for env in envelopes:
        by_op[env.get("tags", {}).get("ai.operation.id", "(no operation)")].append(env)
    for op, envs in by_op.items():
        print(f"operation {op}")
        children: dict[str | None, list[dict]] = defaultdict(list)
        ids = {e["data"]["baseData"].get("id") for e in envs}
        for e in envs:
            parent = e.get("tags", {}).get("ai.operation.parentId")
            children[parent if parent in ids else None].append(e)

        def walk(parent: str | None, depth: int) -> None:
            for e in sorted(children.get(parent, []), key=lambda e: e["time"]):
                print("  " * (depth + 1) + "- " + describe(e))
                own = e["data"]["baseData"].get("id")
                if own:
                    walk(own, depth + 1)

        walk(None, 0)


def main() -> int:
    app = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_APP
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_emulator(Path(tmp))
        try:
            env = dict(os.environ)
            env["APPLICATIONINSIGHTS_CONNECTION_STRING"] = f"InstrumentationKey={IKEY};IngestionEndpoint={url}/"
            # A private temp dir: the offline store (per key) of an earlier run must not replay here.
            env["TMPDIR"] = tmp
            print(f"emulator on {url}; running {app.relative_to(REPO) if app.is_relative_to(REPO) else app}")
            subprocess.run([sys.executable, str(app)], env=env, check=True)
            envelopes = fetch(url + "/envelopes")
            stats = fetch(url + "/stats")
            print(f"\n{stats['itemsAccepted']} envelopes accepted in {stats['requests']} requests "
                  f"({stats['bytesReceived']} bytes on the wire), {stats['itemsRejected']} rejected\n")
            print_tree(envelopes)
            return 0 if stats["itemsAccepted"] > 0 and stats["itemsRejected"] == 0 else 1
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
