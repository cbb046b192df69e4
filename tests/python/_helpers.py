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


def by_span_id(envelopes: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Span envelopes (Requests and dependencies) by their span id; a list, so duplicates show."""
    out: dict[str, list[dict[str, Any]]] = {}
    for e in span_envelopes(envelopes):
        out.setdefault(base(e)["id"], []).append(e)
    return out


def metric_points(envelopes: list[dict[str, Any]], name: str) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The aggregated points of the metric ``name`` (customMetrics: ``value``, ``count``,
    ``min``, ``max``), each with its dimensions."""
    return [
        (point, props(e))
        for e in of_kind(envelopes, "Metric")
        for point in base(e)["metrics"]
        if point["name"] == name
    ]


def metric_total(envelopes: list[dict[str, Any]], name: str, **dimensions: str) -> float:
    """The sum of the metric ``name`` over every exported point whose dimensions include these."""
    return sum(
        point["value"]
        for point, dims in metric_points(envelopes, name)
        if all(dims.get(k) == v for k, v in dimensions.items())
    )
