"""Custom telemetry from Python (``track_event``, ``track_exception``,
``track_availability``), checked at the emulator field by field: inside a span they
belong to its operation (id, parent and name), outside one to none; oversized values are cut at character
boundaries; wrong arguments raise naming the argument and send nothing."""

from __future__ import annotations

from typing import Any

from _helpers import base, kind, of_kind


def _operation_tags(envelope: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in envelope["tags"].items() if k.startswith("ai.operation.")}


def test_events_exceptions_and_availability_arrive_field_by_field(run_app, emulator) -> None:
    run = run_app("custom_telemetry")
    assert run.result["flushed"] is True
    inside = run.result["inside"]
    arrived = emulator.envelopes()
    (span,) = [e for e in arrived if kind(e) == "RemoteDependency"]
    assert base(span)["id"] == inside["span_id"]
    envelopes = [e for e in arrived if kind(e) in ("Event", "Exception", "Availability")]
    assert sorted(kind(e) for e in envelopes) == ["Availability", "Event", "Exception", "Exception"]
    for e in envelopes:
        assert e["iKey"] == "11111111-2222-3333-4444-555555555555"
        assert e["tags"]["ai.cloud.role"] == "custom-py"
        assert e["tags"]["ai.internal.sdkVersion"].startswith("genkit-azure:python:")
        assert "sampleRate" not in e
        assert e["data"]["baseType"] == kind(e) + "Data"
    # Inside the span: its trace and span, and its operation's name (the root's).
    in_span = {
        "ai.operation.id": inside["trace_id"],
        "ai.operation.parentId": inside["span_id"],
        "ai.operation.name": "POST /orders",
    }

    (event,) = of_kind(envelopes, "Event")
    assert _operation_tags(event) == in_span
    data = base(event)
    note = data["properties"].pop("note")
    assert note == "ü" * 4096, "9,000 two-byte characters cut to 8,192 bytes"
    assert data == {
        "ver": 2,
        "name": "order placed",
        "properties": {"tier": "gold", "items": "3"},
        "measurements": {"amount": 12.5, "lines": 2},
    }

    by_type = {base(e)["exceptions"][0]["typeName"]: e for e in of_kind(envelopes, "Exception")}
    assert set(by_type) == {"OrderNotFound", "TimeoutError"}
    handled = by_type["OrderNotFound"]
    assert _operation_tags(handled) == in_span
    (detail,) = base(handled)["exceptions"]
    stack = detail.pop("stack")
    assert detail == {"typeName": "OrderNotFound", "message": "order 42 does not exist", "hasFullStack": True}
    # The full formatted stack: the cause, the frames, the exception itself.
    assert stack.startswith("Traceback (most recent call last):")
    assert "KeyError: 42" in stack and "The above exception was the direct cause" in stack
    assert 'in lookup\n    raise OrderNotFound(f"order {order} does not exist") from e' in stack
    assert stack.endswith("OrderNotFound: order 42 does not exist\n")
    assert base(handled)["properties"] == {"order": "42"}
    assert set(base(handled)) == {"ver", "exceptions", "properties"}

    timeout = by_type["TimeoutError"]
    assert _operation_tags(timeout) == {}, "recorded outside any span"
    assert base(timeout) == {
        "ver": 2,
        "exceptions": [
            # Never raised: its stack is the exception line alone.
            {"typeName": "TimeoutError", "message": "gave up", "hasFullStack": True, "stack": "TimeoutError: gave up\n"}
        ],
    }

    (availability,) = of_kind(envelopes, "Availability")
    assert _operation_tags(availability) == {}
    data = base(availability)
    run_id = data.pop("id")
    assert len(run_id) == 16 and int(run_id, 16) >= 0
    assert data == {
        "ver": 2,
        "name": "home page",
        "duration": "0.00:00:01.234500",
        "success": False,
        "runLocation": "westeurope",
        "message": "timed out",
        "properties": {"probe": "p1"},
    }

    stats = run.result["stats"]
    assert (stats["custom_accepted"], stats["spans_accepted"]) == (4, 1)
    assert stats["items_delivered"] == 5
    assert stats["values_truncated"] == 1


def test_wrong_arguments_raise_naming_the_argument_and_send_nothing(run_app) -> None:
    refused = run_app("custom_telemetry").result["refused"]
    assert refused == {
        "event name not a str": "TypeError: name: expected a str, got int",
        "event name empty": "ValueError: invalid argument: name: must not be empty",
        "properties not a mapping": "TypeError: properties: expected a mapping (dict) or None, got list",
        "measurement not a number": "TypeError: measurements['m']: expected an int or a float, got str",
        "measurement is a bool": "TypeError: measurements['m']: expected an int or a float, got bool",
        "measurement NaN": "ValueError: invalid argument: measurements: measurement 'm' has a non-finite value",
        "no exception handled": "ValueError: exc: no exception is being handled; pass the exception to track",
        "exc not an exception": "TypeError: exc: expected an exception or None, got str",
        "success not a bool": "TypeError: success: expected a bool, got int",
        "duration negative": "ValueError: duration_ms: must be a finite, non-negative number of milliseconds, got -1",
        "duration NaN": "ValueError: duration_ms: must be a finite, non-negative number of milliseconds, got NaN",
        "duration not a number": "TypeError: duration_ms: expected an int or a float, got str",
        "run_location not a str": "TypeError: run_location: expected a str, got int",
        "availability name empty": "ValueError: invalid argument: name: must not be empty",
    }
