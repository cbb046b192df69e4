"""``initialize()`` makes no network call and never waits on one (issue 14, network
hygiene): no probe, no settings download, no connection, with the endpoint a
blackhole or unroutable, and no call to an Entra ID credential (one that would hang):
the first token is asked for when the first request needs it, on the pipeline's own
thread. The times are a functional check (a call that waited on the
network would take the request timeout, 30 s here), not a benchmark."""

from __future__ import annotations

import pytest

AT_ONCE_S = 0.5


@pytest.mark.parametrize("mode", ["blackhole", "unroutable"])
def test_initialize_returns_at_once_without_touching_the_network(run_app, mode: str) -> None:  # type: ignore[no-untyped-def]
    run = run_app("quiet_start", mode)
    r = run.result
    assert r["construct_s"] < AT_ONCE_S, r
    assert r["initialize_s"] < AT_ONCE_S, r
    assert r["connections_during_start"] == 0, r
    assert r["credential_calls_during_start"] == 0, r
