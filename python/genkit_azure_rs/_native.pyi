"""Type stubs for the compiled module ``genkit_azure_rs._native``."""

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from typing_extensions import Self

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span

__version__: str
CORE_VERSION: str

class TelemetryShutDownError(RuntimeError):
    """The telemetry pipeline is shut down; nothing more is accepted or flushed."""

def _settings() -> list[dict[str, Any]]:
    """The Rust core's list of settings as Python names them (for tests)."""

def _install_diagnostic_sink() -> None:
    """Routes the core's diagnostics to ``genkit_azure_rs._diagnostics.emit`` through a
    thread of its own (done at import; again in a forked child, which lacks that thread)."""

def _authentication_string(value: str) -> dict[str, str | None] | None:
    """``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` read by the core: None when it asks
    for nothing, ``{"client_id": ...}`` for Entra ID with a managed identity. ValueError
    naming the part when it is malformed."""

class Telemetry:
    """The Rust telemetry pipeline (a bounded queue and a background runtime that
    batches and sends envelopes)."""

    def __init__(
        self,
        *,
        connection_string: str | None = None,
        credential: object | None = None,
        service_name: str | None = None,
        service_version: str | None = None,
        service_namespace: str | None = None,
        deployment_environment: str | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        storage_directory: str | os.PathLike[str] | None = None,
        disable_offline_storage: bool = False,
        log_input_and_output: bool = False,
        enable_trace_based_sampling_for_logs: bool = False,
        force_dev_export: bool = True,
        disable_traces: bool = False,
        disable_metrics: bool = False,
        disable_logs: bool = False,
        enable_live_metrics: bool = True,
        enable_agent_reparenting: bool = True,
        agent_ids: Mapping[str, str] | None = None,
        model_prices: Mapping[str, tuple[float, float]] | None = None,
        agent_flows: Sequence[str] | None = None,
        max_batch_size: int | None = None,
        max_batch_bytes: int | None = None,
        batch_delay_s: float | None = None,
        queue_capacity: int | None = None,
        max_queue_bytes: int | None = None,
        spill_capacity: int | None = None,
        max_concurrent_exports: int | None = None,
        request_timeout_s: float | None = None,
        worker_threads: int | None = None,
        thread_nice: int | None = None,
        metric_export_interval_s: float | None = None,
        retry_base_delay_s: float | None = None,
        retry_max_delay_s: float | None = None,
        max_backlog_bytes: int | None = None,
        gzip_level: int | None = None,
        max_disk_bytes: int | None = None,
        disk_retention_s: float | None = None,
        disk_lease_s: float | None = None,
        metric_series_limit: int | None = None,
        sampling_ratio: float | None = None,
        traces_per_second: float | None = None,
    ) -> None:
        """Starts the pipeline. Every setting of the Rust core is a keyword, converted and
        checked from the core's one list (see ``AzureTelemetry`` for what each means).
        ``credential`` (not a setting: an object) is any object with ``get_token(*scopes)``,
        called on the pipeline's thread; TypeError without one.
        ``None`` keeps the default. Raises ValueError for a missing or invalid connection
        string (the message names the part and its characters, never the key) or an
        out-of-range setting (the message names it and its range), TypeError for a value
        of the wrong type or an unknown keyword."""
    @property
    def exports(self) -> dict[str, bool]:
        """The signals this pipeline exports (``traces``, ``metrics``, ``logs``, ``custom``),
        after the ``disable_*`` flags and ``GENKIT_ENV``."""
    def _resolved_config(self) -> dict[str, Any]:
        """The settings the pipeline runs with, by the core's names, durations in float
        seconds (never the connection string). For tests."""
    @property
    def resource(self) -> dict[str, Any]: ...
    @property
    def service_name(self) -> str: ...
    @property
    def ingestion_endpoint(self) -> str: ...
    @property
    def is_shut_down(self) -> bool:
        """True from the moment a shutdown starts; never waits."""
    @property
    def sampling(self) -> str | None:
        """What sampling does (``"keeps 25% of traces"``, ``"keeps about 5 traces/s"``),
        or None when every trace is kept."""
    def sample_root(self, trace_id: int) -> tuple[bool, float]:
        """Decides whether the trace whose root starts now is kept: ``(keep, percentage
        kept)``. Once per root (a rate limit counts it): the span processor then reads
        the decision from the root's ``_MS.sampleRate`` attribute."""
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
        """Queues a log record; False when the queue was full. Raises ValueError for a
        ``severity_number`` outside 1..24 (as C refuses it), TelemetryShutDownError after
        shutdown."""
    def track_event(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        measurements: Mapping[str, float] | None = None,
        *,
        trace_id: int | None = None,
        span_id: int | None = None,
        operation_name: str | None = None,
        time_ns: int | None = None,
    ) -> bool:
        """Queues a custom event; False when the queue was full. TypeError or ValueError
        naming a wrong argument."""
    def track_exception(
        self,
        type_name: str,
        message: str,
        stack: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        trace_id: int | None = None,
        span_id: int | None = None,
        operation_name: str | None = None,
        time_ns: int | None = None,
    ) -> bool:
        """Queues a handled exception; False when the queue was full."""
    def track_availability(
        self,
        name: str,
        success: bool,
        duration_ms: float,
        run_location: str | None = None,
        message: str | None = None,
        properties: Mapping[str, Any] | None = None,
        measurements: Mapping[str, float] | None = None,
        *,
        trace_id: int | None = None,
        span_id: int | None = None,
        operation_name: str | None = None,
        time_ns: int | None = None,
    ) -> bool:
        """Queues an availability test result; False when the queue was full."""
    def record_metric(
        self,
        name: str,
        kind: Literal["counter", "up_down_counter", "histogram", "gauge"],
        value: float,
        attributes: Mapping[str, Any] | None = None,
        *,
        count: int | None = None,
        min: float | None = None,
        max: float | None = None,
    ) -> bool:
        """Queues one metric point (a histogram's may summarise ``count`` measurements
        from ``min`` to ``max`` whose sum is ``value``); False when the queue was full.
        ValueError for an empty name, a non-finite value, a counter going down."""
    def metric_producer(self) -> MetricProducer:
        """Registers a metric producer: each collection first asks it for its points."""
    def flush(self, timeout_s: float = 10.0) -> bool:
        """True when everything accepted before the call (and since the previous flush) was delivered or written to disk to be sent from there, and none of it was lost; False when some
        of it was rejected or dropped, or the timeout passed first. Raises
        TelemetryShutDownError after shutdown."""
    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Delivers what it can and stops; idempotent (returns the first result; a call
        made while another is still shutting down waits for it, at most ``timeout_s``)."""
    def stats(self) -> dict[str, int]:
        """The pipeline's counters by name, plus ``envelopes_rejected_status_<code>``
        (envelopes a 206 rejected one by one) and ``requests_rejected_status_<code>``
        (whole requests rejected) for each HTTP status seen."""
    def _hold_ended_spans(self) -> None:
        """Span processors feeding this pipeline hold ended spans from now on and convert
        them sixteen at a time; the caller calls ``_convert_held_spans`` every half second."""
    def _convert_held_spans(self) -> bool:
        """Converts and queues the spans held; False once the pipeline is shut down."""
    def _adopt_after_fork(self, replacement: Telemetry | None) -> None:
        """In a forked child: feed ``replacement``'s pipeline from now on (None: count as
        shut down); the old pipeline, whose threads did not survive the fork, is leaked."""

class MetricProducer:
    """The pipeline's metric clock, for the thread that collects an SDK metric reader.
    Freed = unregistered."""

    def wait(self) -> bool:
        """Blocks (without the GIL) until a collection is due (True) or the pipeline shuts
        down (False, for good)."""
    def collected(self) -> None:
        """Says the points of the collection asked for are recorded."""

class SpanProcessor:
    """An OpenTelemetry SDK span processor feeding a Telemetry pipeline."""

    # The native class takes its arguments in __new__ (subclasses pass them there).
    def __new__(cls, telemetry: Telemetry, *, shutdown_timeout_s: float = 10.0) -> Self: ...
    @property
    def telemetry(self) -> Telemetry: ...
    def on_start(self, span: Span, parent_context: Context | None = None) -> None: ...
    def _on_ending(self, span: Span) -> None: ...
    def on_end(self, span: ReadableSpan) -> None: ...
    def shutdown(self) -> None: ...
    def force_flush(self, timeout_millis: int = 30000) -> bool: ...
