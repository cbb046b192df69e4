"""The instrumentation key and tokens never show (issue 14, secrets): a run where the
service refuses every token (401) and another endpoint is unreachable prints its log
records (every logger, down to DEBUG), reprs, stats and errors; none of it, nor its
stdout and stderr, holds a key or a token."""

from __future__ import annotations

import pytest
from conftest import IKEY

WRONG_TOKEN = "wrong-token-Qm8Zr2Lx7Vb4"
RIGHT_TOKEN = "right-token-Hk3Jd9Pw1Ty6"
DEAD_IKEY = "99999999-8888-7777-6666-555555555555"


@pytest.fixture()
def only_the_right_token(emulator):  # type: ignore[no-untyped-def]
    import test_auth

    test_auth._auth(emulator, "POST", {"tokens": [{"token": RIGHT_TOKEN}]})
    yield
    test_auth._auth(emulator, "DELETE")


@pytest.mark.parametrize("mode", ["logging", "unconfigured"])
def test_no_key_or_token_in_any_output_of_a_failing_run(run_app, only_the_right_token, mode: str) -> None:  # type: ignore[no-untyped-def]
    run = run_app("secrets_run", mode, env={"WRONG_TOKEN": WRONG_TOKEN, "DEAD_IKEY": DEAD_IKEY})
    r = run.result
    # The failures happened, and were said.
    assert r["refused_flushed"] is False and r["dead_flushed"] is False, r
    assert r["error"] != "no error"
    output = run.stdout + run.stderr
    said = output if mode == "unconfigured" else "\n".join(r["records"])
    assert "refused the Entra ID token (401)" in said, said
    assert "ingestion is failing" in said, said
    for secret in (IKEY, DEAD_IKEY, WRONG_TOKEN, RIGHT_TOKEN):
        for form in (secret, secret.upper(), secret.replace("-", "")):
            assert form not in output, f"{form} in the output:\n{output}"
