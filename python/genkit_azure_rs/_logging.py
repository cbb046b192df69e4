"""A stdlib ``logging.Handler`` that forwards records to the Rust log pipeline."""

from __future__ import annotations

import logging
from typing import Any

from . import _native
from ._context import current_trace_ids, exception_attributes, is_library_logger, reentry_guard, severity_number

#: Attributes every ``LogRecord`` has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    # Added to every record by opentelemetry-instrumentation-logging (Genkit turns it on):
    # the trace context travels as ai.operation.id / parentId instead.
    "otelSpanID",
    "otelTraceID",
    "otelTraceSampled",
    "otelServiceName",
}


class AzureLogHandler(logging.Handler):
    """Forwards stdlib log records, with the trace context current when they are
    emitted, to Application Insights.

    The message is ``record.getMessage()``; ``extra=`` fields become properties;
    an exception (``logger.exception(...)``, ``exc_info=``) becomes
    ``exception.type`` / ``exception.message`` / ``exception.stacktrace``, which the
    pipeline exports as an Exception item that keeps the log message. Records of the
    ``genkit_azure_rs`` logger are never forwarded.
    """

    def __init__(self, telemetry: _native.Telemetry, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._native = telemetry

    def emit(self, record: logging.LogRecord) -> None:
        if is_library_logger(record.name):
            return
        with reentry_guard() as guard:
            if not guard.entered:
                return
            try:
                self._forward(record)
            except _native.TelemetryShutDownError:
                pass
            except Exception:  # noqa: BLE001 - logging must never raise into the app
                self.handleError(record)

    def _forward(self, record: logging.LogRecord) -> None:
        attributes: dict[str, Any] = {
            key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRS
        }
        attributes["code.filepath"] = record.pathname
        attributes["code.function"] = record.funcName
        attributes["code.lineno"] = record.lineno
        if record.exc_info:
            attributes.update(exception_attributes(record.exc_info))
        ids = current_trace_ids()
        self._native.emit_log(
            severity_number(record.levelno),
            record.getMessage(),
            attributes,
            ids[0] if ids else None,
            ids[1] if ids else None,
            record.name,
            int(record.created * 1_000_000_000),
        )
