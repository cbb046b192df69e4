"""Fixtures: a local Application Insights emulator and a way to run scenario apps.

The emulator is the binary built by ``cargo build -p genkit-azure-emulator``; it is
started once per session on a free port and reset before every test. Each Genkit
scenario runs as a script under ``apps/`` in its own interpreter (a process has one
global TracerProvider), with ``APPLICATIONINSIGHTS_CONNECTION_STRING`` pointing at the
emulator.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
IKEY = "11111111-2222-3333-4444-555555555555"


def _emulator_binary() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target / "debug" / ("genkit-azure-emulator" + (".exe" if os.name == "nt" else ""))


@dataclass
class Emulator:
    """A running emulator and helpers to read what it accepted."""

    url: str
    process: subprocess.Popen[bytes]

    @property
    def connection_string(self) -> str:
        return f"InstrumentationKey={IKEY};IngestionEndpoint={self.url}/"

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.load(response)

    def envelopes(self) -> list[dict[str, Any]]:
        return self._get("/envelopes")

    def stats(self) -> dict[str, Any]:
        return self._get("/stats")

    def reset(self) -> None:
        request = urllib.request.Request(self.url + "/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def set_faults(self, plan: dict[str, Any]) -> bool:
        """Installs a fault plan (``POST /faults``); False when this emulator has none."""
        request = urllib.request.Request(
            self.url + "/faults", data=json.dumps(plan).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
            return True
        except urllib.error.HTTPError as e:
            if e.code in (404, 405):
                return False
            raise

    def clear_faults(self) -> None:
        request = urllib.request.Request(self.url + "/faults", method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except urllib.error.HTTPError as e:
            if e.code not in (404, 405):
                raise

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Envelopes once at least ``count`` arrived (or whatever is there at the timeout)."""
        deadline = time.monotonic() + timeout_s
        while True:
            envelopes = self.envelopes()
            if len(envelopes) >= count or time.monotonic() > deadline:
                return envelopes
            time.sleep(0.05)


@pytest.fixture(scope="session")
def emulator_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    binary = _emulator_binary()
    if not binary.exists():
        pytest.fail(
            f"the emulator binary {binary} is missing: run make test "
            "(or cargo build -p genkit-azure-emulator)",
            pytrace=False,
        )
    port_file = tmp_path_factory.mktemp("emulator") / "port"
    process = subprocess.Popen(
        [str(binary), "--port", "0", "--ikey", IKEY, "--port-file", str(port_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = process.stdout.readline().decode() if process.stdout else ""
        if "listening on " not in line:
            process.kill()
            _, err = process.communicate(timeout=5)
            pytest.fail(f"the emulator did not start: {line!r} {err.decode(errors='replace')}", pytrace=False)
        url = line.strip().rsplit(" ", 1)[-1]
        yield Emulator(url=url, process=process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture()
def emulator(emulator_session: Emulator) -> Emulator:
    """The session emulator, emptied and behaving normally before the test."""
    emulator_session.clear_faults()
    emulator_session.reset()
    return emulator_session


@dataclass
class AppRun:
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any] = field(default_factory=dict)


def run_scenario(
    emulator: Emulator,
    name: str,
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> AppRun:
    """Runs ``apps/<name>.py`` in a fresh interpreter pointed at the emulator and returns
    its exit code, output and the ``RESULT {json}`` it printed."""
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENKIT_", "APPLICATIONINSIGHTS_"))
    }
    full_env.update(
        {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": emulator.connection_string,
            "EMULATOR_URL": emulator.url,
            "PYTHONPATH": str(APPS),
            "PYTHONUNBUFFERED": "1",
            # Each scenario gets its own temp dir, so the disk store of one
            # (kept per instrumentation key) never feeds the next.
            "TMPDIR": str(cwd),
        }
    )
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, str(APPS / f"{name}.py"), *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    run = AppRun(proc.returncode, proc.stdout, proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            run.result = json.loads(line[len("RESULT ") :])
    if check:
        assert proc.returncode == 0 and run.result, (
            f"{name} failed (exit {proc.returncode})\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return run


@pytest.fixture()
def run_app(emulator: Emulator, tmp_path: Path):
    """``run_app("name", *args, env=..., check=True)``: a scenario against the emptied emulator."""

    def run(name: str, *args: str, env: dict[str, str] | None = None, check: bool = True) -> AppRun:
        return run_scenario(emulator, name, *args, cwd=tmp_path, env=env, check=check)

    return run
