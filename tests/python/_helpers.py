"""Reading envelopes the emulator accepted."""

from __future__ import annotations

from typing import Any


def kind(envelope: dict[str, Any]) -> str:
    """``Request``, ``RemoteDependency``, ``Message``, ``Exception``, ..."""
    return envelope["name"].rsplit(".", 1)[-1]


def base(envelope: dict[str, Any]) -> dict[str, Any]:
    return envelope["data"]["baseData"]


def of_kind(envelopes: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in envelopes if kind(e) == name]


def span_envelopes(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in envelopes if kind(e) in ("Request", "RemoteDependency")]


def props(envelope: dict[str, Any]) -> dict[str, str]:
    return base(envelope).get("properties", {})


def text(envelope: dict[str, Any]) -> str:
    """The message of a Message, the first exception message of an Exception, else the name."""
    b = base(envelope)
    if "message" in b:
        return b["message"]
    if "exceptions" in b:
        return b["exceptions"][0]["message"]
    return b.get("name", "")
