"""structlog integration: trace correlation and export of structlog events.

Genkit logs through structlog with a print logger, so its events never reach stdlib
``logging``. :func:`inject_azure_trace_context` sits in structlog's processor chain
(right before the renderer) and, for every event:

* adds ``operation_Id`` / ``operation_ParentId`` (32-hex trace id / 16-hex span id)
  when the event is emitted inside a span, so console lines can be joined with
  Application Insights; and
* forwards the event to the Rust log pipeline of the initialized
  :class:`~genkit_azure_rs.AzureTelemetry` (event text as the message, the other keys
  as properties, the level from the method name).
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from . import _native
from ._context import current_trace_ids, exception_attributes, is_library_logger, reentry_guard, severity_number

_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}

#: Keys that are about the event, not properties of it.
_SKIP_KEYS = frozenset({"event", "exc_info", "stack_info", "operation_Id", "operation_ParentId", "_record", "_from_structlog"})


@dataclass(frozen=True)
class _Sink:
    telemetry: _native.Telemetry
    level: int


_sink: _Sink | None = None


def set_sink(telemetry: _native.Telemetry | None, level: int = logging.INFO) -> None:
    """Where forwarded events go (the most recently initialized AzureTelemetry)."""
    global _sink
    _sink = None if telemetry is None else _Sink(telemetry, level)


def current_sink_telemetry() -> _native.Telemetry | None:
    sink = _sink
    return None if sink is None else sink.telemetry


def _level_of(method_name: str, event_dict: MutableMapping[str, Any]) -> int:
    level = _LEVELS.get(method_name)
    if level is None:
        named = event_dict.get("level")
        level = _LEVELS.get(named.lower(), logging.INFO) if isinstance(named, str) else logging.INFO
    return level


def inject_azure_trace_context(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: add ``operation_Id`` / ``operation_ParentId`` and forward the event."""
    ids = current_trace_ids()
    if ids is not None:
        event_dict["operation_Id"] = format(ids[0], "032x")
        event_dict["operation_ParentId"] = format(ids[1], "016x")
    sink = _sink
    if sink is None:
        return event_dict
    level = _level_of(method_name, event_dict)
    logger_name = event_dict.get("logger") or getattr(logger, "name", None)
    if level < sink.level or is_library_logger(logger_name if isinstance(logger_name, str) else None):
        return event_dict
    with reentry_guard() as guard:
        if guard.entered:
            try:
                _forward(sink, level, event_dict, ids, logger_name)
            except Exception:  # noqa: BLE001 - logging must never raise into the app
                pass
    return event_dict


def _forward(
    sink: _Sink,
    level: int,
    event_dict: MutableMapping[str, Any],
    ids: tuple[int, int] | None,
    logger_name: Any,
) -> None:
    attributes = {k: v for k, v in event_dict.items() if k not in _SKIP_KEYS}
    exc_info = event_dict.get("exc_info")
    if exc_info:
        attributes.update(exception_attributes(exc_info))
    event = event_dict.get("event", "")
    sink.telemetry.emit_log(
        severity_number(level),
        event if isinstance(event, str) else str(event),
        attributes,
        ids[0] if ids else None,
        ids[1] if ids else None,
        logger_name if isinstance(logger_name, str) else "structlog",
        None,
    )


def install_processor() -> bool:
    """Inserts :func:`inject_azure_trace_context` once, right before the renderer (the
    last processor). Returns True when it was added now, False when it already was
    there or structlog is not installed."""
    try:
        import structlog
    except ImportError:
        return False
    processors = list(structlog.get_config()["processors"])
    if any(p is inject_azure_trace_context for p in processors):
        return False
    processors.insert(max(len(processors) - 1, 0), inject_azure_trace_context)
    structlog.configure(processors=processors)
    return True
