"""An app records its own telemetry: a business event and a handled exception inside a
request span, another exception and an availability result outside any span, then
every kind of wrong argument, each of which must raise and send nothing."""

from __future__ import annotations

from typing import Any

from _common import current_ids, emit_result
from opentelemetry import trace

from genkit_azure_rs import AzureTelemetry


class OrderNotFound(LookupError):
    pass


def lookup(order: int) -> None:
    try:
        {}[order]
    except KeyError as e:
        raise OrderNotFound(f"order {order} does not exist") from e


telemetry = AzureTelemetry(service_name="custom-py", batch_delay_s=0.05)
telemetry.initialize()
tracer = trace.get_tracer("custom-app")

with tracer.start_as_current_span("POST /orders"):
    inside = current_ids()
    telemetry.track_event(
        "order placed",
        properties={"tier": "gold", "items": 3, "note": "ü" * 9000},
        measurements={"amount": 12.5, "lines": 2},
    )
    try:
        lookup(42)
    except OrderNotFound:
        telemetry.track_exception(properties={"order": "42"})

telemetry.track_exception(TimeoutError("gave up"))
telemetry.track_availability(
    "home page", False, 1234.5, run_location="westeurope", message="timed out", properties={"probe": "p1"}
)

BAD_CALLS: dict[str, Any] = {
    "event name not a str": lambda: telemetry.track_event(42),  # type: ignore[arg-type]
    "event name empty": lambda: telemetry.track_event(""),
    "properties not a mapping": lambda: telemetry.track_event("e", properties=["a"]),  # type: ignore[arg-type]
    "measurement not a number": lambda: telemetry.track_event("e", measurements={"m": "1"}),  # type: ignore[dict-item]
    "measurement is a bool": lambda: telemetry.track_event("e", measurements={"m": True}),
    "measurement NaN": lambda: telemetry.track_event("e", measurements={"m": float("nan")}),
    "no exception handled": lambda: telemetry.track_exception(),
    "exc not an exception": lambda: telemetry.track_exception("boom"),  # type: ignore[arg-type]
    "success not a bool": lambda: telemetry.track_availability("t", 1, 10.0),  # type: ignore[arg-type]
    "duration negative": lambda: telemetry.track_availability("t", True, -1.0),
    "duration NaN": lambda: telemetry.track_availability("t", True, float("nan")),
    "duration not a number": lambda: telemetry.track_availability("t", True, "10"),  # type: ignore[arg-type]
    "run_location not a str": lambda: telemetry.track_availability("t", True, 1.0, run_location=3),  # type: ignore[arg-type]
    "availability name empty": lambda: telemetry.track_availability("", True, 1.0),
}
refused = {}
for what, call in BAD_CALLS.items():
    try:
        call()
        refused[what] = None
    except (TypeError, ValueError) as e:
        refused[what] = f"{type(e).__name__}: {e}"

flushed = telemetry.flush(timeout_s=20)
emit_result({"flushed": flushed, "inside": inside, "refused": refused, "stats": telemetry.stats()})
telemetry.shutdown(timeout_s=10)
