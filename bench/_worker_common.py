"""Shared by the benchmark worker processes (py_synthetic.py, py_genkit.py).

Each variant runs in a fresh interpreter. A worker sets up its variant, runs the
workload, flushes, prints exactly one ``RESULT {json}`` line, then waits for a
line on stdin (the harness reads the emulator's counters meanwhile: that is
"delivered at flush"), shuts down and exits.

Figures measured inside the process:
* ``loop_s``: the application's own loop (creating and ending spans / running flows);
* ``flush_s``: from the end of the loop until flush returned;
* ``wall_s`` = ``loop_s + flush_s``;
* ``cpu_user_s`` / ``cpu_sys_s``: ``getrusage(RUSAGE_SELF)`` over the same span of time,
  all threads (the export threads of the official distro, the Rust runtime's threads);
* ``max_rss_kb``: ``ru_maxrss`` when flush returned (the whole process, imports included);
* ``setup_s``: configuring the variant, ``prepare_s``: building the app (neither is part
  of ``wall_s`` or the CPU figures).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any, Callable

SERVICE_NAME = "genkit-azure-bench"
FLUSH_TIMEOUT_S = 600.0

# Every variant name a worker understands.
VARIANTS = ("floor", "official-lossless", "official-defaults", "ours", "ours-exports-off")


def rusage() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"user": ru.ru_utime, "sys": ru.ru_stime, "max_rss_kb": ru.ru_maxrss}


class Variant:
    """Sets up one variant's telemetry; ``flush()`` and ``shutdown()`` are uniform."""

    def __init__(self, name: str, connection_string: str) -> None:
        if name not in VARIANTS:
            raise SystemExit(f"unknown variant {name!r}; one of {', '.join(VARIANTS)}")
        self.name = name
        self.connection_string = connection_string
        self._flush: Callable[[], Any] = lambda: True
        self._shutdown: Callable[[], Any] = lambda: None
        self._stats: Callable[[], dict[str, Any] | None] = lambda: None
        self.module_path: str | None = None

    def setup(self) -> None:
        from opentelemetry import trace

        if self.name == "floor":
            # The plain OpenTelemetry SDK: a TracerProvider with no processor at all.
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider

            provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
            trace.set_tracer_provider(provider)
            self._flush = lambda: provider.force_flush()
            self._shutdown = provider.shutdown
        elif self.name.startswith("official"):
            # The environment (queue size, statsbeat / SDK stats / control plane off,
            # resource detectors) is set by the harness before the interpreter starts.
            from azure.monitor.opentelemetry import configure_azure_monitor

            kwargs: dict[str, Any] = {
                "connection_string": self.connection_string,
                # Off in every variant, ours included, for fairness.
                "enable_live_metrics": False,
            }
            if self.name == "official-lossless":
                kwargs["sampling_ratio"] = 1.0
                kwargs["disable_offline_storage"] = True
            configure_azure_monitor(**kwargs)
            provider = trace.get_tracer_provider()
            self._flush = lambda: provider.force_flush(int(FLUSH_TIMEOUT_S * 1000))
            self._shutdown = provider.shutdown
        else:  # ours, ours-exports-off
            from genkit_azure_rs import AzureTelemetry

            # "ours-exports-off" (a diagnostic): the span processor converts every span on
            # the app's thread as "ours" does, then nothing is queued and the worker has
            # nothing to do; what it adds to the app loop is the conversion alone.
            off = self.name == "ours-exports-off"
            telemetry = AzureTelemetry(
                connection_string=self.connection_string,
                enable_live_metrics=False,
                disable_traces=off,
                disable_metrics=off,
                disable_logs=off,
            ).initialize()
            self._flush = lambda: telemetry.flush(FLUSH_TIMEOUT_S)
            self._shutdown = lambda: telemetry.shutdown(30.0)
            self._stats = telemetry.stats
            import genkit_azure_rs._native as native

            # Where the compiled module came from (an editable install in the source tree may
            # be a debug build made for the tests; bench/run.sh installs a release wheel).
            self.module_path = native.__file__

    def flush(self) -> Any:
        return self._flush()

    def shutdown(self) -> Any:
        return self._shutdown()

    def stats(self) -> dict[str, Any] | None:
        return self._stats()


def emit(result: dict[str, Any]) -> None:
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()


def wait_for_harness() -> None:
    """Blocks until the harness sends a line (or closes stdin)."""
    try:
        sys.stdin.readline()
    except (OSError, ValueError):
        pass


def measure(
    variant: Variant,
    workload: Callable[[Any], dict[str, Any]],
    extra: dict[str, Any],
    prepare: Callable[[], Any] | None = None,
) -> None:
    """Runs setup, ``prepare`` (untimed: e.g. building the Genkit app), then the workload
    and flush with the measurements described above; emits the result, waits for the
    harness, shuts down. ``workload(prepared)`` returns ``{"loop_s": ..., ...}``."""
    t_setup = time.perf_counter()
    variant.setup()
    setup_s = time.perf_counter() - t_setup
    t_prepare = time.perf_counter()
    prepared = prepare() if prepare else None
    prepare_s = time.perf_counter() - t_prepare

    ru0 = rusage()
    t0 = time.perf_counter()
    info = workload(prepared)
    t_loop_end = t0 + info.pop("loop_s")
    flushed = variant.flush()
    t1 = time.perf_counter()
    ru1 = rusage()

    user = ru1["user"] - ru0["user"]
    sys_ = ru1["sys"] - ru0["sys"]
    emit(
        {
            "variant": variant.name,
            **extra,
            **info,
            "setup_s": setup_s,
            "prepare_s": prepare_s,
            "loop_s": t_loop_end - t0,
            "flush_s": t1 - t_loop_end,
            "wall_s": t1 - t0,
            "cpu_user_s": user,
            "cpu_sys_s": sys_,
            "cpu_s": user + sys_,
            "max_rss_kb": ru1["max_rss_kb"],
            "flushed": bool(flushed) if flushed is not None else None,
            "pipeline": variant.stats(),
            "native_module": variant.module_path,
            "python": sys.version.split()[0],
            "pid": os.getpid(),
        }
    )
    wait_for_harness()
    t = time.perf_counter()
    variant.shutdown()
    sys.stderr.write(f"{variant.name}: shut down in {time.perf_counter() - t:.3f} s\n")
