"""Type stubs for the compiled module ``genkit_azure_rs._native``."""

import os
from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span

__version__: str
CORE_VERSION: str

class TelemetryShutDownError(RuntimeError):
    """The telemetry pipeline is shut down; nothing more is accepted or flushed."""

class Telemetry:
    """The Rust telemetry pipeline (a bounded queue and a background runtime that
    batches and sends envelopes)."""

    def __init__(
        self,
        *,
        connection_string: str | None = None,
        service_name: str | None = None,
        service_version: str | None = None,
        service_namespace: str | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        max_batch_size: int | None = None,
        max_batch_bytes: int | None = None,
        batch_delay_s: float | None = None,
        queue_capacity: int | None = None,
        storage_directory: str | os.PathLike[str] | None = None,
        disable_offline_storage: bool = False,
        thread_nice: int | None = None,
    ) -> None:
        """Starts the pipeline. Raises ValueError for a missing or invalid connection
        string (the message names the part and its characters, never the key) or an
        out-of-range setting, TypeError for a connection string that is not a str."""
    @property
    def resource(self) -> dict[str, Any]: ...
    @property
    def service_name(self) -> str: ...
    @property
    def ingestion_endpoint(self) -> str: ...
    @property
    def is_shut_down(self) -> bool:
        """True from the moment a shutdown starts; never waits."""
    def push_span(self, span: ReadableSpan) -> bool:
        """Queues a finished span; False when not sampled or the queue was full."""
    def emit_log(
        self,
        severity_number: int,
        body: object,
        attributes: Mapping[str, Any] | None = None,
        trace_id: int | None = None,
        span_id: int | None = None,
        logger_name: str | None = None,
        time_ns: int | None = None,
    ) -> bool:
        """Queues a log record; False when the queue was full. Raises
        TelemetryShutDownError after shutdown."""
    def flush(self, timeout_s: float = 10.0) -> bool:
        """Waits until everything queued so far is delivered. Raises
        TelemetryShutDownError after shutdown."""
    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Delivers what it can and stops; idempotent (returns the first result; a call
        made while another is still shutting down waits for it, at most ``timeout_s``)."""
    def stats(self) -> dict[str, int]:
        """The pipeline's counters by name, plus ``envelopes_rejected_status_<code>``
        (envelopes a 206 rejected one by one) and ``requests_rejected_status_<code>``
        (whole requests rejected) for each HTTP status seen."""

class SpanProcessor:
    """An OpenTelemetry SDK span processor feeding a Telemetry pipeline."""

    def __init__(self, telemetry: Telemetry, *, shutdown_timeout_s: float = 10.0) -> None: ...
    @property
    def telemetry(self) -> Telemetry: ...
    def on_start(self, span: Span, parent_context: Context | None = None) -> None: ...
    def _on_ending(self, span: Span) -> None: ...
    def on_end(self, span: ReadableSpan) -> None: ...
    def shutdown(self) -> None: ...
    def force_flush(self, timeout_millis: int = 30000) -> bool: ...
