"""core/security.py: the body checks the transport middleware makes before any route runs."""

from __future__ import annotations

import pytest
from svc.core import security


@pytest.mark.parametrize(
    ("body", "limit", "exceeds"),
    [
        (b'{"a": [1, 2, {"b": 3}]}', 3, False),
        (b'{"a": [1, 2, {"b": 3}]}', 2, True),
        (b'{"a": "[[[[[[["}', 1, False),  # brackets inside strings do not nest
        (b'{"a": "\\"[[[", "b": [[]]}', 2, True),  # nor past an escaped quote
        (b"[" * 33 + b"]" * 33, 32, True),
    ],
)
def test_json_depth(body: bytes, limit: int, exceeds: bool) -> None:
    assert security.json_depth_exceeds(body, limit) is exceeds


@pytest.mark.parametrize(
    ("body", "unstorable"),
    [
        (b'{"name": "plain"}', False),
        (b'{"name": "a\\u0000b"}', True),  # NUL
        (b'{"name": "a\\\\u0000b"}', False),  # an escaped backslash, then text
        (b'{"name": "\\ud83d\\ude00"}', False),  # a surrogate pair: one emoji
        (b'{"name": "\\ud83d"}', True),  # a lone high surrogate
        (b'{"name": "\\ude00"}', True),  # a lone low surrogate
        (b'{"name": "\xed\xa0\x80"}', True),  # a surrogate encoded in UTF-8
    ],
)
def test_unstorable_json(body: bytes, unstorable: bool) -> None:
    assert security.unstorable_json(body) is unstorable


def test_duplicate_keys_are_found_at_any_depth() -> None:
    assert security.duplicate_key(b'{"a": 1, "b": {"c": 1, "c": 2}}') == "c"
    assert security.duplicate_key(b'{"a": 1, "b": 2}') is None
    assert security.duplicate_key(b'{"a": 1, "a"') is None  # invalid JSON: left to the route


def test_unstorable_forms_and_requests() -> None:
    assert security.unstorable_form(b"name=a%00b")
    assert security.unstorable_form(b"name=%ff")
    assert not security.unstorable_form(b"name=caf%C3%A9+au+lait")
    scope = {"path": "/items", "query_string": b"q=a%00", "headers": []}
    assert security.unstorable_request(scope) == "the query string"
    scope = {"path": "/items", "query_string": b"", "headers": [(b"x-a", b"1\x002")]}
    assert security.unstorable_request(scope) == "a header"
    assert security.unstorable_request({**scope, "headers": []}) is None
