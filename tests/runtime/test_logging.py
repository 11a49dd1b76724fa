"""core/logging.py: secrets and the spec's unlogged fields are redacted; the log format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest
from svc.core.logging import REDACTED, RedactSecrets, log_format


def test_secret_looking_keys_are_redacted_at_any_depth() -> None:
    event = {
        "event": "sign-in",
        "user": "alice",
        "Password": "hunter2",
        "headers": {"Authorization": "Bearer x", "accept": "*/*"},
        "attempts": [{"api_key": "k", "n": 1}, "plain"],
    }
    assert RedactSecrets()(None, "info", event) == {
        "event": "sign-in",
        "user": "alice",
        "Password": REDACTED,
        "headers": {"Authorization": REDACTED, "accept": "*/*"},
        "attempts": [{"api_key": REDACTED, "n": 1}, "plain"],
    }


def test_the_spec_s_unlogged_fields_are_redacted_by_default() -> None:
    # the test spec (conftest.SPEC) marks "pin" write-only
    assert RedactSecrets()(None, "info", {"event": "x", "PIN": 1234})["PIN"] == REDACTED
    assert RedactSecrets({"note"})(None, "info", {"event": "x", "pin": 1})["pin"] == 1


@dataclass
class Logs:
    """The settings logging.py reads (LoggingSettings)."""

    environment: str = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] | None = None


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (Logs(), "console"),
        (Logs(environment="production"), "json"),
        (Logs(environment="test"), "json"),
        (Logs(environment="production", log_format="console"), "console"),
        (Logs(log_format="json"), "json"),
    ],
)
def test_the_format_follows_log_format_else_the_environment(settings: Logs, expected: str) -> None:
    assert log_format(settings) == expected
