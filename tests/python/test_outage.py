"""An ingestion outage seen from a Python app: nothing lost, nothing twice, and the
counters say what happened."""

from __future__ import annotations

import time

from _helpers import base, span_envelopes


def test_an_outage_loses_nothing_and_stats_tell_the_story(run_app, emulator) -> None:
    run = run_app("outage")
    produced = run.result["span_ids"]
    assert run.result["flushed"] is True

    # Persisted batches are resent in the background; give them a moment.
    deadline = time.monotonic() + 20
    while True:
        arrived = [base(e)["id"] for e in span_envelopes(emulator.envelopes())]
        if len(arrived) >= len(produced) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sorted(arrived) == sorted(produced), "every span exactly once"

    during, after = run.result["stats_during"], run.result["stats"]
    assert during["persisted_batches"] > 0, "the outage sent batches to disk"
    assert after["spans_accepted"] == len(produced)
    for reason in ("dropped_queue_full", "dropped_backlog_full", "dropped_disk_full_batches", "dropped_shut_down"):
        assert after[reason] == 0, reason
