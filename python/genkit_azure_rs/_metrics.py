"""OpenTelemetry metrics into the Rust pipeline: a ``MetricReader`` whose collections
go to Rust, collected on the pipeline's own clock.

The SDK's ``MeterProvider`` records every measurement as the OpenTelemetry API
specifies (instrument kinds, views, attribute handling, cardinality limits) and
aggregates it in place; this reader asks it for deltas and hands each series over as
one point: a sum, a gauge's value, or a histogram's sum, count, min and max (the
fields Application Insights keeps, so histograms record no buckets). So the cost per
measurement is the SDK's own, and what crosses into Rust is one point per series per
interval, never one per measurement. Rust merges the series with its own, applies
its cardinality limit and keeps up-down counters' totals.

A collection happens every ``metric_export_interval_s`` when the pipeline asks (a
thread waits for that inside Rust, without the GIL), and on
:meth:`AzureTelemetry.flush` and :meth:`AzureTelemetry.shutdown`.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
    _Gauge,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    Gauge,
    MetricReader,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.metrics.view import Aggregation, ExplicitBucketHistogramAggregation

from . import _native
from ._context import LIBRARY_LOGGER

_log = logging.getLogger(LIBRARY_LOGGER)

_INSTRUMENTS: tuple[type, ...] = (
    Counter,
    UpDownCounter,
    Histogram,
    _Gauge,
    ObservableCounter,
    ObservableUpDownCounter,
    ObservableGauge,
)


class AzureMetricReader(MetricReader):
    """An OpenTelemetry ``MetricReader`` that hands every collection to a Rust pipeline
    (deltas of every instrument kind; histograms without buckets).

    :meth:`AzureTelemetry.initialize` adds one to the global ``MeterProvider`` (or
    creates one with it); ``MeterProvider.force_flush()`` then delivers metrics too.
    """

    def __init__(self, telemetry: _native.Telemetry, series_limit: int | None = None) -> None:
        temporality = {kind: AggregationTemporality.DELTA for kind in _INSTRUMENTS}
        # Application Insights keeps a histogram's sum, count, min and max: no buckets.
        aggregation: dict[type, Aggregation] = {Histogram: ExplicitBucketHistogramAggregation(boundaries=())}
        try:
            # The SDK folds attribute sets past its limit into the same overflow series
            # as Rust does past metric_series_limit: one limit for both.
            super().__init__(
                preferred_temporality=temporality,
                preferred_aggregation=aggregation,
                cardinality_limits=dict.fromkeys(_INSTRUMENTS, series_limit) if series_limit else None,
            )
        except TypeError:  # an SDK older than cardinality limits
            super().__init__(preferred_temporality=temporality, preferred_aggregation=aggregation)
        self._native = telemetry
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def _receive_metrics(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> None:
        for resource_metrics in metrics_data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    self._hand_over(metric.name, metric.data)

    def _hand_over(self, name: str, data: object) -> None:
        try:
            if isinstance(data, Sum):
                if data.aggregation_temporality is not AggregationTemporality.DELTA:
                    return  # never asked for; a cumulative sum would be counted twice
                for point in data.data_points:
                    if data.is_monotonic:
                        self._native.record_metric(name, "counter", point.value, point.attributes)
                    else:
                        self._native.record_metric(name, "up_down_counter", point.value, point.attributes)
            elif isinstance(data, Gauge):
                for point in data.data_points:
                    self._native.record_metric(name, "gauge", point.value, point.attributes)
            elif isinstance(data, (HistogramData, ExponentialHistogram)):
                for h in data.data_points:
                    if h.count and math.isfinite(h.min) and math.isfinite(h.max):
                        self._native.record_metric(
                            name, "histogram", h.sum, h.attributes, count=h.count, min=h.min, max=h.max
                        )
        except _native.TelemetryShutDownError:
            pass
        except (TypeError, ValueError) as e:
            # A point Rust refuses (an observable counter going down): the rest go on.
            _log.debug("metric %s not handed over: %s", name, e)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        """Collects, then flushes the Rust pipeline (so ``MeterProvider.force_flush()``
        delivers). False when something was not delivered in time or after shutdown."""
        self.collect(timeout_millis=timeout_millis)
        try:
            return self._native.flush(timeout_millis / 1000)
        except _native.TelemetryShutDownError:
            return False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stops collecting. (The pipeline's own shutdown is ``AzureTelemetry.shutdown``.)"""
        self._stopped.set()

    def collect_now(self) -> None:
        """One collection in the calling thread, unless stopped; never raises."""
        if self._stopped.is_set():
            return
        try:
            self.collect()
        except Exception:  # noqa: BLE001 - a failing callback must not break flush
            _log.debug("metric collection failed", exc_info=True)

    def start(self) -> None:
        """Starts the thread that collects whenever the pipeline asks."""
        producer = self._native.metric_producer()
        self._thread = threading.Thread(
            target=self._collect_when_asked, args=(producer,), name="genkit-azure-metrics", daemon=True
        )
        self._thread.start()

    def restart_after_fork(self) -> None:
        """In a forked child, whose telemetry now feeds a new pipeline: the collecting
        thread did not survive the fork, so another starts, waiting on the new one."""
        if not self._stopped.is_set():
            self.start()

    def _collect_when_asked(self, producer: _native.MetricProducer) -> None:
        # Returns when the pipeline shuts down; the producer is freed (unregistered) then.
        while producer.wait():
            self.collect_now()
            producer.collected()

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)
