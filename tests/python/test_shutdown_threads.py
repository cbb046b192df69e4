"""A shutdown that waits for a dead endpoint holds up no other Python thread.

``shutdown()`` may wait its whole timeout (the endpoint refuses every connection);
meanwhile another thread's ``flush``, ``stats``, ``repr`` and ``is_shut_down`` must
each answer at once. They run while holding the GIL, so one that waited on a lock
the shutdown holds would stall every Python thread for the rest of the shutdown
(issue 15: a 7.5 s stall during an 8 s shutdown).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from conftest import IKEY

from genkit_azure_rs import AzureSpanProcessor, AzureTelemetry, TelemetryShutDownError

SHUTDOWN_S = 3.0
# Generous: a correctness bound, not a benchmark. A call that waited on the
# shutdown would take seconds.
PER_CALL_S = 0.5


def dead_endpoint() -> str:
    """An http URL on 127.0.0.1 where nothing listens (a port bound, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def telemetry_with_undeliverable_data() -> AzureTelemetry:
    """A pipeline holding 200 logs for a dead endpoint. Memory only: with a disk store
    the shutdown would write them there and finish at once, with nothing to wait for."""
    telemetry = AzureTelemetry(
        connection_string=f"InstrumentationKey={IKEY};IngestionEndpoint={dead_endpoint()}",
        service_name="shutdown-threads",
        batch_delay_s=0.05,
        disable_offline_storage=True,
    )
    for i in range(200):
        assert telemetry._native.emit_log(9, f"undeliverable {i}")
    return telemetry


def slowest_poll_until_shutting_down(telemetry: AzureTelemetry) -> float:
    """Polls ``is_shut_down`` until a shutdown started on another thread shows; returns
    the longest single poll (each must answer at once, also during the shutdown)."""
    slowest = 0.0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seconds, down = timed(lambda: telemetry.is_shut_down)
        slowest = max(slowest, seconds)
        if down is True:
            return slowest
        time.sleep(0.001)
    raise AssertionError("the shutdown never started")


def timed(call: Callable[[], object]) -> tuple[float, object]:
    start = time.monotonic()
    try:
        result: object = call()
    except Exception as e:  # noqa: BLE001 - the result is checked by the caller
        result = e
    return time.monotonic() - start, result


def test_readers_answer_at_once_while_shutdown_waits_for_a_dead_endpoint() -> None:
    telemetry = telemetry_with_undeliverable_data()
    processor = AzureSpanProcessor(telemetry)
    outcome: dict[str, Any] = {}

    def shut_down() -> None:
        start = time.monotonic()
        outcome["ok"] = telemetry.shutdown(timeout_s=SHUTDOWN_S)
        outcome["seconds"] = time.monotonic() - start

    shutter = threading.Thread(target=shut_down, name="shutter")
    shutter.start()
    # Until the shutdown has begun, a flush may legitimately wait its timeout.
    first_polls = slowest_poll_until_shutting_down(telemetry)

    calls: dict[str, Callable[[], object]] = {
        "flush": lambda: telemetry.flush(timeout_s=0.1),
        "stats": telemetry.stats,
        "repr": lambda: repr(telemetry),
        "native repr": lambda: repr(telemetry._native),
        "is_shut_down": lambda: telemetry.is_shut_down,
        "force_flush": lambda: processor.force_flush(100),
    }
    slowest = dict.fromkeys(calls, 0.0)
    slowest["is_shut_down"] = first_polls
    rounds_during_shutdown = 0
    while shutter.is_alive():
        for name, call in calls.items():
            seconds, result = timed(call)
            slowest[name] = max(slowest[name], seconds)
            if name == "flush":
                assert isinstance(result, TelemetryShutDownError), result
            elif name == "stats":
                assert isinstance(result, dict) and result, result
            elif name in ("repr", "native repr"):
                assert isinstance(result, str) and "shut_down=True" in result, result
            elif name == "is_shut_down":
                assert result is True
            elif name == "force_flush":
                assert result is False
        if shutter.is_alive():
            rounds_during_shutdown += 1
        time.sleep(0.02)
    shutter.join()

    assert max(slowest.values()) < PER_CALL_S, f"slowest calls (s): {slowest}"
    # The shutdown really waited for the dead endpoint, and the calls above ran
    # many times meanwhile; otherwise this proved nothing.
    assert outcome["seconds"] >= 1.0, outcome
    assert outcome["ok"] is False  # nothing could be delivered
    assert rounds_during_shutdown >= 10, (rounds_during_shutdown, slowest)
    # Later calls return the first one's result without waiting.
    seconds, again = timed(lambda: telemetry.shutdown(timeout_s=SHUTDOWN_S))
    assert again is False and seconds < PER_CALL_S


def test_a_second_shutdown_waits_at_most_its_own_timeout() -> None:
    telemetry = telemetry_with_undeliverable_data()
    first = threading.Thread(target=lambda: telemetry.shutdown(timeout_s=SHUTDOWN_S))
    first.start()
    assert slowest_poll_until_shutting_down(telemetry) < PER_CALL_S
    seconds, result = timed(lambda: telemetry.shutdown(timeout_s=0.2))
    assert result is False
    assert 0.1 <= seconds < 0.2 + PER_CALL_S, seconds
    assert first.is_alive()  # the first is still waiting for the dead endpoint
    first.join()
