"""Auto-instrumentation: the OpenTelemetry instrumentations of the web frameworks,
HTTP clients and database drivers an application uses, enabled by
``AzureTelemetry.initialize()`` as the official Azure Monitor distro does.

A library is instrumented only when both it and its ``opentelemetry-instrumentation-*``
package are installed (``pip install genkit-azure-rs[instrumentation]`` brings the
instrumentation packages); nothing here is a dependency of the base package. A library
the application has not imported yet is instrumented the moment it is imported, so
``initialize()`` imports no framework or driver the application does not use.

Options follow the distro's shape, ``{"flask": {"enabled": False}}``; any other key of
a library's entry is passed to its instrumentor's ``instrument()`` (``excluded_urls``,
``request_hook``, ...). ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``,
``OTEL_PYTHON_EXCLUDED_URLS`` and ``OTEL_PYTHON_<LIBRARY>_EXCLUDED_URLS`` are honoured.
A library that fails to instrument is reported once, through the ``genkit_azure_rs``
logger, and the others carry on.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from ._context import LIBRARY_LOGGER

_log = logging.getLogger(LIBRARY_LOGGER)


@dataclass(frozen=True)
class Library:
    """One instrumentable library: the module that says it is installed, and its
    instrumentor."""

    name: str
    module: str
    instrumentation: str
    instrumentor: str
    #: An HTTP client: calls to where telemetry goes are excluded from its spans.
    client: bool = False
    #: The OTEL_PYTHON_<X>_EXCLUDED_URLS its instrumentation reads.
    env_name: str = ""


LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        Library("django", "django", "opentelemetry.instrumentation.django", "DjangoInstrumentor", env_name="DJANGO"),
        Library("fastapi", "fastapi", "opentelemetry.instrumentation.fastapi", "FastAPIInstrumentor", env_name="FASTAPI"),
        Library("flask", "flask", "opentelemetry.instrumentation.flask", "FlaskInstrumentor", env_name="FLASK"),
        Library("psycopg", "psycopg", "opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
        Library("psycopg2", "psycopg2", "opentelemetry.instrumentation.psycopg2", "Psycopg2Instrumentor"),
        Library("requests", "requests", "opentelemetry.instrumentation.requests", "RequestsInstrumentor",
                client=True, env_name="REQUESTS"),
        Library("httpx", "httpx", "opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor",
                client=True, env_name="HTTPX"),
        Library("urllib", "urllib.request", "opentelemetry.instrumentation.urllib", "URLLibInstrumentor",
                client=True, env_name="URLLIB"),
        Library("urllib3", "urllib3", "opentelemetry.instrumentation.urllib3", "URLLib3Instrumentor",
                client=True, env_name="URLLIB3"),
    )
}

# What became of each library in this process (``AzureTelemetry.instrumentations``).
INSTRUMENTED = "instrumented"
NATIVE = "traced by the library itself"
WAITING = "instrumented when imported"
DISABLED = "disabled"
NOT_INSTALLED = "not installed"
INSTRUMENTATION_NOT_INSTALLED = "instrumentation not installed"
ALREADY = "instrumented by the application"
SKIPPED = "skipped"
FAILED = "failed"

_lock = threading.RLock()
_status: dict[str, str] = {}
_reported: set[str] = set()
_env_lock = threading.Lock()


def status() -> dict[str, str]:
    """What became of each known library in this process, by name."""
    with _lock:
        return dict(_status)


def _set(name: str, state: str) -> None:
    with _lock:
        _status[name] = state


def _report_once(name: str, message: str, *args: object, exc_info: BaseException | None = None) -> None:
    with _lock:
        if name in _reported:
            return
        _reported.add(name)
    _log.warning(message, *args, exc_info=exc_info)


def validate_options(options: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``instrumentation_options`` as a plain dict, checked; raises TypeError naming
    the part that is wrong."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(
            f"instrumentation_options: expected a mapping like {{'flask': {{'enabled': False}}}}, "
            f"got {type(options).__name__}"
        )
    checked: dict[str, dict[str, Any]] = {}
    for name, entry in options.items():
        if not isinstance(name, str):
            raise TypeError(f"instrumentation_options: library names are strings, got {name!r}")
        if not isinstance(entry, Mapping):
            raise TypeError(
                f"instrumentation_options[{name!r}]: expected a mapping like {{'enabled': False}}, "
                f"got {type(entry).__name__}"
            )
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise TypeError(f"instrumentation_options[{name!r}]['enabled']: expected a bool, got {enabled!r}")
        checked[name] = dict(entry)
    return checked


def _disabled_by_env() -> set[str]:
    raw = os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _excluded_from_env(lib: Library) -> str:
    """What the instrumentation itself would read: its own variable, else the general one."""
    specific = os.environ.get(f"OTEL_PYTHON_{lib.env_name}_EXCLUDED_URLS") if lib.env_name else None
    return specific if specific is not None else os.environ.get("OTEL_PYTHON_EXCLUDED_URLS", "")


def own_endpoint_pattern(endpoint: str | None) -> str | None:
    """A regex matching URLs on the ingestion endpoint's origin (scheme, host, port)."""
    if not endpoint:
        return None
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return None
    if not parts.hostname:
        return None
    host = re.escape(parts.hostname)
    if ":" in parts.hostname:
        host = r"\[" + host + r"\]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port_part = f"(?::{port})" if port is not None and port != default else f"(?::{default})?"
    return rf"^https?://{host}{port_part}(?:[/?#]|$)"


#: Loggers of HTTP clients, which log the calls they make (httpx at INFO).
_HTTP_CLIENT_LOGGERS = ("httpx", "httpcore", "urllib3", "requests", "azure.core.pipeline")


def _netloc(url: str) -> str:
    try:
        return urlsplit(url).netloc
    except ValueError:
        return ""


class OwnTrafficLogFilter(logging.Filter):
    """Drops HTTP clients' log records about calls to the ingestion endpoint, so no
    telemetry ever reports on the sending of telemetry (the official distro, whose
    transport logged each request at INFO, sent tens of thousands of such records in
    seconds once the root logger was captured at INFO)."""

    def __init__(self, ingestion_endpoint: str | None) -> None:
        super().__init__()
        self.origins = [o for o in (_netloc(e) for e in telemetry_endpoints(ingestion_endpoint)) if o]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.origins or not record.name.startswith(_HTTP_CLIENT_LOGGERS):
            return True
        try:
            message = record.getMessage()
            return not any(origin in message for origin in self.origins)
        except Exception:  # noqa: BLE001 - a record that cannot format is the handler's business
            return True


def telemetry_endpoints(ingestion_endpoint: str | None) -> list[str]:
    """Where telemetry itself is sent: the ingestion endpoint, and Genkit's Dev UI
    telemetry server (``GENKIT_TELEMETRY_SERVER``), which Genkit's dev-mode exporter
    posts every span to as it starts and ends, through urllib and httpx."""
    return [e for e in (ingestion_endpoint, os.environ.get("GENKIT_TELEMETRY_SERVER")) if e]


def _joined(*patterns: str | None) -> str:
    return ",".join(p.strip() for p in patterns if p and p.strip())


class Instrumentation:
    """Enables the installed instrumentations with the given options (one call per
    process does the work; later calls leave what the first set up)."""

    def __init__(self, options: Mapping[str, Mapping[str, Any]], ingestion_endpoint: str | None) -> None:
        self.options = options
        # Spans of calls to where telemetry goes would be sent there in turn: a loop.
        self.own_pattern = _joined(*(own_endpoint_pattern(e) for e in telemetry_endpoints(ingestion_endpoint)))

    def enable(self) -> dict[str, str]:
        unknown = sorted(set(self.options) - set(LIBRARIES))
        if unknown:
            _report_once(
                "options:" + ",".join(unknown),
                "instrumentation_options names libraries genkit-azure does not instrument: %s (known: %s)",
                ", ".join(unknown),
                ", ".join(sorted(LIBRARIES)),
            )
        disabled_env = _disabled_by_env()
        for lib in LIBRARIES.values():
            with _lock:
                if lib.name in _status and _status[lib.name] != NOT_INSTALLED:
                    continue  # set up by an earlier initialize() in this process
            options = dict(self.options.get(lib.name, {}))
            if not options.pop("enabled", True) or lib.name in disabled_env:
                _set(lib.name, DISABLED)
                continue
            if not _installed(lib.module):
                _set(lib.name, NOT_INSTALLED)
                continue
            # FastAPI may trace itself without the package: that is known once imported.
            if lib.name != "fastapi" and not _installed(lib.instrumentation):
                _set(lib.name, INSTRUMENTATION_NOT_INSTALLED)
                continue
            self._when_imported(lib, functools.partial(self._on_import, lib, options))
        return status()

    # -- when the library is (or is already) imported ------------------------------

    def _when_imported(self, lib: Library, hook: Callable[[ModuleType], None]) -> None:
        def guarded(module: ModuleType) -> None:
            # Runs inside the application's `import`: never let it fail that import.
            try:
                hook(module)
            except Exception as error:  # noqa: BLE001
                _set(lib.name, FAILED)
                _report_once(lib.name, "could not instrument %s: %s", lib.name, error, exc_info=error)

        if lib.module in sys.modules:
            guarded(sys.modules[lib.module])
            return
        try:
            import wrapt  # every instrumentation package depends on it
        except ImportError:
            guarded(importlib.import_module(lib.module))
            return
        _set(lib.name, WAITING)
        wrapt.register_post_import_hook(guarded, lib.module)

    def _on_import(self, lib: Library, options: dict[str, Any], module: ModuleType) -> None:
        self._instrument(lib, options)

    def _instrument(self, lib: Library, options: dict[str, Any]) -> None:
        if lib.name == "fastapi" and _fastapi_traces_itself():
            self._fastapi(lib, options)
            return
        if not _installed(lib.instrumentation):
            _set(lib.name, INSTRUMENTATION_NOT_INSTALLED)
            return
        if lib.name == "django" and not os.environ.get("DJANGO_SETTINGS_MODULE"):
            # The Django instrumentation would configure empty settings of its own when
            # none are set up yet, breaking the application's later setup.
            _set(lib.name, SKIPPED)
            _report_once(
                lib.name,
                "django is not instrumented: DJANGO_SETTINGS_MODULE is not set when it is imported "
                "(set it before AzureTelemetry.initialize(), as manage.py and wsgi.py do)",
            )
            return
        module = importlib.import_module(lib.instrumentation)
        instrumentor = getattr(module, lib.instrumentor)()
        if instrumentor.is_instrumented_by_opentelemetry:
            _set(lib.name, ALREADY)
            return
        kwargs = dict(options)
        # Application Insights derives request and dependency rates and durations from
        # the spans themselves: the instrumentations' own HTTP metrics would only repeat
        # them as custom metrics.
        if "meter_provider" not in kwargs:
            from opentelemetry.metrics import NoOpMeterProvider

            kwargs["meter_provider"] = NoOpMeterProvider()
        env_override: str | None = None
        if lib.client:
            # Calls to the ingestion endpoint are never traced, whoever makes them.
            excluded = _joined(kwargs.get("excluded_urls") or _excluded_from_env(lib), self.own_pattern)
            if lib.name == "httpx":
                env_override = excluded  # its instrumentor reads only the environment
            elif excluded:
                kwargs["excluded_urls"] = excluded
        from opentelemetry.instrumentation.dependencies import DependencyConflictError

        try:
            if env_override is not None:
                with _env_lock:
                    key = f"OTEL_PYTHON_{lib.env_name}_EXCLUDED_URLS"
                    before = os.environ.get(key)
                    os.environ[key] = env_override
                    try:
                        instrumentor.instrument(raise_exception_on_conflict=True, **kwargs)
                    finally:
                        if before is None:
                            del os.environ[key]
                        else:
                            os.environ[key] = before
            else:
                instrumentor.instrument(raise_exception_on_conflict=True, **kwargs)
        except DependencyConflictError as conflict:
            _set(lib.name, FAILED)
            _report_once(lib.name, "could not instrument %s: %s", lib.name, conflict)
            return
        _set(lib.name, INSTRUMENTED)

    def _fastapi(self, lib: Library, options: dict[str, Any]) -> None:
        """FastAPI that traces itself makes one SERVER span per request (the Request),
        with current semantic conventions, and extracts the incoming context; the
        instrumentation package would replace that with its own middleware's spans plus
        ``http send`` / ``http receive`` steps. So it is left to FastAPI, and only the
        excluded URLs are given to it."""
        excluded = options.get("excluded_urls") or _excluded_from_env(lib)
        if excluded:
            _exclude_urls_from_fastapi(excluded)
        _set(lib.name, NATIVE)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        # A parent package that fails to import, or a module set to None in sys.modules.
        return False


def _fastapi_traces_itself() -> bool:
    """FastAPI 0.165 and later trace requests through the OpenTelemetry API themselves
    (asked once FastAPI is imported: finding its submodule imports it)."""
    return _installed("fastapi.telemetry")


def _exclude_urls_from_fastapi(excluded: str) -> None:
    """Gives every FastAPI app without an ``exclude`` of its own (``FastAPI(telemetry=
    {"exclude": ...})``) one that skips the excluded URLs, as the instrumentations do."""
    from fastapi.telemetry import _asgi
    from opentelemetry.util.http import parse_excluded_urls

    native = _asgi.NativeTelemetry
    if getattr(native.__call__, "_genkit_azure_excluded", False):
        return
    excluded_list = parse_excluded_urls(excluded)

    def url_disabled(scope: Mapping[str, Any]) -> bool:
        return excluded_list.url_disabled(_scope_url(scope))

    original = native.__call__

    async def call(self: Any, **kwargs: Any) -> None:
        config = self.config
        if config.get("exclude") is None:
            config["exclude"] = url_disabled
        await original(self, **kwargs)

    call._genkit_azure_excluded = True  # type: ignore[attr-defined]
    native.__call__ = call  # type: ignore[method-assign]


def _scope_url(scope: Mapping[str, Any]) -> str:
    """The full URL of an ASGI request, as the ASGI instrumentation matches it."""
    scheme = scope.get("scheme", "http")
    host = None
    for key, value in scope.get("headers") or ():
        if key == b"host":
            host = value.decode("latin-1")
            break
    if host is None:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    path = scope.get("root_path", "") + scope.get("path", "")
    query = scope.get("query_string", b"")
    url = f"{scheme}://{host}{path}"
    return f"{url}?{query.decode('latin-1')}" if query else url


def enable(options: Mapping[str, Mapping[str, Any]], ingestion_endpoint: str | None) -> dict[str, str]:
    """Enables the installed instrumentations (see the module's docstring)."""
    return Instrumentation(options, ingestion_endpoint).enable()
