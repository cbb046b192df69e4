"""Wrong configuration fails early and clearly; odd data never crashes anything."""

from __future__ import annotations

import traceback
from collections.abc import Iterator

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
        pytest.param(f"InstrumentationKey={KEY};{KEY}", "the 2nd part", KEY, id="malformed-segment"),
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


# The shapes that quoted the key before issue 15, and what they say now.
LEAKED_BEFORE = [
    pytest.param(
        f"IngestionEndpoint=https://h/ InstrumentationKey={KEY}",
        "IngestionEndpoint (the 1st part, characters 1-84): is not a valid URL",
        id="missing-semicolon",
    ),
    pytest.param(
        f"InstrumentationKey={KEY};IngestionEndpoint={KEY}",
        "IngestionEndpoint (the 2nd part, characters 57-110): is not an http(s) URL",
        id="key-as-endpoint",
    ),
    pytest.param(
        f"InstrumentationKey={KEY};LiveEndpoint=https:///{KEY}",
        "LiveEndpoint (the 2nd part, characters 57-114): has no host",
        id="key-as-path-without-host",
    ),
    pytest.param(
        f"InstrumentationKey={KEY};IngestionEndpoint=http://{KEY}/",
        "IngestionEndpoint (the 2nd part, characters 57-118): uses plain http://",
        id="key-as-plain-http-host",
    ),
    pytest.param(
        f"InstrumentationKey={KEY};Authorization={KEY}",
        "Authorization (the 2nd part, characters 57-106): is not supported",
        id="key-as-authorization",
    ),
]


def exception_texts(e: BaseException) -> Iterator[str]:
    """Everything a log line, a traceback or an error reporter may show of ``e``."""
    yield str(e)
    yield repr(e)
    yield "".join(traceback.format_exception(e))
    yield from (repr(a) for a in e.args)
    yield repr(getattr(e, "object", ""))  # a UnicodeError carries its whole input here
    if e.__cause__ is not None:
        yield from exception_texts(e.__cause__)
    if e.__context__ is not None:
        yield from exception_texts(e.__context__)


def key_windows(key: str) -> set[str]:
    """Every 8 characters of the key, lower case, with and without dashes."""
    out: set[str] = set()
    for form in (KEY, key.strip("{}")):
        for f in (form.lower(), form.lower().replace("-", "")):
            out.update(f[i : i + 8] for i in range(len(f) - 7))
    return out


def assert_hides_key(e: BaseException, key: str, connection_string: str) -> None:
    windows = key_windows(key)
    for shown in exception_texts(e):
        lower = shown.lower()
        leaked = [w for w in windows if w in lower]
        assert not leaked, f"{leaked[0]!r} of the key leaked for {connection_string!r}: {shown}"


@pytest.mark.parametrize(("connection_string", "says"), LEAKED_BEFORE)
def test_the_shapes_that_leaked_now_name_the_part_and_its_characters(connection_string: str, says: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        AzureTelemetry(connection_string=connection_string)
    assert says in str(excinfo.value)
    assert_hides_key(excinfo.value, KEY, connection_string)


def test_a_lone_surrogate_is_located_not_quoted() -> None:
    # Python's own UnicodeEncodeError would carry the whole string, key included.
    connection_string = f"InstrumentationKey={KEY}\udcff"
    with pytest.raises(ValueError, match=r"lone surrogate \(character 56\)") as excinfo:
        AzureTelemetry(connection_string=connection_string)
    assert_hides_key(excinfo.value, KEY, connection_string)
    with pytest.raises(TypeError, match="connection_string: expected a str or None, got bytes"):
        AzureTelemetry(connection_string=f"InstrumentationKey={KEY}".encode())  # type: ignore[arg-type]


def mutated_connection_strings() -> Iterator[tuple[str, str]]:
    """Connection strings holding a key (in several forms), broken in many ways: each
    ``;`` and ``=`` dropped, doubled or replaced, spaces and other characters inserted
    everywhere, the key pasted into every value, every truncation. With the key each
    holds. (The Rust parser's own test runs far more; this checks the Python face.)"""
    variants = [KEY, KEY.upper(), KEY.replace("-", ""), "{" + KEY + "}", KEY[:-1] + "g"]
    for key in variants:
        # The key last: a string that still parses starts a pipeline, which is slow to
        # test, and a cut anywhere before the end breaks the key.
        seeds = [
            f"IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;InstrumentationKey={key}",
            f"IngestionEndpoint=http://127.0.0.1:8080/;Authorization=ikey;InstrumentationKey={key}",
            f"EndpointSuffix=applicationinsights.azure.cn;Location=chinaeast2;InstrumentationKey={key}",
        ]
        for seed in seeds:
            key_part = seed.rindex(";") + 1
            for i in range(len(seed) + 1):
                yield seed[:i], key
                # Characters inserted into the key's part and next to separators (elsewhere
                # most of them only make an unknown setting, ignored, and the string parses).
                if i < key_part and ";" not in seed[i - 1 : i + 1] and "=" not in seed[i - 1 : i + 1]:
                    continue
                for insert in (" ", "=", "\u00e9", "\u6f22", "\U0001f680", "\udcff", "\x00", "\u00a0"):
                    yield seed[:i] + insert + seed[i:], key
            for i, c in enumerate(seed):
                if c in ";=":
                    for replacement in ("", c + c, " ", ",", ":", "\n", key):
                        yield seed[:i] + replacement + seed[i + 1 :], key
            parts = seed.split(";")
            for i, part in enumerate(parts):
                name, _, value = part.partition("=")
                for new in (
                    f"{name}={key}",
                    f"{name}={value} {key}",
                    f"{name}={value} InstrumentationKey={key}",
                    f"{name}=https://{key}",
                    f"{name}=http://{key}/",
                    f"{name}=https:///{key}",
                    f"{name}=https://h:{key}",
                    f"{key}={value}",
                    f"={key}",
                    key,
                    f"{name}=",
                    f"{part};{part}",
                ):
                    yield ";".join([*parts[:i], new, *parts[i + 1 :]]), key
            yield seed.replace(";", " "), key
            yield seed.replace(";", ""), key


def test_no_mutation_of_a_connection_string_puts_the_key_in_an_error() -> None:
    errors = accepted = 0
    for connection_string, key in dict(mutated_connection_strings()).items():
        try:
            telemetry = AzureTelemetry(connection_string=connection_string, disable_offline_storage=True)
        except (ValueError, TypeError) as e:
            errors += 1
            assert_hides_key(e, key, connection_string)
        else:
            accepted += 1
            telemetry.shutdown(timeout_s=0)
    # Mostly broken strings, or the property says little.
    assert errors > 10 * accepted and errors > 5_000, (errors, accepted)


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
