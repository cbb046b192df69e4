"""``initialize()`` makes no network call and never waits on one (issue 14, network
hygiene): no probe, no settings download, no connection, with the endpoint a
blackhole or unroutable, and no wait on an Entra ID credential that hangs. (The
credential is called once on the pipeline's own thread right after construction, to
have a token ready for the first batch; initialize never waits for it.) The times are a functional check (a call that waited on the
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
    if mode == "blackhole":
        # The token fetch started in the background and was still hanging meanwhile.
        assert r["credential_calls_during_start"] <= 1, r
