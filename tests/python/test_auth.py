"""Microsoft Entra ID from Python: ``credential=`` takes any object with
``get_token(*scopes)`` (the azure.identity protocol: an ``AccessToken``-like object or a
``(token, expires_on)`` tuple), called on the pipeline's thread; a refused token is
replaced, a failing credential keeps the data and says why without the token, and
``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` means ``ManagedIdentityCredential``."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import types
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from genkit_azure_rs import AzureTelemetry

DEFAULT_SCOPE = "https://monitor.azure.com//.default"


def _auth(emulator: Any, method: str, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(plan).encode() if plan is not None else None
    request = urllib.request.Request(emulator.url + "/auth", data=data, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


@pytest.fixture()
def requires(emulator: Any) -> Iterator[Any]:
    """``requires(token, ...)``: the emulator accepts only these bearer tokens; back to
    requiring none after the test."""

    def require(*tokens: str) -> None:
        _auth(emulator, "POST", {"tokens": [{"token": t} for t in tokens]})

    yield require
    _auth(emulator, "DELETE")


def _auth_stats(emulator: Any) -> dict[str, Any]:
    stats: dict[str, Any] = _auth(emulator, "GET")["stats"]
    return stats


def _os_thread_name() -> str:
    """The calling thread's name as the OS knows it (Python calls threads it did not
    start ``Dummy-N``); ``main`` for the main thread."""
    if threading.current_thread() is threading.main_thread():
        return "main"
    comm = f"/proc/self/task/{threading.get_native_id()}/comm"
    if os.path.exists(comm):
        with open(comm) as f:
            return f.read().strip()
    return threading.current_thread().name


class Token:
    """What azure.identity's AccessToken looks like: ``.token`` and ``.expires_on``."""

    def __init__(self, token: str, expires_on: int) -> None:
        self.token = token
        self.expires_on = expires_on


class FakeCredential:
    """Gives the next of ``tokens`` (the last one again once they run out), as an
    AccessToken-like object or a tuple; raises while ``failing`` is set."""

    def __init__(self, *tokens: str, as_tuple: bool = False) -> None:
        self.tokens = list(tokens)
        self.as_tuple = as_tuple
        self.failing: str | None = None
        self.scopes: list[tuple[str, ...]] = []
        self.threads: list[str] = []

    def get_token(self, *scopes: str) -> Any:
        self.scopes.append(scopes)
        self.threads.append(_os_thread_name())
        if self.failing is not None:
            raise RuntimeError(self.failing)
        token = self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]
        expires_on = int(time.time()) + 3600
        return (token, expires_on) if self.as_tuple else Token(token, expires_on)


def _start(emulator: Any, credential: Any, **settings: Any) -> AzureTelemetry:
    return AzureTelemetry(
        connection_string=emulator.connection_string,
        credential=credential,
        disable_offline_storage=True,
        batch_delay_s=0.05,
        **settings,
    )


def _event_names(emulator: Any) -> list[str]:
    return [e["data"]["baseData"]["name"] for e in emulator.envelopes() if e["name"].endswith(".Event")]


def test_a_credential_objects_token_is_on_every_request(emulator: Any, requires: Any) -> None:
    requires("py-token-Zk3QyA9pLm2X")
    credential = FakeCredential("py-token-Zk3QyA9pLm2X")
    telemetry = _start(emulator, credential)
    try:
        for i in range(3):
            assert telemetry.track_event(f"order {i}")
        assert telemetry.flush(10.0)
        assert sorted(_event_names(emulator)) == ["order 0", "order 1", "order 2"]
        stats = _auth_stats(emulator)
        assert stats["missing"] == 0 and stats["unknown"] == 0
        assert stats["accepted"] >= 1
        # Called once, with the one scope, on the pipeline's own thread.
        assert credential.scopes == [(DEFAULT_SCOPE,)]
        assert credential.threads[0] != "main"
        if sys.platform == "linux":
            assert credential.threads[0].startswith("genkit-azure"), credential.threads
        for text in (repr(telemetry), repr(telemetry._native), str(telemetry.stats())):
            assert "py-token" not in text
    finally:
        telemetry.shutdown(5.0)


def test_a_tuple_works_and_a_refused_token_is_replaced_at_once(emulator: Any, requires: Any) -> None:
    requires("fresh-token-Zk3QyA9pLm2X")
    credential = FakeCredential("stale-token-Zk3QyA9pLm2X", "fresh-token-Zk3QyA9pLm2X", as_tuple=True)
    telemetry = _start(emulator, credential)
    try:
        started = time.monotonic()
        assert telemetry.track_event("after a refusal")
        # The refused batch waits in memory for the new token, then goes.
        deadline = started + 10
        while _event_names(emulator) != ["after a refusal"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _event_names(emulator) == ["after a refusal"]
        assert time.monotonic() - started < 10, "not the minute a refused key waits"
        assert len(credential.scopes) == 2
        stats = _auth_stats(emulator)
        assert stats["unknown"] >= 1 and stats["accepted"] >= 1
        assert telemetry.flush(10.0)
        s = telemetry.stats()
        assert s["items_pending"] == 0 and s["items_rejected"] == 0
    finally:
        telemetry.shutdown(5.0)


def _said(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, wanted: str = "") -> str:
    """What the library said: stderr, and its diagnostics as ``genkit_azure_rs`` records
    (where they go once logging has a handler, as under pytest), in stderr's form. They
    arrive from a thread of their own: waits up to 2 s for ``wanted``."""
    said = ""
    deadline = time.monotonic() + 2.0
    while True:
        said += capfd.readouterr().err
        records = "".join(
            f"genkit-azure: {r.getMessage()}\n" for r in caplog.records if r.name == "genkit_azure_rs"
        )
        if wanted in said + records or time.monotonic() > deadline:
            return said + records
        time.sleep(0.05)


def test_a_failing_credential_keeps_the_data_and_says_why_without_the_token(
    emulator: Any, requires: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    requires("later-token-Zk3QyA9pLm2X")
    credential = FakeCredential("later-token-Zk3QyA9pLm2X")
    # The message quotes something shaped like a JWT: it must not be said.
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJtb25pdG9yIn0.c2lnbmF0dXJl"
    credential.failing = f"no managed identity endpoint (last answer {jwt})"
    telemetry = _start(emulator, credential, retry_base_delay_s=0.05, retry_max_delay_s=0.2)
    try:
        assert telemetry.track_event("kept while the credential fails")
        assert not telemetry.flush(1.0)
        s = telemetry.stats()
        assert s["items_pending"] == 1, s
        assert s["items_rejected"] == 0 and s["dropped_backlog_full"] == 0, s
        assert _event_names(emulator) == []
        assert _auth_stats(emulator)["requestsWithoutToken"] == 0
        said = _said(capfd, caplog, "genkit-azure: Entra ID")
        assert (
            "genkit-azure: Entra ID: could not get a token for scope "
            f"{DEFAULT_SCOPE}: the credential failed: credential.get_token raised "
            "RuntimeError: no managed identity endpoint (last answer <redacted>)"
        ) in said, said
        assert jwt not in said
        credential.failing = None
        assert telemetry.flush(10.0)
        assert _event_names(emulator) == ["kept while the credential fails"]
    finally:
        telemetry.shutdown(5.0)
    assert "later-token" not in _said(capfd, caplog)


def test_a_credential_without_get_token_is_a_type_error(emulator: Any) -> None:
    with pytest.raises(TypeError, match=r"^credential: expected an object with a get_token\(\*scopes\) method"):
        _start(emulator, object())


def test_a_credential_that_returns_something_else_is_said(
    emulator: Any, requires: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    requires("never-given-token-Zk3QyA9p")

    class Wrong:
        def get_token(self, *scopes: str) -> Any:
            return {"token": "never-given-token-Zk3QyA9p"}

    telemetry = _start(emulator, Wrong())
    try:
        telemetry.track_event("x")
        assert not telemetry.flush(0.5)
    finally:
        telemetry.shutdown(0.5)
    said = _said(capfd, caplog, "credential.get_token returned a dict")
    assert "credential.get_token returned a dict; expected an object with .token and .expires_on" in said, said
    assert "never-given-token" not in said


def test_the_aad_audience_is_the_scope(emulator: Any, requires: Any) -> None:
    requires("audience-token-Zk3QyA9p")
    credential = FakeCredential("audience-token-Zk3QyA9p")
    telemetry = AzureTelemetry(
        connection_string=emulator.connection_string + ";Authorization=AAD;AADAudience=https://monitor.azure.us",
        credential=credential,
        disable_offline_storage=True,
        batch_delay_s=0.05,
    )
    try:
        telemetry.track_event("audience")
        assert telemetry.flush(10.0)
        assert credential.scopes == [("https://monitor.azure.us/.default",)]
    finally:
        telemetry.shutdown(5.0)


def test_aad_in_the_connection_string_needs_a_credential(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", raising=False)
    with pytest.raises(ValueError, match=r"credential: the connection string asks for Entra ID .*credential="):
        AzureTelemetry(connection_string=emulator.connection_string + ";Authorization=AAD")


def test_the_authentication_string_means_a_managed_identity(
    emulator: Any, requires: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    requires("managed-token-Zk3QyA9p")
    made: list[dict[str, Any]] = []

    class ManagedIdentityCredential(FakeCredential):
        def __init__(self, **kwargs: Any) -> None:
            made.append(kwargs)
            super().__init__("managed-token-Zk3QyA9p")

    identity = types.ModuleType("azure.identity")
    identity.ManagedIdentityCredential = ManagedIdentityCredential  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure", sys.modules.get("azure", types.ModuleType("azure")))
    monkeypatch.setitem(sys.modules, "azure.identity", identity)
    monkeypatch.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD;ClientId=client-42")
    telemetry = AzureTelemetry(connection_string=emulator.connection_string, disable_offline_storage=True, batch_delay_s=0.05)
    try:
        telemetry.track_event("managed")
        assert telemetry.flush(10.0)
        assert made == [{"client_id": "client-42"}]
        assert _event_names(emulator) == ["managed"]
    finally:
        telemetry.shutdown(5.0)
    # Without ClientId: the system-assigned identity.
    monkeypatch.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD")
    AzureTelemetry(connection_string=emulator.connection_string, disable_offline_storage=True).shutdown(1.0)
    assert made[-1] == {}


def test_without_azure_identity_the_authentication_string_says_what_to_do(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    monkeypatch.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD")
    with pytest.raises(ImportError, match=r"pip install azure-identity`, or pass credential="):
        AzureTelemetry(connection_string=emulator.connection_string)
    # A credential passed in needs no azure-identity.
    AzureTelemetry(
        connection_string=emulator.connection_string, credential=FakeCredential("t-Zk3QyA9p"), disable_offline_storage=True
    ).shutdown(1.0)


def test_a_malformed_authentication_string_is_a_value_error_naming_the_part(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=Basic")
    with pytest.raises(
        ValueError, match=r"^APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Authorization \(part 1\) is not supported"
    ):
        AzureTelemetry(connection_string=emulator.connection_string)
