"""``AzureTelemetry``: wires OpenTelemetry tracing and metrics, stdlib logging and
structlog to the Rust export pipeline."""

from __future__ import annotations

import atexit
import importlib.metadata
import logging
import os
import sys
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics._internal import _ProxyMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from . import _held_spans, _instrumentation, _native, _propagation, _structlog
# Loaded here so the native diagnostics thread finds it imported, never importing itself.
from . import _diagnostics  # noqa: F401
from ._context import LIBRARY_LOGGER, current_trace_ids, exception_attributes
from ._credential import TokenCredential, credential_from_environment
from ._logging import AzureLogHandler
from ._metrics import AzureMetricReader
from ._sampling import parent_based

_log = logging.getLogger(LIBRARY_LOGGER)
_log.addHandler(logging.NullHandler())


def _genkit_version() -> str | None:
    """The installed Genkit's version: Genkit's metrics carry it as ``sourceVersion``."""
    try:
        return importlib.metadata.version("genkit")
    except importlib.metadata.PackageNotFoundError:
        return None


def _level_number(level: int | str) -> int:
    """A stdlib logging level given as a number or a name (``"INFO"``), as a number."""
    if isinstance(level, str):
        number = logging.getLevelName(level.upper())
        if not isinstance(number, int):
            raise ValueError(f"log_level: unknown level name {level!r}")
        return number
    return int(level)


#: Every pipeline built in this process and not yet collected: a forked child renews them.
_PIPELINES: weakref.WeakSet[AzureTelemetry] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The thread that hands diagnostics to logging did not survive the fork either.
    _native._install_diagnostic_sink()
    for telemetry in list(_PIPELINES):
        telemetry._renew_after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


class AzureSpanProcessor(_native.SpanProcessor, SpanProcessor):
    """An OpenTelemetry SDK span processor that hands every finished span straight to
    the Rust pipeline.

    ``on_end`` reads the span's fields in Rust and queues it without blocking; there is
    no Python ``BatchSpanProcessor`` and no Python export thread. ``force_flush``
    flushes the Rust pipeline (so ``TracerProvider.force_flush()`` delivers), and
    ``shutdown`` stops it (so ``TracerProvider.shutdown()`` does too).

    :meth:`AzureTelemetry.initialize` adds one to the global provider; for a provider of
    your own, ``provider.add_span_processor(AzureSpanProcessor(telemetry))``.
    """

    # Nothing to do when a span is ending. The SDK calls this for every span: its own no-op
    # is a Python call the interpreter makes without leaving its loop, cheaper than a call
    # into the extension (callgrind, the app's thread: 166 instructions and 13
    # instruction-cache misses a span fewer).
    _on_ending = SpanProcessor._on_ending

    def __new__(
        cls, telemetry: AzureTelemetry | _native.Telemetry, *, shutdown_timeout_s: float = 10.0
    ) -> AzureSpanProcessor:
        native = telemetry._native if isinstance(telemetry, AzureTelemetry) else telemetry
        return super().__new__(cls, native, shutdown_timeout_s=shutdown_timeout_s)

    def __init__(
        self, telemetry: AzureTelemetry | _native.Telemetry, *, shutdown_timeout_s: float = 10.0
    ) -> None:
        # The native base took the arguments in __new__.
        super().__init__()
        if isinstance(telemetry, AzureTelemetry):
            telemetry._hold_ended_spans()


class AzureTelemetry:
    """Azure Monitor (Application Insights) telemetry for a Genkit app.

    Every setting of the Rust core is a keyword here, with the same name as in Rust and
    C; durations are float seconds and end in ``_s``. ``None`` (the default) keeps the
    core's default. The first sentence of each entry below is the core's own
    declaration of the setting (a test checks it word for word).

    Args:
        connection_string: The Application Insights connection string; unset reads
            ``APPLICATIONINSIGHTS_CONNECTION_STRING``.
        credential: Microsoft Entra ID: any object with ``get_token(*scopes)`` returning
            an object with ``.token`` and ``.expires_on`` (seconds since the epoch) or a
            ``(token, expires_on)`` tuple, such as an ``azure.identity`` credential. Every
            request then carries a bearer token for ``https://monitor.azure.com//.default``
            (or ``<AADAudience>/.default``), whatever the connection string's
            ``Authorization``. It is called on the pipeline's background thread (the GIL
            taken for the call only): first when the first request needs a token (never
            at construction or :meth:`initialize`), then before a token expires and once
            after the service refuses one; while it fails, data is kept and a diagnostic says why. ``None``:
            ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD[;ClientId=...]``
            makes it ``azure.identity.ManagedIdentityCredential``; otherwise the
            instrumentation key alone (and ``Authorization=AAD`` is an error).
        service_name: The service's name (``service.name``), shown as the cloud role.
            ``None`` means: ``OTEL_SERVICE_NAME``, else ``service.name`` in
            ``OTEL_RESOURCE_ATTRIBUTES``, else ``"genkit-app"``. A name passed here always
            wins.
        service_version: The service's version (``service.version``), shown as the
            application version. Here it defaults to ``"1.0.0"``; ``None`` omits it.
        enable_live_metrics: Stream Live Metrics (QuickPulse) to the portal while someone
            watches it. Counters, sample documents and the portal's filtered views are
            posted every second from the Rust runtime while a viewer is there; otherwise a
            ping goes every 5 s (60 s after a minute unwatched). ``False`` sends nothing
            to the live endpoint.
        log_level: The lowest stdlib / structlog level exported.
        service_namespace: The service's namespace (``service.namespace``), which
            prefixes the cloud role.
        deployment_environment: The deployment environment (`deployment.environment.name`:
            `prod`, `staging`, ...).
        resource_attributes: More resource attributes; a value set in code wins over the
            environment.
        storage_directory: Where undeliverable batches wait on disk, to be resent by this
            or a later process with the same key. Default: a private directory per user
            and key under the temp dir.
        disable_offline_storage: Keep undeliverable batches in memory only, for read-only
            or ephemeral file systems.
        log_input_and_output: Export prompts and responses (`genkit:input`, `genkit:output`,
            cut to the property limit) and Input/Output log records. Off, both are
            ``<redacted>`` (tokens, finish reasons and latency are read first).
        enable_trace_based_sampling_for_logs: Sample logs and custom telemetry with their
            trace: dropped with a dropped trace, and carrying a kept one's `sampleRate`.
            Off, they are all kept and carry no ``sampleRate``.
        sampling_ratio: The share of traces kept, whole, chosen by trace id as every
            Application Insights SDK chooses. 0.0 to 1.0, default 1.0. Kept envelopes
            carry ``sampleRate`` = ratio × 100. Not together with ``traces_per_second``.
            Left unset, ``OTEL_TRACES_SAMPLER=microsoft.fixed_percentage`` with
            ``OTEL_TRACES_SAMPLER_ARG`` sets it (a value that cannot be read is a
            ``ValueError`` naming the variable).
        traces_per_second: Keep about this many traces a second, whole, decided at each
            root; 0 sets no limit. 0.0 to 1000000.0 traces/s, default 0.0 traces/s. Left
            unset, ``OTEL_TRACES_SAMPLER=microsoft.rate_limited`` with
            ``OTEL_TRACES_SAMPLER_ARG`` sets it. When :meth:`initialize` creates the
            ``TracerProvider``, a dropped trace's spans are never recorded (so Genkit's
            metrics count kept traces only); on an existing provider they are dropped
            before export, after Genkit's metrics counted them.
        force_dev_export: Export even when `GENKIT_ENV=dev`. Off, a process in Genkit's dev
            mode exports nothing.
        disable_traces: Export no spans; Genkit's metrics and logs are still derived from
            them.
        disable_metrics: Export no metrics: no Genkit metrics, no metric points, no
            `_OTELRESOURCE_`.
        disable_logs: Export no logs: no log records, no Genkit log records. No log handler
            or structlog forwarding is installed.
        enable_agent_reparenting: Export a Genkit agent's model and tool calls as direct
            children of its `invoke_agent` dependency, as Azure's Agents view looks them
            up. The true parent stays in the property ``genkit_azure.genkit_parent_id``
            and the turn and ``generate`` spans are still exported; ``False`` exports the
            tree as Genkit made it.
        agent_ids: Agent ids by Genkit agent name, for `gen_ai.agent.id` (Foundry matches
            spans to a registered agent by it). An agent not listed has its name as id.
        model_prices: Prices by Genkit model name, in USD per million input and output
            tokens: model calls then carry their cost (`microsoft.gen_ai.cost.input` /
            `.output`). ``{"googleai/gemini-2.5-flash": (0.3, 2.5)}``; the key may also be
            the model as ``gen_ai.request.model`` says it. A model not listed, or no table,
            adds no cost.
        agent_flows: Genkit flows to present as agents (`invoke_agent` dependencies, as
            `genkit.exp` agents are). For apps whose agent is a flow: spans inside it name
            it, its model and tool calls go under it, it carries their token totals.
        max_batch_size: Items per export request. 1 to 32768 items, default 1024 items.
        max_batch_bytes: A batch also closes when its spans' and logs' text reaches this
            many bytes. 1024 to 67108864 bytes, default 1048576 bytes.
        batch_delay_s: How long a partly filled batch waits before it is sent. 0 to 3600
            s, default 1 s.
        queue_capacity: Items the ingest queue holds; past that, items spill to disk or
            are dropped and counted. 1 to 16777216 items, default 65536 items.
        max_queue_bytes: Bytes of content the ingest queue holds, and apart from it the
            spill queue; past that, items spill to disk or are dropped and counted, as
            past ``queue_capacity``. 65536 to 1099511627776 bytes, default 268435456 bytes.
        spill_capacity: Items the spill queue holds, where spans and logs go to disk when
            the ingest queue is full. 1 to 16777216 items, default 65536 items.
        max_concurrent_exports: Export requests in flight at once. 1 to 64 requests,
            default 2 requests.
        request_timeout_s: Timeout of one HTTP request. 0.001 to 600 s, default 10 s.
        worker_threads: Threads of the background runtime. 1 to 64 threads, default 2
            threads.
        thread_nice: How far the background threads defer to the app's for CPU, as a
            Linux nice increment. 0 to 19, default 10. 0 keeps the app's priority; the
            app's own threads are never touched.
        metric_export_interval_s: How often aggregated metric points are exported,
            besides every flush. 0.1 to 86400 s, default 60 s.
        retry_base_delay_s: First retry delay after a transient failure; it doubles per
            attempt, with full jitter. 0.001 to 3600 s, default 0.5 s.
        retry_max_delay_s: Longest delay between retries, and the longest a recovered
            endpoint waits for its first probe. 0.001 to 3600 s, default 10 s.
        max_backlog_bytes: Compressed bytes kept in memory for retry; past that the
            oldest go, counted. 65536 to 1099511627776 bytes, default 67108864 bytes.
        gzip_level: The gzip level of request bodies, from 0 (stored) to 9 (smallest).
            0 to 9, default 3.
        max_disk_bytes: Disk cap for this key's directory; past it the oldest files are
            dropped, counted. 1024 to 1099511627776 bytes, default 52428800 bytes.
        disk_retention_s: Files older than this are dropped, counted. 1 to 2592000 s,
            default 172800 s.
        disk_lease_s: How long a file being sent stays this process's, and never less
            than twice ``request_timeout``. 1 to 3600 s, default 30 s.
        metric_series_limit: Attribute sets one metric may have; a point with a new set
            past that folds into the metric's ``otel.metric.overflow`` series, counted.
            1 to 1000000 series, default 2000 series.
        instrumentation_options: Per library, whether :meth:`initialize` instruments it
            and how, in the official distro's shape: ``{"flask": {"enabled": False}}``;
            other keys of an entry go to that instrumentor's ``instrument()``
            (``excluded_urls``, ``request_hook``, ...). Libraries: ``django``,
            ``fastapi``, ``flask``, ``psycopg``, ``psycopg2``, ``requests``, ``httpx``,
            ``urllib``, ``urllib3``; each is instrumented when it and its
            ``opentelemetry-instrumentation-*`` package are installed
            (``pip install genkit-azure-rs[instrumentation]``).

    Raises:
        ValueError: at construction, when the connection string is missing (the message
            names ``APPLICATIONINSIGHTS_CONNECTION_STRING``) or invalid (the message
            names the broken part and never contains the instrumentation key), or a
            setting is out of range (the message names it and its range).
        TypeError: when a setting is of the wrong type (``max_batch_size="10"``), or
            ``credential`` has no ``get_token``.
        ImportError: ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` asks for Entra ID, no
            ``credential`` was passed and ``azure-identity`` is not installed.

    The export pipeline (a Rust runtime with its own threads) starts at construction;
    :meth:`initialize` connects tracing and logging to it.
    """

    def __init__(
        self,
        connection_string: str | None = None,
        service_name: str | None = None,
        service_version: str | None = "1.0.0",
        enable_live_metrics: bool = True,
        log_level: int | str = logging.INFO,
        *,
        credential: TokenCredential | None = None,
        service_namespace: str | None = None,
        deployment_environment: str | None = None,
        resource_attributes: Mapping[str, Any] | None = None,
        storage_directory: str | os.PathLike[str] | None = None,
        disable_offline_storage: bool = False,
        log_input_and_output: bool = False,
        enable_trace_based_sampling_for_logs: bool = False,
        sampling_ratio: float | None = None,
        traces_per_second: float | None = None,
        force_dev_export: bool = True,
        disable_traces: bool = False,
        disable_metrics: bool = False,
        disable_logs: bool = False,
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
        instrumentation_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        genkit_version = _genkit_version()
        if genkit_version is not None:
            # Set in code, so it wins over the environment; the user's own wins over it.
            resource_attributes = {"genkit.version": genkit_version, **(resource_attributes or {})}
        if isinstance(agent_flows, str):
            raise TypeError("agent_flows: expected a sequence of flow names, got a str")
        if credential is None:
            credential = credential_from_environment()
        # Kept to build the same pipeline again in a forked child (see _renew_after_fork).
        self._native_settings: dict[str, Any] = dict(
            connection_string=connection_string,
            credential=credential,
            service_name=service_name,
            service_version=service_version,
            service_namespace=service_namespace,
            deployment_environment=deployment_environment,
            resource_attributes=resource_attributes,
            storage_directory=storage_directory,
            disable_offline_storage=disable_offline_storage,
            log_input_and_output=log_input_and_output,
            enable_trace_based_sampling_for_logs=enable_trace_based_sampling_for_logs,
            sampling_ratio=sampling_ratio,
            traces_per_second=traces_per_second,
            force_dev_export=force_dev_export,
            disable_traces=disable_traces,
            disable_metrics=disable_metrics,
            disable_logs=disable_logs,
            enable_live_metrics=enable_live_metrics,
            enable_agent_reparenting=enable_agent_reparenting,
            agent_ids=None if agent_ids is None else dict(agent_ids),
            model_prices=None if model_prices is None else {m: tuple(p) for m, p in model_prices.items()},
            agent_flows=None if agent_flows is None else [str(f) for f in agent_flows],
            max_batch_size=max_batch_size,
            max_batch_bytes=max_batch_bytes,
            batch_delay_s=batch_delay_s,
            queue_capacity=queue_capacity,
            max_queue_bytes=max_queue_bytes,
            spill_capacity=spill_capacity,
            max_concurrent_exports=max_concurrent_exports,
            request_timeout_s=request_timeout_s,
            worker_threads=worker_threads,
            thread_nice=thread_nice,
            metric_export_interval_s=metric_export_interval_s,
            retry_base_delay_s=retry_base_delay_s,
            retry_max_delay_s=retry_max_delay_s,
            max_backlog_bytes=max_backlog_bytes,
            gzip_level=gzip_level,
            max_disk_bytes=max_disk_bytes,
            disk_retention_s=disk_retention_s,
            disk_lease_s=disk_lease_s,
            metric_series_limit=metric_series_limit,
        )
        self._native = _native.Telemetry(**self._native_settings)
        self._instrumentation_options = _instrumentation.validate_options(instrumentation_options)
        self.enable_live_metrics = bool(enable_live_metrics)
        self.log_level = _level_number(log_level)
        self._lock = threading.RLock()
        self._initialized = False
        self._tracer_provider: TracerProvider | None = None
        self._span_processor: AzureSpanProcessor | None = None
        self._log_handler: AzureLogHandler | None = None
        self._meter_provider: MeterProvider | None = None
        self._metric_reader: AzureMetricReader | None = None
        self._atexit_registered = False
        # Whether the span processors hold ended spans (see _hold_ended_spans).
        self._holding_spans = False
        _PIPELINES.add(self)

    # -- information -----------------------------------------------------------------

    @property
    def service_name(self) -> str:
        """The resolved ``service.name``."""
        return self._native.service_name

    @property
    def resource(self) -> dict[str, Any]:
        """The resource every item carries."""
        return self._native.resource

    @property
    def tracer_provider(self) -> TracerProvider | None:
        """The SDK ``TracerProvider`` the span processor was added to (after initialize)."""
        return self._tracer_provider

    @property
    def meter_provider(self) -> MeterProvider | None:
        """The SDK ``MeterProvider`` the metric reader was added to (after initialize)."""
        return self._meter_provider

    @property
    def metric_reader(self) -> AzureMetricReader | None:
        return self._metric_reader

    @property
    def span_processor(self) -> AzureSpanProcessor | None:
        return self._span_processor

    @property
    def log_handler(self) -> AzureLogHandler | None:
        return self._log_handler

    @property
    def instrumentations(self) -> dict[str, str]:
        """What :meth:`initialize` did with each library it knows, by name:
        ``instrumented``, ``traced by the library itself`` (FastAPI 0.165+),
        ``instrumented when imported``, ``disabled``, ``not installed``,
        ``instrumentation not installed``, ``instrumented by the application``,
        ``skipped`` or ``failed`` (said once through the ``genkit_azure_rs`` logger)."""
        return _instrumentation.status()

    @property
    def is_shut_down(self) -> bool:
        """True from the moment :meth:`shutdown` starts (nothing is accepted after that).
        Never waits, even while a shutdown is still sending."""
        return self._native.is_shut_down

    def __repr__(self) -> str:
        return (
            f"AzureTelemetry(service_name={self.service_name!r}, "
            f"ingestion_endpoint={self._native.ingestion_endpoint!r}, "
            f"initialized={self._initialized}, shut_down={self.is_shut_down})"
        )

    # -- lifecycle -------------------------------------------------------------------

    def initialize(self) -> AzureTelemetry:
        """Connects tracing, metrics, stdlib logging and structlog to the pipeline.
        Idempotent.

        * Makes sure an SDK ``TracerProvider`` is global: an existing one (Genkit's or
          the application's) is reused; otherwise one is created with this service's
          resource and set global (Genkit then reuses it). The span processor is added
          to it once. With ``sampling_ratio`` or ``traces_per_second``, a provider created
          here samples with :class:`AzureSampler` (a dropped trace's spans are never
          recorded); on a reused one the span processor drops them before export.
        * Unless metrics are off (``disable_metrics``, or Genkit's dev mode without
          ``force_dev_export``), likewise an SDK ``MeterProvider`` (Genkit 0.12 creates
          none): an :class:`AzureMetricReader` is added to the global one, or one is
          created with it and set global. Counters, up-down counters, histograms and
          gauges of the ``opentelemetry.metrics`` API then reach Application Insights as
          customMetrics, their attributes as dimensions, every
          ``metric_export_interval_s`` and on :meth:`flush`.
        * Unless logs are off (``disable_logs``, or Genkit's dev mode without
          ``force_dev_export``):
          adds an :class:`AzureLogHandler` at ``log_level`` to the root logger once,
          and lowers the root logger's level to ``log_level`` if it was higher
          (otherwise records below WARNING would never reach any handler).
        * Inserts :func:`inject_azure_trace_context` into structlog's processors once,
          right before the renderer.
        * Registers an ``atexit`` shutdown (skipped if :meth:`shutdown` ran already).
          A child process forked afterwards (``os.fork()``, a ``multiprocessing``
          "fork" pool, gunicorn ``--preload``) gets a fresh pipeline with the same
          settings and exports its own telemetry; the parent's queue stays the
          parent's. The child's pipeline is shut down at its exit: by ``atexit``, or by
          ``multiprocessing``'s finalizers in its workers (so end a pool with
          ``close()`` and ``join()``; ``terminate()`` kills workers with what they have
          not sent yet).
        * Unless traces are off: enables the OpenTelemetry instrumentations of the
          installed web frameworks, HTTP clients and database drivers (see
          ``instrumentation_options``; a library not imported yet is instrumented when
          it is), and accepts a classic ``Request-Id`` header as the parent of an
          incoming request that has no ``traceparent``. Calls to the ingestion
          endpoint are never traced.
        """
        with self._lock:
            if self._initialized:
                return self
            if self._native.is_shut_down:
                raise _native.TelemetryShutDownError("the telemetry pipeline is shut down")

            provider = self._ensure_tracer_provider()
            if provider is not None:
                self._span_processor = AzureSpanProcessor(self)
                provider.add_span_processor(self._span_processor)
                self._tracer_provider = provider

            if self._native.exports["metrics"]:
                self._start_metrics()

            if self._native.exports["logs"]:
                self._log_handler = AzureLogHandler(self._native, self.log_level)
                self._log_handler.addFilter(_instrumentation.OwnTrafficLogFilter(self._native.ingestion_endpoint))
                root = logging.getLogger()
                root.addHandler(self._log_handler)
                if root.level != logging.NOTSET and root.level > self.log_level:
                    root.setLevel(self.log_level)

                _structlog.set_sink(self._native, self.log_level)
                _structlog.install_processor()

            if provider is not None and self._native.exports["traces"]:
                # After the providers: instrumentations take the global ones.
                _propagation.install_request_id_fallback()
                _instrumentation.enable(self._instrumentation_options, self._native.ingestion_endpoint)

            if not self._atexit_registered:
                atexit.register(self._at_exit)
                self._atexit_registered = True
            self._initialized = True

        _log.info(
            "Azure telemetry initialized (service_name=%s, live_metrics=%s)",
            self.service_name,
            self.enable_live_metrics,
            extra={"service_name": self.service_name, "live_metrics": self.enable_live_metrics},
        )
        return self

    def _ensure_tracer_provider(self) -> TracerProvider | None:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        if isinstance(current, trace.ProxyTracerProvider):
            resource = Resource.create(self._native.resource)
            if self._native.sampling is None:
                # The SDK's own sampler (OTEL_TRACES_SAMPLER's, else parent-based always-on).
                created = TracerProvider(resource=resource)
            else:
                # A dropped trace's spans are never recorded.
                created = TracerProvider(resource=resource, sampler=parent_based(self._native))
            trace.set_tracer_provider(created)
            current = trace.get_tracer_provider()  # someone may have won a race
            if isinstance(current, TracerProvider):
                return current
        _log.warning(
            "the global tracer provider is a %s, not an OpenTelemetry SDK TracerProvider; "
            "spans will not be exported to Azure Monitor",
            type(current).__name__,
        )
        return None

    def _start_metrics(self) -> None:
        reader = AzureMetricReader(self._native, self._native._resolved_config()["metric_series_limit"])
        provider = metrics.get_meter_provider()
        if not isinstance(provider, MeterProvider):
            # The API's placeholder until someone sets a provider (there is no public name).
            if not isinstance(provider, _ProxyMeterProvider):
                _log.warning(
                    "the global meter provider is a %s, not an OpenTelemetry SDK MeterProvider; "
                    "metrics will not be exported to Azure Monitor",
                    type(provider).__name__,
                )
                return
            created = MeterProvider(metric_readers=[reader], resource=Resource.create(self._native.resource))
            metrics.set_meter_provider(created)
            provider = metrics.get_meter_provider()  # someone may have won a race
            if provider is not created:
                created.shutdown()
                reader = AzureMetricReader(self._native, self._native._resolved_config()["metric_series_limit"])
                if not isinstance(provider, MeterProvider):
                    return
                provider.add_metric_reader(reader)
        else:
            # An SDK provider set up before us (the application's): join it.
            provider.add_metric_reader(reader)
        reader.start()
        self._metric_reader = reader
        self._meter_provider = provider

    def _stop_metrics(self) -> None:
        """Hands over what the SDK holds, then takes the reader off its provider."""
        reader, provider = self._metric_reader, self._meter_provider
        if reader is None or provider is None:
            return
        reader.collect_now()
        reader.shutdown()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Sends everything recorded so far and waits up to ``timeout_s`` seconds.

        Returns True when everything accepted before the call (and since the previous flush) was delivered or written to disk to be sent from there, and none of it was lost (``stats()`` shows what waits on
        disk: ``items_persisted``, ``disk_bytes``); False when some of it was rejected or
        dropped, or the timeout passed first.

        Metrics the OpenTelemetry SDK holds are collected first, so they go too.

        Raises:
            TelemetryShutDownError: (a ``RuntimeError``) after :meth:`shutdown`.
        """
        if self._metric_reader is not None and not self._native.is_shut_down:
            self._metric_reader.collect_now()
        return self._native.flush(timeout_s)

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Delivers what it can within ``timeout_s`` seconds and stops the pipeline.

        Detaches the log handler and the structlog forwarding; hands over the metrics the
        OpenTelemetry SDK holds and takes the metric reader off its provider; the span
        processor stays on the provider but does nothing more. Returns True when everything accepted was
        delivered or written to disk to be sent from there, and none of it was lost. Idempotent: later calls return the first call's result (a call made
        while another thread is still shutting down waits for it, at most ``timeout_s``).
        Other threads are never held up meanwhile: ``flush`` raises
        :class:`TelemetryShutDownError` at once, and ``stats``, ``repr`` and
        ``is_shut_down`` answer at once.
        """
        with self._lock:
            if self._atexit_registered:
                atexit.unregister(self._at_exit)
                self._atexit_registered = False
            self._stop_metrics()
        # The pipeline refuses every item from here on, logs and spans alike; only then
        # is the log handler detached. Detached first, a log written inside a span in
        # between was lost while its span was still taken.
        result = self._native.shutdown(timeout_s)
        with self._lock:
            if self._log_handler is not None:
                logging.getLogger().removeHandler(self._log_handler)
            if _structlog.current_sink_telemetry() is self._native:
                _structlog.set_sink(None)
            reader, provider = self._metric_reader, self._meter_provider
            self._metric_reader = None
        if reader is not None and provider is not None:
            # The pipeline's shutdown ended the reader's wait; then the SDK stops
            # aggregating for it.
            reader.join(timeout_s=1.0)
            try:
                provider.remove_metric_reader(reader)
            except Exception:  # noqa: BLE001 - an SDK without it, or a provider shut down
                pass
        return result

    # -- custom telemetry ------------------------------------------------------------

    def track_event(
        self,
        name: str,
        properties: Mapping[str, Any] | None = None,
        measurements: Mapping[str, float] | None = None,
    ) -> bool:
        """Records a business event (customEvents) named ``name``.

        ``properties`` become its dimensions (values exported as text, cut at 8,192
        characters); ``measurements`` are named numbers. Inside an active OpenTelemetry
        span the event belongs to that span's operation. Returns True when queued, False
        when the queue was full (counted in ``dropped_queue_full``); never blocks.

        Raises:
            TypeError: an argument of the wrong type (the message names it).
            ValueError: an empty ``name`` or a measurement that is NaN or infinite.
            TelemetryShutDownError: after :meth:`shutdown`.
        """
        trace_id, span_id = current_trace_ids() or (None, None)
        return self._native.track_event(name, properties, measurements, trace_id=trace_id, span_id=span_id)

    def track_exception(
        self, exc: BaseException | None = None, properties: Mapping[str, Any] | None = None
    ) -> bool:
        """Records a handled exception: ``exc``, or when None the exception being handled
        (call it in an ``except`` block), with its type, message and full formatted stack
        (chained causes included). Inside an active OpenTelemetry span it belongs to that
        span's operation. Returns True when queued, False when the queue was full.

        Raises:
            TypeError: ``exc`` is not an exception, or ``properties`` not a mapping.
            ValueError: ``exc`` is None and no exception is being handled.
            TelemetryShutDownError: after :meth:`shutdown`.
        """
        if exc is None:
            exc = sys.exc_info()[1]
            if exc is None:
                raise ValueError("exc: no exception is being handled; pass the exception to track")
        elif not isinstance(exc, BaseException):
            raise TypeError(f"exc: expected an exception or None, got {type(exc).__name__}")
        fields = exception_attributes(exc)
        trace_id, span_id = current_trace_ids() or (None, None)
        return self._native.track_exception(
            fields["exception.type"],
            fields["exception.message"],
            fields["exception.stacktrace"] or None,
            properties,
            trace_id=trace_id,
            span_id=span_id,
        )

    def track_availability(
        self,
        name: str,
        success: bool,
        duration_ms: float,
        run_location: str | None = None,
        message: str | None = None,
        properties: Mapping[str, Any] | None = None,
        measurements: Mapping[str, float] | None = None,
    ) -> bool:
        """Records the result of one availability test run (the availability blade):
        the test's ``name``, whether it succeeded, how long it took in milliseconds, where
        it ran and what happened. Inside an active OpenTelemetry span it belongs to that
        span's operation. Returns True when queued, False when the queue was full.

        Raises:
            TypeError: an argument of the wrong type (``success`` must be a bool).
            ValueError: an empty ``name``, a negative or non-finite ``duration_ms``, a
                measurement that is NaN or infinite.
            TelemetryShutDownError: after :meth:`shutdown`.
        """
        trace_id, span_id = current_trace_ids() or (None, None)
        return self._native.track_availability(
            name,
            success,
            duration_ms,
            run_location,
            message,
            properties,
            measurements,
            trace_id=trace_id,
            span_id=span_id,
        )

    def stats(self) -> dict[str, int]:
        """The pipeline's counters by name (``spans_accepted``, ``logs_accepted``,
        ``envelopes_delivered``, ``persisted_batches``, ``dropped_queue_full``, ...),
        plus ``envelopes_rejected_status_<code>`` (envelopes a partial answer refused one
        by one) and ``requests_rejected_status_<code>`` (whole requests), by HTTP status."""
        return self._native.stats()

    def _hold_ended_spans(self) -> None:
        """Has the span processors hold ended spans to convert several in a row, with
        the thread that bounds how long (see ``_held_spans``). Once per process."""
        with self._lock:
            if self._holding_spans or self._native.is_shut_down:
                return
            _held_spans.start(self._native)
            self._holding_spans = True

    def _renew_after_fork(self) -> None:
        """In a child process just forked: a fresh pipeline with the same settings.

        The pipeline's runtime threads do not exist in the child, so its queue would
        never be sent, and a flush or shutdown would wait on them. The native
        ``Telemetry`` object stays (the span processor, log handler, metric reader,
        sampler and structlog forwarding all hold it) and is pointed at a new pipeline
        built here; the old one is leaked, never flushed, shut down or dropped (see
        ``_native.Telemetry._adopt_after_fork``). What the parent had queued stays the
        parent's to send; the child sends only its own. Both use the same storage
        directory, whose files are leased, so none is sent twice.
        """
        # A lock another parent thread held at the fork would stay held forever.
        self._lock = threading.RLock()
        if self._native.is_shut_down:
            return
        try:
            replacement = _native.Telemetry(**self._native_settings)
        except Exception:  # noqa: BLE001 - a fork hook must never raise into the host
            _log.warning("Azure telemetry is off in this forked child: no new pipeline", exc_info=True)
            self._native._adopt_after_fork(None)
            return
        self._native._adopt_after_fork(replacement)
        if self._holding_spans:
            # The new pipeline holds none yet, and the parent's thread is not here.
            self._holding_spans = False
            self._hold_ended_spans()
        if self._metric_reader is not None:
            self._metric_reader.restart_after_fork()
        mp_util = sys.modules.get("multiprocessing.util")
        if self._initialized and mp_util is not None:
            # A multiprocessing child ends with os._exit: atexit never runs there, its
            # finalizers do (unless the pool terminates it). Registered from its
            # after-fork hooks, which run after it empties the finalizers it inherited.
            mp_util.register_after_fork(self, AzureTelemetry._shut_down_with_multiprocessing)

    def _shut_down_with_multiprocessing(self) -> None:
        import multiprocessing.util

        multiprocessing.util.Finalize(self, self._at_exit, exitpriority=0)

    def _at_exit(self) -> None:
        if not self._native.is_shut_down:
            self.shutdown()

    def __enter__(self) -> AzureTelemetry:
        return self.initialize()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
