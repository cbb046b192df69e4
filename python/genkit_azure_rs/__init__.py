"""Azure Monitor (Application Insights) telemetry for Genkit apps.

A thin Python package over a Rust export pipeline::

    import logging
    from genkit_azure_rs import AzureTelemetry

    telemetry = AzureTelemetry(service_name="my-genkit-app", log_level=logging.INFO)
    telemetry.initialize()   # spans, stdlib logging and structlog now go to Azure Monitor
    ...
    telemetry.flush()        # or let the atexit handler do it
"""

from ._context import LIBRARY_LOGGER
from ._credential import TokenCredential
from ._logging import AzureLogHandler
from ._metrics import AzureMetricReader
from ._native import CORE_VERSION, TelemetryShutDownError, __version__
from ._sampling import AzureSampler
from ._structlog import inject_azure_trace_context
from ._telemetry import AzureSpanProcessor, AzureTelemetry

__all__ = [
    "AzureLogHandler",
    "AzureMetricReader",
    "AzureSampler",
    "AzureSpanProcessor",
    "AzureTelemetry",
    "CORE_VERSION",
    "LIBRARY_LOGGER",
    "TelemetryShutDownError",
    "TokenCredential",
    "__version__",
    "inject_azure_trace_context",
]
