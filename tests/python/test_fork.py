"""A process forked after ``initialize()`` exports its own telemetry (issue 14, fork).

The child gets a fresh pipeline with the same settings (the parent's runtime threads do
not exist in it); the parent keeps working; nothing is delivered twice, in particular
not what the parent had queued, or its span processor held, when it forked.
"""

from __future__ import annotations

from collections import Counter

import pytest
from _helpers import base, of_kind, span_envelopes, text


def _delivered(run_app, emulator, mode: str, children: int):  # type: ignore[no-untyped-def]
    run = run_app("fork", mode)
    assert run.result["flushed"] is True, run.stderr
    if mode == "os_fork":
        assert run.result["statuses"] == [0] * children, run.stderr
    tags = ["parent-before", "parent-after"] + [f"child-{i}" for i in range(children)]
    # Each child's shutdown delivered before it exited, and the parent flushed last.
    envelopes = emulator.wait_for(2 * len(tags), timeout_s=15)
    spans = Counter(base(e)["name"] for e in span_envelopes(envelopes))
    logs = Counter(text(e) for e in of_kind(envelopes, "Message"))
    assert spans == Counter(f"span-{t}" for t in tags), (spans, run.stderr)
    assert logs == Counter(f"log-{t}" for t in tags), (logs, run.stderr)
    return run


def test_os_fork_children_and_parent_all_deliver_once(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    run = _delivered(run_app, emulator, "os_fork", 2)
    assert len(set(run.result["children"])) == 2


@pytest.mark.parametrize("tasks", [6])
def test_a_fork_pool_delivers_every_task_once(run_app, emulator, tasks: int) -> None:  # type: ignore[no-untyped-def]
    run = _delivered(run_app, emulator, "pool", tasks)
    assert run.result["parent"] not in run.result["children"]
