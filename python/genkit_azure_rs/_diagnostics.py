"""Where the Rust core's diagnostics (delivery failures, drops, rejected items, storage
trouble) go in Python: warnings of the ``genkit_azure_rs`` logger.

The native module hands each one to :func:`emit` from a thread of its own. The log
handler never exports that logger's records, so there is no feedback loop. When no
handler would show the record (logging not configured: the package's ``NullHandler``
counts for nothing), the text goes to stderr as it did before, so it is never lost.
"""

from __future__ import annotations

import logging
import sys

from ._context import LIBRARY_LOGGER
from ._logging import AzureLogHandler

_log = logging.getLogger(LIBRARY_LOGGER)


def _heard(logger: logging.Logger, level: int) -> bool:
    """Whether a handler that shows something would get a record of ``level``."""
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if not isinstance(handler, (logging.NullHandler, AzureLogHandler)) and level >= handler.level:
                return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def emit(text: str) -> None:
    """Says one diagnostic (already rate-limited by the core)."""
    if not _log.isEnabledFor(logging.WARNING):
        return  # the application silenced this logger
    if _heard(_log, logging.WARNING):
        _log.warning("%s", text)
    else:
        sys.stderr.write(f"genkit-azure: {text}\n")
