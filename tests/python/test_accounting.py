"""Every span and log accepted is delivered, persisted, rejected or dropped, and
``stats()`` says which, whatever the service answers (issue: every item accounted for)."""

from __future__ import annotations

from typing import Any

import pytest

# Where an accepted item can end: each in exactly one of these counters.
FATES = (
    "items_delivered",
    "items_persisted",
    "items_rejected",
    "items_export_failed",
    "dropped_mapping_error",
    "dropped_backlog_full",
    "dropped_too_large",
    "dropped_spill_failed",
    "dropped_shut_down",
    "spans_not_exported",
)


def accounted(stats: dict[str, Any]) -> int:
    return sum(stats[f] for f in FATES)


@pytest.mark.parametrize(
    ("answer", "fate"),
    [
        ("200", "items_delivered"),
        ("206", "items_delivered"),
        ("400", "items_rejected"),
        ("401", "items_persisted"),
        ("403", "items_persisted"),
        ("404", "items_rejected"),
        ("413", "items_delivered"),
        ("429", "items_delivered"),
        ("500", "items_persisted"),
        ("reset", "items_persisted"),
    ],
)
def test_accepted_items_each_have_one_fate_whatever_the_service_answers(run_app, answer: str, fate: str) -> None:
    run = run_app("accounting", answer)
    (phase,) = run.result["phases"]
    s = phase["stats"]
    accepted = s["spans_accepted"] + s["logs_accepted"]
    assert accepted == 12
    # flush() returned: everything accepted before it has its fate.
    assert accepted == accounted(s), s
    assert s["items_pending"] == 0, s
    assert s[fate] > 0, s
    if answer in ("400", "404"):
        # Every request is refused: each refused request's items count as
        # rejected, one by one, and each request by its status.
        assert s["items_rejected"] == accepted, s
        assert s[f"requests_rejected_status_{answer}"] == s["batches_rejected"] >= 2, s
    if answer == "206":
        # A batch counts its items once, under what reached furthest (some of it
        # was delivered); the envelope the service refused is counted as such.
        assert s["envelopes_rejected_status_400"] == 1, s
        assert not phase["flushed"], "flush() is false when something was lost"
    if answer in ("200", "401", "403", "413", "429", "500", "reset"):
        assert phase["flushed"], s
