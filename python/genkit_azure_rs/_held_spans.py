"""The thread that bounds how long the app's threads hold ended spans.

A span processor holds the spans that end and converts them sixteen at a time, which
keeps the conversion's code in the CPU's caches (see ``held_spans.rs``). This thread
converts whatever is held every ``INTERVAL_S``, so a span ended just before the app goes
quiet is queued all the same; every flush, ``stats()`` and shutdown converts it first.
"""

from __future__ import annotations

import threading
import time

from . import _native

#: The longest an ended span is held before it is converted and queued.
INTERVAL_S = 0.5


def start(native: _native.Telemetry) -> None:
    """Has the span processors feeding ``native`` hold spans, and starts the thread.

    Holding goes first: the thread ends when it finds holding off, as it would if it
    woke before holding began. It ends once the pipeline is shut down. Call it again in
    a forked child: the thread did not survive the fork.
    """
    native._hold_ended_spans()
    threading.Thread(
        target=_convert_every_interval,
        args=(native,),
        name="genkit-azure-held-spans",
        daemon=True,
    ).start()


def _convert_every_interval(native: _native.Telemetry) -> None:
    # The sleep is in Python, with no Rust frame on the thread's stack: a daemon
    # thread that wakes while the interpreter finalizes is stopped where it stands.
    while True:
        time.sleep(INTERVAL_S)
        if not native._convert_held_spans():
            return
