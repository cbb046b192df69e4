"""Helpers shared by the log handler and the structlog processor."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from typing import Any

from opentelemetry import trace

#: The library's own logger. Its records are never exported (no feedback loops).
LIBRARY_LOGGER = "genkit_azure_rs"

_reentry = threading.local()


def is_library_logger(name: str | None) -> bool:
    """True for ``genkit_azure_rs`` and its children."""
    if not name:
        return False
    return name == LIBRARY_LOGGER or name.startswith(LIBRARY_LOGGER + ".")


def current_trace_ids() -> tuple[int, int] | None:
    """``(trace_id, span_id)`` of the span current in the OpenTelemetry context, if any."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        return ctx.trace_id, ctx.span_id
    return None


def severity_number(levelno: int) -> int:
    """A stdlib level as an OpenTelemetry severity number (DEBUG 5, INFO 9, WARNING 13, ERROR 17, CRITICAL 21)."""
    if levelno >= logging.CRITICAL:
        return 21
    if levelno >= logging.ERROR:
        return 17
    if levelno >= logging.WARNING:
        return 13
    if levelno >= logging.INFO:
        return 9
    if levelno >= logging.DEBUG:
        return 5
    return 1


def exception_attributes(exc_info: Any) -> dict[str, str]:
    """``exception.type`` / ``exception.message`` / ``exception.stacktrace`` for an exc_info
    tuple, an exception instance, or ``True`` (the exception being handled)."""
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or len(exc_info) != 3 or exc_info[1] is None:
        return {}
    etype, value, tb = exc_info
    etype = etype or type(value)
    module = getattr(etype, "__module__", "") or ""
    qualname = str(getattr(etype, "__qualname__", None) or getattr(etype, "__name__", "Exception"))
    type_name = qualname if module in ("builtins", "__main__", "") else f"{module}.{qualname}"
    try:
        message = str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break logging
        message = f"<unprintable {type_name}>"
    try:
        stack = "".join(traceback.format_exception(etype, value, tb))
    except Exception:  # noqa: BLE001
        stack = ""
    return {
        "exception.type": type_name,
        "exception.message": message,
        "exception.stacktrace": stack,
    }


class reentry_guard:
    """Context manager: ``entered`` is False when this thread is already exporting a record
    (something logged while we were exporting): that inner record is skipped."""

    __slots__ = ("entered",)

    def __enter__(self) -> reentry_guard:
        self.entered = not getattr(_reentry, "active", False)
        if self.entered:
            _reentry.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self.entered:
            _reentry.active = False
