"""core/conditional.py: ETags from record versions, If-Match and If-None-Match."""

from __future__ import annotations

import pytest
from svc.core import conditional
from svc.core.errors import PreconditionRequiredError


def test_the_etag_is_the_quoted_version() -> None:
    assert conditional.etag({"id": 1, "version": 3}) == '"3"'


@pytest.mark.parametrize(
    ("if_match", "versions"),
    [
        ('"3"', {3}),
        ('"3", "5"', {3, 5}),
        (' "3" ,"x", W/"4"', {3}),  # weak and malformed tags match no version
        ('""', set()),
        ("*", None),
        (None, None),
    ],
)
def test_if_match_gives_the_versions_a_write_may_find(
    if_match: str | None, versions: set[int] | None
) -> None:
    assert conditional.expected_versions(if_match) == versions


def test_a_missing_if_match_is_refused_when_the_spec_requires_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conditional, "IF_MATCH_REQUIRED", True)
    with pytest.raises(PreconditionRequiredError):
        conditional.expected_versions(None)
    assert conditional.expected_versions("*") is None


@pytest.mark.parametrize(
    ("if_none_match", "modified"),
    [
        (None, True),
        ('"3"', False),
        ('W/"3"', False),
        ('"2", "3"', False),
        ("*", False),
        ('"4"', True),
    ],
)
def test_if_none_match_compares_weakly(if_none_match: str | None, modified: bool) -> None:
    assert conditional.not_modified(if_none_match, '"3"') is not modified
