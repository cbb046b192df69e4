"""Wrong configuration fails early and clearly; odd data never crashes anything."""

from __future__ import annotations

import pytest
from _helpers import base, of_kind, props, span_envelopes, text

from genkit_azure_rs import AzureTelemetry

KEY = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def test_missing_connection_string_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    with pytest.raises(ValueError, match="APPLICATIONINSIGHTS_CONNECTION_STRING"):
        AzureTelemetry()


@pytest.mark.parametrize(
    ("connection_string", "names", "secret"),
    [
        pytest.param("IngestionEndpoint=https://example.com", "InstrumentationKey", None, id="no-key"),
        pytest.param("InstrumentationKey=my-secret-key-1234", "InstrumentationKey", "my-secret-key-1234", id="not-a-guid"),
        pytest.param(
            f"InstrumentationKey={KEY};IngestionEndpoint=http://ingest.example.com",
            "IngestionEndpoint",
            KEY,
            id="plain-http-remote",
        ),
        pytest.param(f"InstrumentationKey={KEY};{KEY}", "segment 2", KEY, id="malformed-segment"),
        pytest.param(f"InstrumentationKey={KEY};instrumentationkey={KEY}", "InstrumentationKey", KEY, id="duplicate"),
    ],
)
def test_invalid_connection_string_names_the_part_and_hides_the_key(
    connection_string: str, names: str, secret: str | None
) -> None:
    with pytest.raises(ValueError) as excinfo:
        AzureTelemetry(connection_string=connection_string)
    message = str(excinfo.value)
    assert names.lower() in message.lower()
    if secret is not None:
        assert secret not in message
        assert secret not in repr(excinfo.value)


def test_invalid_connection_string_from_the_environment_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=nope-secret")
    with pytest.raises(ValueError) as excinfo:
        AzureTelemetry()
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in str(excinfo.value)
    assert "InstrumentationKey" in str(excinfo.value)
    assert "nope-secret" not in str(excinfo.value)


def test_out_of_range_settings_are_value_errors(emulator) -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        AzureTelemetry(connection_string=emulator.connection_string, max_batch_size=0)
    with pytest.raises(ValueError, match="batch_delay_s"):
        AzureTelemetry(connection_string=emulator.connection_string, batch_delay_s=-1)
    with pytest.raises(ValueError, match="max_batch_bytes"):
        AzureTelemetry(connection_string=emulator.connection_string, max_batch_bytes=10)
    for nice in (-1, 20, 1000):
        with pytest.raises(ValueError, match=f"thread_nice: must be between 0 and 19, got {nice}"):
            AzureTelemetry(connection_string=emulator.connection_string, thread_nice=nice)


def test_odd_values_arrive_cut_at_character_boundaries(run_app, emulator) -> None:
    run = run_app("odd_values")
    assert run.result["flushed"] is True
    envelopes = emulator.envelopes()
    by_name = {base(e)["name"]: e for e in span_envelopes(envelopes)}
    assert set(by_name) == {"odd-span", "after-odd"}

    odd = props(by_name["odd-span"])
    huge = "日本語テキスト" * 50_000
    assert 0 < len(odd["huge"]) <= 8192 and huge.startswith(odd["huge"])
    assert len(odd["huge"].encode()) <= 8192
    assert odd["edge"] == "a" * 8191  # 'é' would cross the 8192-byte limit: cut before it
    assert odd["big_int"] == str(2**100)
    assert odd["negative_big_int"] == str(-(2**70))
    assert odd["emoji"] == "🚀" * 2048  # 8192 bytes of 4-byte characters
    assert "1.5" in odd["floats"] and "2.5" in odd["floats"]
    # A lone surrogate becomes replacement characters (one per byte of its UTF-8 form).
    def replaced(value: str, before: str, after: str) -> bool:
        middle = value[len(before) : len(value) - len(after)]
        return value.startswith(before) and value.endswith(after) and set(middle) == {"\ufffd"}

    assert replaced(odd["lone_surrogate"], "a", "b")
    (odd_key,) = [k for k in odd if k.startswith("key_")]
    assert replaced(odd_key, "key_", "") and odd[odd_key] == "value of an odd key"
    (odd_event,) = [e for e in of_kind(envelopes, "Message") if text(e).startswith("odd-event")]
    assert replaced(text(odd_event), "odd-event", "")
    assert props(odd_event)["edge"] == "a" * 8191

    def message(prefix: str) -> dict:
        (found,) = [e for e in of_kind(envelopes, "Message") if text(e).startswith(prefix)]
        return found

    record = message("odd record ")
    assert text(record).startswith("odd record éé") and set(text(record)[11:]) == {"é"}
    assert len(text(record).encode()) <= 32768
    p = props(record)
    assert p["nested"] == str({"a": {"b": [1, 2, {"c": None}]}})
    assert p["nothing"] == "None"
    assert p["big_int"] == str(10**30)
    assert p["mixed"] == str([1, "two", 3.0])
    assert p["edge"] == "a" * 8191
    assert p["raw"] == str(b"\xff\xfe bytes")

    event = props(message("odd structlog event"))
    assert event["nested"] == str({"k": [1, {"x": None}]})
    assert event["nothing"] == "None"
    assert huge.startswith(event["huge"]) and len(event["huge"].encode()) <= 8192

    # The pipeline kept working after all of that.
    assert "still working" in [text(e) for e in of_kind(envelopes, "Message")]
    stats = run.result["stats"]
    assert stats["values_truncated"] > 0
    assert stats["dropped_mapping_error"] == 0 and stats["items_export_failed"] == 0
    assert stats["envelopes_rejected"] == 0
