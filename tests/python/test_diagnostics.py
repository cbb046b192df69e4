"""The library's diagnostics go where Python users look (issue 14): warnings of the
``genkit_azure_rs`` logger, never exported; stderr when logging is not configured."""

from __future__ import annotations

from _helpers import of_kind, text


def test_a_delivery_failure_is_a_library_log_record_and_never_exported(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    run = run_app("diagnostics", "logging")
    said = [r for r in run.result["records"] if r["logger"] == "genkit_azure_rs" and r["level"] == "WARNING"]
    assert said, (run.result["records"], run.stderr)
    assert any("ingestion is failing" in r["message"] for r in said), said
    # Said through logging, so not on stderr as well.
    assert "genkit-azure:" not in run.stderr, run.stderr
    assert run.result["flushed"] is True
    messages = [text(e) for e in of_kind(emulator.envelopes(), "Message")]
    assert "app-record" in messages  # the log handler exports the app's records ...
    for r in said:
        assert r["message"] not in messages  # ... and never the library's own


def test_with_logging_unconfigured_diagnostics_stay_on_stderr(run_app, emulator) -> None:  # type: ignore[no-untyped-def]
    run = run_app("diagnostics", "unconfigured")
    assert "genkit-azure: ingestion is failing" in run.stderr, run.stderr
    messages = [text(e) for e in of_kind(emulator.envelopes(), "Message")]
    assert not any("ingestion is failing" in m for m in messages), messages
