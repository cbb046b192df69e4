"""Metrics recorded and never flushed still leave when the interpreter exits."""

from __future__ import annotations

from _common import emit_result
from opentelemetry import metrics

from genkit_azure_rs import AzureTelemetry

AzureTelemetry(service_name="metrics-exit").initialize()
metrics.get_meter("shop").create_counter("orders").add(2, {"region": "eu"})
emit_result({"recorded": True})
# No flush, no shutdown: the atexit handler hands the SDK's points over and delivers them.
