"""schemathesis hooks for the contract check, loaded by schemathesis (SCHEMATHESIS_HOOKS) in the
project's environment, never imported by backforge itself.

Generated services document that an email address on a special-use domain (RFC 6761: .test,
.invalid, .localhost, …) is refused with a look-ahead pattern beside `format: email`. Generating
strings for and against such a pattern costs schemathesis over a minute per operation that takes
an email, most of the contract check. So the fuzzer sees the format without the look-ahead and
sends no special-use address; the refusal itself is proven by the generated
tests/test_unit_core.py, and the report says the pattern was left to it. Likewise a maximum
length over LONG_TEXT characters: tests/test_hostile.py sends one character more.

A record named by a field (`lookup`) moves when a PUT or PATCH changes that field: its old URL is
a 404 from then on, the URLs below it too. schemathesis' "created resource not found" (ST302)
excuses such a 404 only on the record's own path, so a link from the create to an action or a
mark of the record, followed after the move, would fail it. The hooks remember every URL a
successful PUT or PATCH moved a record away from, and drop that failure for those URLs and the
ones below them, and only for them.
"""

import os
from typing import Any

import schemathesis

SPECIAL_USE = ("arpa", "invalid", "local", "localhost", "onion", "test")
# Above this many characters a string's maximum length is left to the generated tests too:
# strings one character too long cost the fuzzer seconds per operation. contract.py sets it.
LONG_TEXT = int(os.environ.get("BACKFORGE_LONG_TEXT", "4096"))


def _lookahead_email(schema: dict[str, Any]) -> bool:
    pattern = schema.get("pattern")
    lookahead = isinstance(pattern, str) and pattern.startswith("^(?!")
    return schema.get("format") == "email" and lookahead


def _long_text(schema: dict[str, Any]) -> bool:
    limit = schema.get("maxLength")
    return isinstance(limit, int) and limit > LONG_TEXT


def _strip(node: Any) -> None:
    if isinstance(node, dict):
        if _lookahead_email(node):
            del node["pattern"]
        if _long_text(node):
            del node["maxLength"]
        for value in node.values():
            _strip(value)
    elif isinstance(node, list):
        for value in node:
            _strip(value)


def _special_use(value: Any) -> bool:
    if isinstance(value, str):
        domain = value.rpartition("@")[2].rstrip(".").lower()
        return "@" in value and domain.rpartition(".")[2] in SPECIAL_USE
    if isinstance(value, dict):
        return any(_special_use(item) for item in value.values())
    if isinstance(value, list):
        return any(_special_use(item) for item in value)
    return False


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    _strip(raw_schema)


MOVED: set[str] = set()  # URLs records were moved away from, in this run


def _moved_from(method: str, template: str, parameters: dict[str, Any], body: Any) -> bool:
    """Whether a successful ``method`` on ``template`` changed the field its last segment names."""
    last = template.rstrip("/").rpartition("/")[2]
    if method not in ("PUT", "PATCH") or not (last.startswith("{") and last.endswith("}")):
        return False
    key = last[1:-1]
    old = parameters.get(key)
    return isinstance(body, dict) and key in body and old is not None and str(body[key]) != str(old)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if not 200 <= response.status_code < 300:
        return
    try:
        body = response.json()
    except ValueError:
        return
    if _moved_from(case.method.upper(), case.path, case.path_parameters or {}, body):
        MOVED.add(case.formatted_path.rstrip("/"))


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    if type(failure).__name__ != "EnsureResourceAvailability":
        return True
    path = case.formatted_path.rstrip("/")
    return not any(path == moved or path.startswith(moved + "/") for moved in MOVED)


@schemathesis.hook
def filter_body(context: Any, body: Any) -> bool:
    return not _special_use(body)


@schemathesis.hook
def filter_query(context: Any, query: Any) -> bool:
    return not _special_use(query)
