"""An app records metrics through the OpenTelemetry metrics API, as any library would.

Interval 1: counter ``orders`` +3, +2 (region=eu) and +1 (region=us), histogram
``latency_ms`` 10, 30, 20 (route=/orders), up-down counter ``queue`` +5, -2 and an
observable gauge ``pool`` reading 7 (pool=db); then ``flush()``, which must send them.
Interval 2: ``orders`` +4 (region=eu) and ``latency_ms`` 100, then no flush: they must
leave on the pipeline's own clock (``metric_export_interval_s``).

``join`` as the first argument: the app sets up its own SDK MeterProvider first (with
an in-memory reader of its own), and ``initialize()`` must join it, not replace it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request

from _common import emit_result
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from genkit_azure_rs import AzureMetricReader, AzureTelemetry

own_reader = None
if sys.argv[1:] == ["join"]:
    own_reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[own_reader]))

telemetry = AzureTelemetry(service_name="metrics-py", metric_export_interval_s=1.5)
telemetry.initialize()
provider = metrics.get_meter_provider()

meter = metrics.get_meter("shop")
orders = meter.create_counter("orders")
latency = meter.create_histogram("latency_ms", unit="ms")
queue = meter.create_up_down_counter("queue")


def read_pool(options: CallbackOptions) -> list[Observation]:
    return [Observation(7, {"pool": "db"})]


meter.create_observable_gauge("pool", callbacks=[read_pool])

orders.add(3, {"region": "eu"})
orders.add(2, {"region": "eu"})
orders.add(1, {"region": "us"})
for ms in (10, 30, 20):
    latency.record(ms, {"route": "/orders"})
queue.add(5)
queue.add(-2)
flushed = telemetry.flush(timeout_s=20)

orders.add(4, {"region": "eu"})
latency.record(100, {"route": "/orders"})
started = time.monotonic()


def arrived_orders() -> list[float]:
    with urllib.request.urlopen(os.environ["EMULATOR_URL"] + "/envelopes", timeout=10) as r:
        envelopes = json.load(r)
    return [
        e["data"]["baseData"]["metrics"][0]["value"]
        for e in envelopes
        if e["name"].endswith(".Metric") and e["data"]["baseData"]["metrics"][0]["name"] == "orders"
    ]


while len(arrived_orders()) < 3 and time.monotonic() - started < 10:
    time.sleep(0.05)
waited_s = time.monotonic() - started

own_points = 0
if own_reader is not None:
    data = own_reader.get_metrics_data()
    own_points = sum(
        len(m.data.data_points)
        for rm in (data.resource_metrics if data else [])
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "orders"
    )
provider_joined = telemetry.meter_provider is provider
reader_added = isinstance(telemetry.metric_reader, AzureMetricReader)
collecting_before = [t.name for t in threading.enumerate() if t.name == "genkit-azure-metrics"]
shut_down = telemetry.shutdown(timeout_s=10)
collecting_after = [t.name for t in threading.enumerate() if t.name == "genkit-azure-metrics"]
emit_result(
    {
        "flushed": flushed,
        "shut_down": shut_down,
        "collecting": [collecting_before, collecting_after],
        "waited_s": waited_s,
        "provider_joined": provider_joined,
        "reader_added": reader_added,
        "own_reader_points": own_points,
        "stats": telemetry.stats(),
    }
)
