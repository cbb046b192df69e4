"""The Python face of the settings, walked from the Rust core's one list.

Every setting the core declares is a keyword of ``AzureTelemetry`` and of the native
``Telemetry`` stub, of the type its kind asks for, documented with the core's own
sentence; a valid value other than the default reaches the running pipeline, and a value
out of range (or of the wrong type) is refused naming the setting. Adding a setting to
``core/src/config/settings.rs`` without adding it here fails these tests.
"""

from __future__ import annotations

import ast
import inspect
import logging
import math
import re
from pathlib import Path
from typing import Any

import pytest

from genkit_azure_rs import AzureTelemetry, _native

#: Nothing listens on the discard port; nothing here is sent.
UNREACHABLE = "InstrumentationKey=00000000-0000-4000-8000-000000000016;IngestionEndpoint=http://127.0.0.1:9/"

SETTINGS: list[dict[str, Any]] = _native._settings()
TUNED = [s for s in SETTINGS if s["min"] is not None]
STUB = Path(_native.__file__).with_name("_native.pyi")

#: The annotation each kind of setting has, in the package and in the stub.
ANNOTATION = {
    "count": "int | None",
    "bytes": "int | None",
    "duration": "float | None",
    "float": "float | None",
    "text": "str | None",
    "path": "str | os.PathLike[str] | None",
    "flag": "bool",
    "flag_on": "bool",
    "attributes": "Mapping[str, Any] | None",
    "text_map": "Mapping[str, str] | None",
    "prices": "Mapping[str, tuple[float, float]] | None",
    "names": "Sequence[str] | None",
}


def _by_name(settings: list[dict[str, Any]]) -> list[Any]:
    return [pytest.param(s, id=s["python_name"]) for s in settings]


def _start(**settings: Any) -> AzureTelemetry:
    return AzureTelemetry(connection_string=UNREACHABLE, disable_offline_storage=True, **settings)


def _same(got: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) or isinstance(got, float):
        return math.isclose(got, wanted, rel_tol=1e-9, abs_tol=1e-9)
    return bool(got == wanted)


def test_the_list_is_there() -> None:
    names = {s["python_name"] for s in SETTINGS}
    assert {"connection_string", "max_batch_size", "batch_delay_s", "max_disk_bytes", "gzip_level"} <= names
    assert len(TUNED) >= 17


@pytest.mark.parametrize("setting", _by_name(SETTINGS))
def test_every_setting_is_a_keyword_of_azure_telemetry(setting: dict[str, Any]) -> None:
    parameters = inspect.signature(AzureTelemetry.__init__).parameters
    name = setting["python_name"]
    assert name in parameters, f"AzureTelemetry has no keyword {name}"
    assert parameters[name].annotation == ANNOTATION[setting["kind"]], name


@pytest.mark.parametrize("setting", _by_name(SETTINGS))
def test_every_setting_is_a_keyword_of_the_native_stub(setting: dict[str, Any]) -> None:
    tree = ast.parse(STUB.read_text())
    telemetry = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Telemetry")
    init = next(n for n in telemetry.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    keywords = {a.arg: ast.unparse(a.annotation) for a in init.args.kwonlyargs if a.annotation is not None}
    name = setting["python_name"]
    assert name in keywords, f"_native.pyi: Telemetry.__init__ has no keyword {name}"
    assert keywords[name] == ANNOTATION[setting["kind"]], name


def _normalized(text: str) -> str:
    # reST's ``literal`` and Markdown's `literal` say the same.
    return " ".join(text.replace("``", "`").split())


@pytest.mark.parametrize("setting", _by_name(SETTINGS))
def test_the_docstring_documents_every_setting_in_the_cores_words(setting: dict[str, Any]) -> None:
    doc = _normalized(AzureTelemetry.__doc__ or "")
    line = _normalized(setting["doc_line"])
    assert line in doc, f"AzureTelemetry's docstring lacks, word for word:\n    {setting['doc_line']}"


@pytest.mark.parametrize("setting", _by_name(TUNED))
def test_every_setting_set_from_python_reaches_core(setting: dict[str, Any]) -> None:
    valid = setting["example_valid"]
    assert valid != setting["default"]
    telemetry = _start(**{setting["python_name"]: valid})
    try:
        got = telemetry._native._resolved_config()[setting["name"]]
        assert _same(got, valid), (setting["python_name"], got, valid)
    finally:
        telemetry.shutdown(timeout_s=0)


def test_all_settings_at_once_reach_core_and_none_keeps_the_defaults() -> None:
    # Every example that goes with the others (not a rate limit with a ratio).
    telemetry = _start(**{s["python_name"]: s["example_together"] for s in TUNED})
    try:
        resolved = telemetry._native._resolved_config()
        for s in TUNED:
            assert _same(resolved[s["name"]], s["example_together"]), s["name"]
    finally:
        telemetry.shutdown(timeout_s=0)
    telemetry = _start(**{s["python_name"]: None for s in TUNED})
    try:
        resolved = telemetry._native._resolved_config()
        for s in TUNED:
            assert _same(resolved[s["name"]], s["default"]), s["name"]
    finally:
        telemetry.shutdown(timeout_s=0)


@pytest.mark.parametrize("setting", _by_name(TUNED))
def test_every_setting_out_of_range_is_refused_naming_it(setting: dict[str, Any]) -> None:
    name = setting["python_name"]
    for bad in (setting["example_invalid"], -1):
        with pytest.raises(ValueError, match=f"^invalid configuration: {re.escape(name)}: must be between ") as err:
            _start(**{name: bad})
        assert str(setting["max"]) in str(err.value) or name.endswith("_s")


@pytest.mark.parametrize("setting", _by_name(TUNED))
def test_a_value_of_the_wrong_type_is_a_type_error_naming_the_setting(setting: dict[str, Any]) -> None:
    name = setting["python_name"]
    for bad in ("10", True, [1]):
        with pytest.raises(TypeError, match=f"^{re.escape(name)}: expected "):
            _start(**{name: bad})
    if setting["kind"] not in ("duration", "float"):
        with pytest.raises(TypeError, match=f"^{re.escape(name)}: expected an int, got float"):
            _start(**{name: 1.5})


def test_the_error_text_is_the_cores() -> None:
    with pytest.raises(ValueError) as err:
        _start(batch_delay_s=4000)
    assert str(err.value) == "invalid configuration: batch_delay_s: must be between 0 and 3600 s, got 4000"
    with pytest.raises(ValueError) as err:
        _start(retry_base_delay_s=20)
    assert str(err.value) == (
        "invalid configuration: retry_base_delay_s: must be at most retry_max_delay_s (10 s), got 20 s"
    )
    with pytest.raises(ValueError) as err:
        _start(max_batch_size=2**80)
    assert str(err.value) == (
        f"invalid configuration: max_batch_size: must be between 1 and 32768 items, got {2**80}"
    )


def test_an_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="batch_delay_ms"):
        _native.Telemetry(connection_string=UNREACHABLE, batch_delay_ms=5)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="batch_delay_ms"):
        AzureTelemetry(connection_string=UNREACHABLE, batch_delay_ms=5)  # type: ignore[call-arg]


def test_identity_settings_reach_core(tmp_path: Path) -> None:
    telemetry = AzureTelemetry(
        connection_string=UNREACHABLE,
        service_name="svc",
        service_version="2.0",
        service_namespace="ns",
        deployment_environment="staging",
        resource_attributes={"team": "ai"},
        storage_directory=tmp_path / "offline",
    )
    try:
        resolved = telemetry._native._resolved_config()
        assert resolved["storage_directory"] == tmp_path / "offline"
        assert resolved["disable_offline_storage"] is False
        assert "connection_string" not in resolved
        resource = telemetry.resource
        assert (resource["service.name"], resource["service.version"]) == ("svc", "2.0")
        assert (resource["service.namespace"], resource["team"]) == ("ns", "ai")
        assert resource["deployment.environment.name"] == "staging"
        assert resource["telemetry.sdk.language"] == "python"
    finally:
        telemetry.shutdown(timeout_s=0)
    telemetry = _start()
    try:
        assert telemetry._native._resolved_config()["disable_offline_storage"] is True
    finally:
        telemetry.shutdown(timeout_s=0)


def test_log_levels_are_numbers_or_names() -> None:
    telemetry = _start(log_level="warning")
    try:
        assert telemetry.log_level == logging.WARNING
    finally:
        telemetry.shutdown(timeout_s=0)
    with pytest.raises(ValueError, match="log_level"):
        _start(log_level="LOUD")


@pytest.mark.parametrize("severity", [0, 25, -1, 2**40])
def test_a_severity_outside_1_to_24_is_refused_as_c_refuses_it(severity: int) -> None:
    telemetry = _start()
    try:
        with pytest.raises(ValueError) as err:
            telemetry._native.emit_log(severity, "hello")
        # The same words as C's `log.severity_number is 0; expected ...`.
        assert str(err.value) == (
            f"severity_number is {severity}; expected an OpenTelemetry severity number 1..24"
        )
        assert telemetry.stats()["logs_accepted"] == 0
        assert telemetry._native.emit_log(24, "fatal") is True
    finally:
        telemetry.shutdown(timeout_s=0)
