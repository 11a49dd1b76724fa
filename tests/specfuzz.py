"""Hypothesis strategies for service specs: valid ones across the whole language, and invalid ones.

`valid_specs()` draws the data of a spec (a dict, dumped to YAML with `to_yaml`) that
`backforge validate` must accept: every field type with its options, refs (self-references,
chains, restrict / cascade / set_null), many-to-many, indexes, unique_together, filter / sort /
search, auth on and off with every permission shape (anyone, authenticated, owner, roles, lists,
nothing named = default deny), owned resources, limits, flags, seeds, both pagination styles and
awkward names (reserved words, unicode descriptions); and, each now and then: envelopes (the
API's and a resource's member names), `in_list: false`, derived slugs (`from`, `on_change`,
as lookup keys), nested collections (`parent`), profiles with follows, `author`, `followed`
views and token schemes, `when` operators, collection handler actions, `allow: <ref>.owner`,
webhooks and `consumes`.

`invalid_specs()` draws a valid spec and one mutation that breaks it, with the path the error
must name.

Reference cycles between different resources (A refs B, B refs A) are valid but not migratable on
PostgreSQL yet: they stay out unless `ALLOW_CYCLES` is turned on (or `valid_specs(cycles=True)`).
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml
from hypothesis import strategies as st

from backforge.names import plural, snake
from backforge.spec.checks import LOOKUP_TYPES

ALLOW_CYCLES = False

# Resource names: reserved words of SQL and Python among ordinary ones.
RESOURCE_NAMES = (
    "Order",
    "Group",
    "Class",
    "User",
    "Select",
    "Table",
    "Item",
    "Note",
    "Category",
    "Box",
    "Person",
    "HTTPLog",
    "Status",
    "Tag",
    "Event",
    "Core",
    "Model",
    "Index",
    "Key",
    "Match",
)
# Field names: SQL / Python keywords, list control parameters, names that shadow Python things.
FIELD_NAMES = (
    "from",
    "type",
    "class",
    "limit",
    "sort",
    "order",
    "group",
    "offset",
    "cursor",
    "q",
    "json",
    "schema",
    "metadata",
    "select",
    "user",
    "key",
    "value",
    "title",
    "name",
    "label",
    "amount",
    "count",
    "starts_on",
    "line2",
    "is_active",
    "match",
    "case",
    "not",
    "none",
    "true",
    "where",
    "desc",
    "self",
    "fields",
    "copy",
)
ACCOUNT_NAMES = ("user", "users", "api_key", "api_keys", "audit_event", "audit_events", "auth")
ROLES = ("member", "editor", "viewer", "staff", "auditor", "order", "group")
DESCRIPTIONS = (
    "Plain words.",
    "Ünïcödé — “quoted” text, 日本語, emoji 🚀.",
    "Quotes \" and ' and a backslash \\ inside.",
    "Line one.\nLine two: with a colon, # and a hash.",
    "{{ not a template }} {% nor this %}",
    "<b>html</b> & entities &amp;",
)
ENUM_VALUES = ("draft", "published", "retired", "yes", "no", "on", "off", "null", "true", "a", "b2")
# Patterns with values known to match (for defaults and seeds) and the length they need.
PATTERNS: dict[str, tuple[tuple[str, ...], int, int | None]] = {
    # pattern: (matching values, shortest length a match can have, longest or None)
    "^[a-z]+$": (("abc", "hello", "zz"), 1, None),
    "^[A-Z]{2}-[0-9]{3}$": (("AB-123", "ZZ-001"), 6, 6),
    "^97[89][0-9]{10}$": (("9780441013593", "9791234567890"), 13, 13),
    "[0-9]": (("a1", "7", "x9y"), 1, None),
    r"^\w+@\w+$": (("a@b", "ada@home"), 3, None),
}
# A value of each plain type that fits any bounds this module draws for it.
ACTIONS = ("list", "read", "create", "update", "delete")


@dataclass
class _Field:
    name: str
    body: dict[str, Any]


def to_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


# --- fields -------------------------------------------------------------------------------------


@st.composite
def _common(draw: st.DrawFn, body: dict[str, Any], *, may_default: bool = True) -> dict[str, Any]:
    """required / read_only / write_only / hidden / description, consistent with a default."""
    has_default = "default" in body
    if draw(st.integers(0, 3)) == 0:
        body["description"] = draw(st.sampled_from(DESCRIPTIONS))
    visibility = draw(st.sampled_from(["plain"] * 6 + ["read_only", "write_only", "hidden"]))
    if visibility != "plain":
        body[visibility] = True
    if visibility in ("write_only", "hidden"):
        body.pop("searchable", None)  # a search would reveal what the field holds
    if not has_default and draw(st.booleans()) and visibility in ("plain", "write_only"):
        body["required"] = True
    return body


def _string_values(body: dict[str, Any]) -> list[str]:
    """Values the field accepts (for defaults and seeds), honouring pattern and lengths."""
    low, high = body.get("min_length", 0), body.get("max_length", 255)
    if "pattern" in body:
        candidates = list(PATTERNS[body["pattern"]][0])
    else:
        candidates = ["x" * n for n in range(max(low, 1), min(high, 12) + 1)]
        candidates = [f"{c[:-1]}{i}" if len(c) > 1 else c for i, c in enumerate(candidates)]
    return [c for c in candidates if low <= len(c) <= high]


@st.composite
def string_field(draw: st.DrawFn, kind: str = "string") -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind}
    if kind in ("string", "text") and draw(st.integers(0, 3)) == 0:
        pattern = draw(st.sampled_from(sorted(PATTERNS)))
        body["pattern"] = pattern
        shortest, longest = PATTERNS[pattern][1:]
        if draw(st.booleans()):
            body["max_length"] = draw(st.integers(longest or max(shortest, 8), 200))
    elif kind in ("string", "text", "slug"):
        if draw(st.booleans()):
            body["max_length"] = draw(st.sampled_from([1, 3, 12, 40, 255, 300]))
        if draw(st.integers(0, 2)) == 0:
            body["min_length"] = draw(st.integers(0, min(body.get("max_length", 20), 5)))
    elif draw(st.integers(0, 2)) == 0:
        body["max_length"] = draw(st.integers(40, 400))
    if draw(st.integers(0, 2)) == 0:
        body["searchable"] = True
    if kind != "text" and draw(st.integers(0, 3)) == 0:
        body["unique"] = True
    if kind != "text" and draw(st.integers(0, 4)) == 0:
        body["index"] = True
    if not body.get("unique") and draw(st.integers(0, 3)) == 0:
        if kind == "email":
            body["default"] = "ada@example.com"
        elif kind == "url":
            body["default"] = "https://example.com/"
        elif values := _string_values(body):
            body["default"] = draw(st.sampled_from(values))
    if draw(st.integers(0, 4)) == 0 and kind in ("string", "text") and (v := _string_values(body)):
        body["example"] = v[0]
    return draw(_common(body))


@st.composite
def number_field(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind}
    precision, scale = 12, 2
    if kind == "decimal" and draw(st.booleans()):
        precision = draw(st.integers(1, 38))
        body["precision"] = precision
        scale = draw(st.integers(0, min(precision, 12)))
        if scale != 2 or draw(st.booleans()):
            body["scale"] = scale
        elif scale > precision:
            body["scale"] = scale = 0
    # the largest whole value every bound and default below must stay within
    top = {
        "int": 2**31 - 1,
        "bigint": 2**53 - 1,
        "float": 10**12,
        "decimal": 10 ** min(precision - scale, 15) - 1,
    }[kind]
    low = high = None
    if draw(st.booleans()):
        low = draw(st.sampled_from([0, 1, -5, -100]))
        low = max(-top, min(low, top))
        body["min"] = low
    if draw(st.booleans()):
        high = draw(st.sampled_from([1, 5, 100, 10_000, top]))
        high = max(min(high, top), low if low is not None else -top)
        body["max"] = high
    if kind == "float" and low is not None and draw(st.booleans()):
        body["min"] = low = low - 0.5
    if draw(st.integers(0, 2)) == 0:
        body["index"] = True
    if kind in ("int", "bigint") and draw(st.integers(0, 4)) == 0:
        body["unique"] = True
    if not body.get("unique") and draw(st.integers(0, 3)) == 0:
        value: Any = low if low is not None else (0 if high is None or high >= 0 else high)
        if kind == "decimal" and draw(st.booleans()):
            value = str(Decimal(str(value)))
        body["default"] = value
    return draw(_common(body))


_TEMPORAL_DEFAULTS = {
    "date": "2024-05-17",
    "datetime": "2024-05-17T09:30:00Z",
    "time": "09:30:00",
    "uuid": "0b4e7a52-8d0b-4c4e-9f4e-2f1d7c3b9a10",
}


@st.composite
def plain_field(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind}
    if kind == "enum":
        body["values"] = draw(
            st.lists(st.sampled_from(ENUM_VALUES), min_size=1, max_size=4, unique=True)
        )
        if draw(st.booleans()):
            body["default"] = draw(st.sampled_from(body["values"]))
    elif kind == "bool":
        if draw(st.booleans()):
            body["default"] = draw(st.booleans())
    elif kind in _TEMPORAL_DEFAULTS and draw(st.integers(0, 2)) == 0:
        body["default"] = _TEMPORAL_DEFAULTS[kind]
    elif kind == "json" and draw(st.integers(0, 3)) == 0:
        body["example"] = {"a": [1, 2]}
    if kind in ("date", "datetime", "time", "uuid", "enum") and draw(st.integers(0, 3)) == 0:
        body["index"] = True
    if kind in ("uuid", "date") and "default" not in body and draw(st.integers(0, 4)) == 0:
        body["unique"] = True
    return draw(_common(body))


SCALAR_KINDS = (
    "string",
    "text",
    "email",
    "url",
    "int",
    "bigint",
    "float",
    "decimal",
    "bool",
    "date",
    "datetime",
    "time",
    "uuid",
    "enum",
    "json",
    "slug",
)


def scalar_field(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    if kind in ("string", "text", "email", "url", "slug"):
        return string_field(kind)
    if kind in ("int", "bigint", "float", "decimal"):
        return number_field(kind)
    return plain_field(kind)


@st.composite
def ref_field(draw: st.DrawFn, target: str, *, self_ref: bool, optional: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "ref", "to": target}
    on_delete = draw(st.sampled_from([None, "restrict", "cascade", "set_null"]))
    required = not (self_ref or optional or on_delete == "set_null") and draw(st.booleans())
    if on_delete:
        body["on_delete"] = on_delete
    if required:
        body["required"] = True
    if draw(st.integers(0, 3)) == 0:
        body["index"] = True
    if draw(st.integers(0, 4)) == 0:
        body["description"] = draw(st.sampled_from(DESCRIPTIONS))
    return body


# --- resources ----------------------------------------------------------------------------------


def _shorthand(body: dict[str, Any]) -> Any:
    """`name: type` when the field has no other option."""
    return body["type"] if list(body) == ["type"] else body


@st.composite
def _fields(
    draw: st.DrawFn, name: str, earlier: list[str], later: list[str], owned: bool
) -> dict[str, dict[str, Any]]:
    fields: dict[str, dict[str, Any]] = {}
    used: set[str] = {"owner"} if owned else set()
    count = draw(st.integers(1, 4))
    names = draw(
        st.lists(st.sampled_from(FIELD_NAMES), min_size=count, max_size=count, unique=True)
    )
    targets = [*earlier, name] + (later if ALLOW_CYCLES else [])
    for field_name in names:
        if field_name in used or f"{field_name}_id" in used:
            continue
        relation = draw(st.integers(0, 5)) == 0 if targets else False
        if relation:
            target = draw(st.sampled_from(targets))
            if draw(st.integers(0, 3)) == 0:
                body = {"type": "many", "to": target}
            else:
                body = draw(ref_field(target, self_ref=target == name, optional=target in later))
        else:
            body = draw(scalar_field(draw(st.sampled_from(SCALAR_KINDS))))
        column = f"{field_name}_id" if body["type"] == "ref" else field_name
        if column in used:
            continue
        used.update({field_name, column})
        fields[field_name] = body
    if not fields:
        fields["label"] = {"type": "string"}
    return fields


def _indexable(fields: dict[str, dict[str, Any]]) -> list[str]:
    return [f for f, b in fields.items() if b["type"] not in ("json", "many")]


def _queryable(fields: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f
        for f, b in fields.items()
        if b["type"] not in ("json", "many") and not b.get("hidden") and not b.get("write_only")
    ]


@st.composite
def _permissions(draw: st.DrawFn, owned: bool, roles: list[str]) -> dict[str, str | list[str]]:
    permissions: dict[str, str | list[str]] = {}
    for action in ACTIONS:
        shapes = ["anyone", "authenticated", *roles]
        if owned and action != "create":
            shapes.append("owner")
        if owned and action == "create":
            shapes.remove("anyone")  # an owned record belongs to the account that creates it
        choice = draw(st.integers(0, 4))
        if choice == 0:
            continue  # nobody named: denied to all but the admin role
        if choice == 1:
            permissions[action] = draw(
                st.lists(st.sampled_from(shapes), min_size=1, max_size=3, unique=True)
            )
        else:
            permissions[action] = draw(st.sampled_from(shapes))
    return permissions


@st.composite
def resource(
    draw: st.DrawFn,
    name: str,
    earlier: list[str],
    later: list[str],
    auth: dict[str, Any] | None,
    index_names: set[str],
) -> dict[str, Any]:
    owned = auth is not None and draw(st.integers(0, 2)) == 0
    body: dict[str, Any] = {}
    if draw(st.integers(0, 2)) == 0:
        body["description"] = draw(st.sampled_from(DESCRIPTIONS))
    fields = draw(_fields(name, earlier, later, owned))
    sources = [f for f, b in fields.items() if b["type"] in ("string", "text")]
    if sources and "slug" not in fields and draw(st.integers(0, 3)) == 0:
        fields["slug"] = draw(_derived_slug(sources))
    body["fields"] = {f: _shorthand(b) for f, b in fields.items()}
    indexable = _indexable(fields) + ["created_at", "id"] + (["owner"] if owned else [])
    indexes: list[Any] = []
    for _ in range(draw(st.integers(0, 2))):
        group = draw(st.lists(st.sampled_from(indexable), min_size=1, max_size=3, unique=True))
        if draw(st.booleans()):
            indexes.append(group)
        else:
            entry: dict[str, Any] = {"fields": group}
            if draw(st.booleans()) and _many_values(group, fields):
                entry["unique"] = True
            if draw(st.booleans()):
                index_name = f"ix_custom_{snake(name)}_{len(index_names)}"
                index_names.add(index_name)
                entry["name"] = index_name
            indexes.append(entry)
    if indexes:
        body["indexes"] = indexes
    if draw(st.integers(0, 2)) == 0 and len(indexable) >= 2:
        group = draw(st.lists(st.sampled_from(indexable), min_size=2, max_size=3, unique=True))
        if _many_values(group, fields):
            body["unique_together"] = [group]
    queryable = [*_queryable(fields), "id", "created_at", "updated_at"]
    for option in ("filter", "sort"):
        if draw(st.booleans()):
            body[option] = draw(st.lists(st.sampled_from(queryable), max_size=4, unique=True))
    if owned:
        body["owned"] = True
    if auth is not None:
        permissions = draw(_permissions(owned, auth["roles"]))
        if permissions or draw(st.booleans()):
            body["permissions"] = permissions
    elif draw(st.integers(0, 3)) == 0:
        body["permissions"] = {
            a: "anyone" if draw(st.booleans()) else ["anyone"]
            for a in draw(st.lists(st.sampled_from(ACTIONS), max_size=5, unique=True))
        }
    keys = [
        f
        for f, b in fields.items()
        if b["type"] in LOOKUP_TYPES
        and b.get("unique")
        and (b.get("required") or b.get("from"))
        and not any(b.get(flag) for flag in ("read_only", "write_only", "hidden"))
        and f != "target_id"
    ]
    if keys and draw(st.integers(0, 2)) != 0:
        body["lookup"] = draw(st.sampled_from(keys))
    elif draw(st.integers(0, 4)) == 0:  # a key of its own: a handle, a code, a UUID, a number
        kind = draw(st.sampled_from(["string", "slug", "uuid", "bigint"]))
        key: dict[str, Any] = {"type": kind, "unique": True, "required": True}
        if kind == "string":
            key["max_length"] = draw(st.sampled_from([12, 40]))
        body["fields"]["lookup_key"] = key
        body["lookup"] = "lookup_key"
    if draw(st.integers(0, 5)) == 0:
        body["plural"] = f"all_{snake(name)}_rows"
    if draw(st.integers(0, 8)) == 0:
        body["events"] = draw(
            st.lists(st.sampled_from(["created", "updated", "deleted"]), max_size=3, unique=True)
        )
    if draw(st.integers(0, 8)) == 0:
        body["cache"] = {"ttl": draw(st.sampled_from(["60s", "5m", "1h"]))}
    if draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):  # a state for a declarative action to move between
            state = {"type": "bool", "default": False, "read_only": True}
            body["fields"]["action_state"] = state
            fields = {**fields, "action_state": state}
        actions = draw(_actions(fields, body.get("lookup"), owned, auth))
        if actions:
            body["actions"] = actions
    if draw(st.integers(0, 4)) == 0:
        body.setdefault("actions", {}).update(draw(_collection_action(auth)))
    for field_name, field in body["fields"].items():  # fields left out of list pages
        hides = isinstance(field, dict) and (field.get("write_only") or field.get("hidden"))
        if field_name != body.get("lookup") and not hides and draw(st.integers(0, 7)) == 0:
            field = field if isinstance(field, dict) else {"type": field}
            body["fields"][field_name] = {**field, "in_list": False}
    # (SQLite cannot read a column named true or false through the marks' query: refused)
    plain = not {"true", "false"} & {f.lower() for f in fields}
    if auth is not None and "cache" not in body and plain and draw(st.integers(0, 4)) == 0:
        body["marks"] = draw(_marks(owned, auth))
        counts = [m["count"] for m in body["marks"].values() if "count" in m]
        if counts and draw(st.booleans()):
            body["sort"] = [*body.get("sort", []), counts[0]]
    return body


def _many_values(group: list[str], fields: dict[str, dict[str, Any]]) -> bool:
    """Whether a unique group takes as many values as the generated tests create records: one
    of its fields is not an enum, a bool or the owner (a few values at most, or one caller's)."""
    few = ("enum", "bool")
    return any(
        f in ("id", "created_at") or fields.get(f, {}).get("type", "bool") not in few for f in group
    )


@st.composite
def _marks(draw: st.DrawFn, owned: bool, auth: dict[str, Any]) -> dict[str, Any]:
    """Marks (per-caller relations): a count, a mine field or both, maybe a narrower `allow`."""
    allow_words = ["authenticated", *auth["roles"]] + (["owner"] if owned else [])
    marks: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(["vote", "star"]), min_size=1, unique=True)):
        shown = draw(st.sampled_from([("count",), ("mine",), ("count", "mine")]))
        mark: dict[str, Any] = {}
        if "count" in shown:
            mark["count"] = f"{name}_total"
        if "mine" in shown:
            mark["mine"] = f"{name}_given"
        if draw(st.integers(0, 2)) == 0:
            mark["allow"] = draw(st.sampled_from(allow_words))
        marks[name] = mark
    return marks


# Options an action's input copies from the field it sets: its type and what a value must keep to.
VALUE_OPTIONS = ("type", "min_length", "max_length", "pattern", "values", "min", "max")


@st.composite
def _actions(
    draw: st.DrawFn,
    fields: dict[str, dict[str, Any]],
    lookup: str | None,
    owned: bool,
    auth: dict[str, Any] | None,
) -> dict[str, Any]:
    """Custom actions: a declarative one (a state field from one value to another, maybe a text
    field from an input) and/or a handler with a typed input and output."""
    actions: dict[str, Any] = {}
    usable = {f: b for f, b in fields.items() if not b.get("unique") and f not in (lookup, "owner")}
    states = [
        f
        for f, b in usable.items()
        if b["type"] == "bool" or (b["type"] == "enum" and len(b.get("values") or []) > 1)
    ]
    texts = [f for f, b in usable.items() if b["type"] in ("string", "text")]
    allow_words = ["authenticated", *(auth or {}).get("roles", [])] + (["owner"] if owned else [])
    if states and draw(st.integers(0, 3)) != 0:
        state = draw(st.sampled_from(states))
        body = usable[state]
        if body["type"] == "bool":
            before = draw(st.booleans())
            after: Any = not before
        else:
            before, after = draw(
                st.lists(st.sampled_from(body["values"]), min_size=2, max_size=2, unique=True)
            )
        when: dict[str, Any] = {state: before}
        if draw(st.integers(0, 2)) == 0:  # the same state, said with an operator
            others = [v for v in body.get("values") or [] if v != after]
            when[state] = (
                {"in": draw(st.lists(st.sampled_from(others), min_size=1, unique=True))}
                if others and draw(st.booleans())
                else {"ne": after}
            )
        guards = [f for f in usable if f != state and usable[f]["type"] not in ("json", "many")]
        guards = [f for f in guards if usable[f]["type"] != "ref"]
        if guards and draw(st.booleans()):
            guard = draw(st.sampled_from(guards))
            for condition in draw(_condition(usable[guard])):
                when[guard] = condition
        action: dict[str, Any] = {"when": when, "sets": {state: after}}
        if texts and draw(st.booleans()):
            text = draw(st.sampled_from(texts))
            given = {k: v for k, v in usable[text].items() if k in VALUE_OPTIONS}
            action["input"] = {"note": {**given, "required": True}}
            action["sets"][text] = {"input": "note"}
        if auth is not None and draw(st.booleans()):
            action["allow"] = draw(st.sampled_from(allow_words))
        actions[draw(st.sampled_from(["do_approve", "do_archive", "do_flip"]))] = action
    if draw(st.integers(0, 2)) == 0:
        handler: dict[str, Any] = {
            "handler": True,
            "input": {"reason": {"type": "enum", "values": ["spam", "rude"], "required": True}},
        }
        if draw(st.booleans()):
            handler["output"] = {"total": {"type": "int", "required": True}}
        if auth is not None and draw(st.booleans()):
            handler["allow"] = draw(st.sampled_from(allow_words))
        actions["do_report"] = handler
    return actions


# Values inside any bounds this module draws for an ordered type, lowest first.
_ORDERED = {
    "date": ("2020-01-01", "2030-12-31"),
    "datetime": ("2020-01-01T00:00:00Z", "2030-12-31T23:00:00Z"),
    "time": ("06:00:00", "18:00:00"),
}


@st.composite
def _condition(draw: st.DrawFn, body: dict[str, Any]) -> list[Any]:
    """A `when` entry some value of the field meets (`[entry]`; `[]` when none is drawn): an
    ordering within its bounds, `in` its enum values, `ne`, or `null` / `ne: null` for an
    optional field."""
    kind = body["type"]
    shapes = ["ne_null", "null"] if not body.get("required") else []
    ordered = kind in ("int", "bigint", "float", "decimal") or kind in _ORDERED
    if ordered:
        shapes += ["range", "range", "low", "high"]
    if kind == "enum":
        shapes += ["in", "ne"]
    if kind == "bool":
        shapes.append("ne")
    if not shapes:
        return []
    shape = draw(st.sampled_from(shapes))
    if shape == "ne_null":
        return [{"ne": None}]
    if shape == "null":
        return [None]
    if kind == "enum":
        values = body["values"]
        if shape == "in":
            return [{"in": draw(st.lists(st.sampled_from(values), min_size=1, unique=True))}]
        return [{"ne": draw(st.sampled_from(values))}] if len(values) > 1 else []
    if kind == "bool":
        return [{"ne": draw(st.booleans())}]
    if kind in _ORDERED:
        low, high = _ORDERED[kind]
    else:
        high = body.get("max", 10_000)
        low = min(body.get("min", -100 if kind != "decimal" else 0), high)
    if shape == "low":
        return [{"gte": low}]
    if shape == "high":
        return [{"lte": high}]
    if low == high:
        return [{"gte": low, "lte": high}]
    lower, upper = draw(st.sampled_from(["gt", "gte"])), draw(st.sampled_from(["lt", "lte"]))
    return [{lower: low, upper: high}]


@st.composite
def _collection_action(draw: st.DrawFn, auth: dict[str, Any] | None) -> dict[str, Any]:
    """A handler action on the collection, `POST {base}/{plural}/{action}`."""
    action: dict[str, Any] = {"on": "collection", "handler": True}
    if draw(st.booleans()):
        action["input"] = {"before": {"type": "date", "required": True}}
    if draw(st.booleans()):
        action["output"] = {"swept": {"type": "int", "required": True}}
    if auth is not None and draw(st.booleans()):
        words = ["anyone", "authenticated", *auth["roles"]]
        action["allow"] = (
            draw(st.lists(st.sampled_from(words), min_size=1, max_size=2, unique=True))
            if draw(st.booleans())
            else draw(st.sampled_from(words))
        )
    return {draw(st.sampled_from(["sweep", "do_sweep"])): action}


@st.composite
def _derived_slug(draw: st.DrawFn, sources: list[str]) -> dict[str, Any]:
    """`type: slug, from: <a string or text field>`, maybe unique, short, made anew on change."""
    slug: dict[str, Any] = {"type": "slug", "from": draw(st.sampled_from(sources))}
    if draw(st.booleans()):
        slug["unique"] = True
    if draw(st.integers(0, 2)) == 0:
        slug["max_length"] = draw(st.sampled_from([3, 12, 40]))
    if draw(st.booleans()):
        slug["on_change"] = draw(st.sampled_from(["keep", "update"]))
    if draw(st.integers(0, 3)) == 0:
        slug["required"] = True
    return slug


def _body(resources: dict[str, Any], name: str, field: str) -> dict[str, Any]:
    """A field's body as a mapping (the shorthand expanded in place)."""
    fields = resources[name]["fields"]
    if not isinstance(fields[field], dict):
        fields[field] = {"type": fields[field]}
    body: dict[str, Any] = fields[field]
    return body


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _segment(name: str, body: dict[str, Any]) -> str:
    return _kebab(body.get("plural") or plural(snake(name)))


def _parents(draw: st.DrawFn, resources: dict[str, Any]) -> None:
    """`parent: <required ref>` on some resources: an existing required ref to another
    resource, or a `holder` added for it."""
    names = list(resources)
    for i, name in enumerate(names):
        body = resources[name]
        if draw(st.integers(0, 3)) != 0:
            continue
        fields = {f: b if isinstance(b, dict) else {"type": b} for f, b in body["fields"].items()}
        refs = [
            f
            for f, b in fields.items()
            if b["type"] == "ref" and b.get("required") and b["to"] != name
        ]
        if not refs and i > 0 and "holder" not in fields and "holder_id" not in fields:
            target = draw(st.sampled_from(names[:i]))
            holder: dict[str, Any] = {"type": "ref", "to": target, "required": True}
            if draw(st.booleans()):
                holder["on_delete"] = "cascade"
            body["fields"]["holder"] = holder
            refs = ["holder"]
        if not refs:
            continue
        field = draw(st.sampled_from(refs))
        target = resources[fields.get(field, {"to": body["fields"][field]["to"]})["to"]]
        taken = {_kebab(f) for f in target.get("actions") or {}} | {
            _kebab(m) for m in target.get("marks") or {}
        }
        taken |= {
            _kebab(f)
            for f, b in target["fields"].items()
            if isinstance(b, dict) and b["type"] == "many"
        }
        if _segment(name, body) not in taken:
            body["parent"] = field


def _ref_owners(draw: st.DrawFn, resources: dict[str, Any]) -> None:
    """`allow: <ref field>.owner` on some record actions, for required refs to owned targets."""
    for body in resources.values():
        refs = [
            f
            for f, b in body["fields"].items()
            if isinstance(b, dict)
            and b["type"] == "ref"
            and b.get("required")
            and resources[b["to"]].get("owned")
        ]
        for action in (body.get("actions") or {}).values():
            if refs and action.get("on") != "collection" and draw(st.booleans()):
                allow = action.get("allow")
                allow = allow if isinstance(allow, list) else [allow] if allow else []
                action["allow"] = [*allow, f"{draw(st.sampled_from(refs))}.owner"]


def _envelopes(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """Member names of their own for some resources, with `api.envelope`."""
    if not spec.get("api", {}).get("envelope"):
        return
    for name, body in spec["resources"].items():
        if draw(st.integers(0, 2)) == 0:
            member = snake(name)
            names = {"one": f"{member}_one", "many": f"{member}_many"}
            body["envelope"] = {k: v for k, v in names.items() if draw(st.booleans())} or names


def _profiles_use(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """`author` and `views` on owned resources, with `auth.profile` (and its `follow`)."""
    profile = spec.get("auth", {}).get("profile")
    if profile is None:
        return
    for body in spec["resources"].values():
        if body.get("owned") is not True or isinstance(body.get("cache"), dict):
            continue
        marks = body.get("marks") or {}
        taken = {*body["fields"], *marks} | {
            v for m in marks.values() for k, v in m.items() if k in ("count", "mine")
        }
        if "author" not in taken and draw(st.booleans()):
            body["author"] = "author"
        actions = body.get("actions") or {}
        if "follow" in profile and "following" not in actions and draw(st.booleans()):
            body["views"] = {"following": {"owner": "followed"}}


def _webhooks(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """`webhooks`, with accounts and at least one resource's events."""
    if "auth" not in spec or draw(st.integers(0, 3)) != 0:
        return
    resources = spec["resources"]
    if not any(b.get("events") for b in resources.values()):
        name = draw(st.sampled_from(sorted(resources)))
        resources[name]["events"] = ["created"]
    declared = [
        f"{name.lower()}.{event}"
        for name, body in sorted(resources.items())
        for event in ("created", "updated", "deleted")
        if event in (body.get("events") or [])
    ]
    webhooks: dict[str, Any] = {}
    if draw(st.booleans()):
        webhooks["events"] = draw(st.lists(st.sampled_from(declared), min_size=1, unique=True))
    others = [r for r in spec["auth"]["roles"] if r != spec["auth"].get("admin_role", "admin")]
    if others and draw(st.booleans()):
        webhooks["allow"] = draw(st.sampled_from(others))
    spec["webhooks"] = webhooks


def _consumes(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """`consumes`: subscriptions to this service's events (types or patterns) or another's."""
    if draw(st.integers(0, 3)) != 0:
        return
    own = [
        f"{name.lower()}.{event}"
        for name, body in spec["resources"].items()
        for event in body.get("events") or []
    ]
    own += sorted({f"{t.split('.')[0]}.*" for t in own})
    consumes: dict[str, Any] = {}
    for sub in draw(
        st.lists(
            st.sampled_from(["audit_trail", "index", "x2"]), min_size=1, max_size=2, unique=True
        )
    ):
        if own and draw(st.booleans()):
            entry: dict[str, Any] = {
                "events": draw(st.lists(st.sampled_from(own), min_size=1, max_size=2, unique=True))
            }
        elif draw(st.booleans()):
            entry = {"events": ["*.deleted"]}
        else:
            entry = {"events": ["payment.settled", "refund.*"], "from": "billing"}
        if draw(st.booleans()):
            entry["max_attempts"] = draw(st.integers(1, 10))
        consumes[sub] = entry
    spec["consumes"] = consumes


# --- the service --------------------------------------------------------------------------------


@st.composite
def _auth(draw: st.DrawFn) -> dict[str, Any]:
    admin = draw(st.sampled_from(["admin", "admin", "boss"]))
    others = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True))
    roles = [admin, *others] if draw(st.booleans()) else [*others, admin]
    auth: dict[str, Any] = {"users": True, "roles": roles}
    if admin != "admin":
        auth["admin_role"] = admin
    if draw(st.booleans()):
        auth["registration"] = draw(st.sampled_from([True, False, {"neutral": True}]))
    if draw(st.booleans()):
        auth["api_keys"] = True
    if draw(st.integers(0, 2)) == 0:
        auth["default_role"] = draw(st.sampled_from(others))
    if draw(st.integers(0, 2)) == 0:
        auth["tokens"] = {
            "access_ttl": draw(st.sampled_from(["5m", "15m", "1h", "900s"])),
            "refresh_ttl": draw(st.sampled_from(["1d", "14d", "12h"])),
        }
    if draw(st.integers(0, 3)) == 0:
        auth["token_schemes"] = draw(st.sampled_from([["Bearer", "Token"], ["Token", "Bearer"]]))
    if draw(st.integers(0, 3)) == 0:
        auth["profile"] = draw(_profile())
    return auth


PROFILE_KINDS = (
    "string",
    "text",
    "slug",
    "url",
    "email",
    "int",
    "bigint",
    "float",
    "bool",
    "enum",
    "date",
    "datetime",
    "time",
    "uuid",
)


@st.composite
def _profile(draw: st.DrawFn) -> dict[str, Any]:
    """`auth.profile`: a unique, required lookup field, other fields, maybe follows."""
    lookup = draw(st.sampled_from(["username", "handle"]))
    key: dict[str, Any] = {
        "type": draw(st.sampled_from(["string", "string", "slug"])),
        "required": True,
        "unique": True,
    }
    if draw(st.booleans()):
        key["max_length"] = draw(st.sampled_from([12, 40]))
    fields: dict[str, Any] = {lookup: key}
    for name in draw(
        st.lists(
            st.sampled_from(["bio", "image", "born_on", "score", "shown"]), max_size=3, unique=True
        )
    ):
        fields[name] = _shorthand(draw(scalar_field(draw(st.sampled_from(PROFILE_KINDS)))))
    profile: dict[str, Any] = {"lookup": lookup, "fields": fields}
    if draw(st.booleans()):
        follow = {"count": "followers_count", "mine": "following"}
        profile["follow"] = {k: v for k, v in follow.items() if draw(st.booleans())}
    return profile


@st.composite
def _api(draw: st.DrawFn) -> dict[str, Any] | None:
    if draw(st.integers(0, 2)) == 0:
        return None
    api: dict[str, Any] = {}
    if draw(st.booleans()):
        api["base_path"] = draw(st.sampled_from(["/api/v1", "", "/v2", "/svc/api.v1-x_y"]))
    if draw(st.booleans()):
        top = draw(st.sampled_from([1, 5, 100, 1000]))
        api["pagination"] = {
            "style": draw(st.sampled_from(["cursor", "offset"])),
            "default_limit": draw(st.integers(1, top)),
            "max_limit": top,
        }
        if draw(st.booleans()):
            api["pagination"]["shape"] = "array"
    if draw(st.integers(0, 2)) == 0:
        members = draw(
            st.sampled_from([{}, {"code": "status", "message": "detail"}, {"error": "title"}])
        )
        api["errors"] = {
            "media_type": draw(st.sampled_from(["application/problem+json", "application/json"])),
            "members": members,
        }
    if draw(st.integers(0, 2)) == 0:
        api["omit_nulls"] = True
    if draw(st.integers(0, 2)) == 0:
        api["field_names"] = "camelCase"
    if draw(st.integers(0, 3)) == 0:
        api["require_if_match"] = True
    if draw(st.integers(0, 4)) == 0:  # the service's read cache
        api["cache"] = {"ttl": draw(st.sampled_from(["30s", "10m", "1d"]))}
    if api.get("pagination", {}).get("shape") != "array" and draw(st.integers(0, 3)) == 0:
        api["envelope"] = True
    return api


def _seed_value(body: dict[str, Any], index: int) -> Any | None:
    """A value for seed record `index` of a scalar field that fits it, unique per index; None
    when this module cannot make one."""
    kind = body["type"]
    if kind in ("string", "text"):
        values = _string_values(body)
        if body.get("pattern"):
            return values[index] if index < len(values) else None
        low, high = body.get("min_length", 0), body.get("max_length", 255)
        value = f"s{index}".ljust(max(low, 2), "x")
        return value if len(value) <= high else None
    if kind == "email":
        return f"user{index}@example.com"
    if kind == "url":
        return f"https://example.com/{index}"
    if kind in ("int", "bigint", "float", "decimal"):
        low, high = body.get("min"), body.get("max")
        start = int(low) + 1 if low is not None else 0
        value = start + index
        if high is not None and value > high:
            return None
        return str(value) if kind == "decimal" else value
    if kind == "uuid":
        return f"00000000-0000-4000-8000-{index:012d}"
    if kind == "date":
        return (dt.date(2024, 1, 1) + dt.timedelta(days=index)).isoformat()
    if kind == "datetime":
        return f"2024-01-0{index + 1}T10:00:00Z"
    if kind == "time":
        return f"0{index}:30:00"
    if kind == "enum":
        return body["values"][index % len(body["values"])]
    if kind == "bool":
        return index % 2 == 0
    if kind == "json":
        return {"n": index}
    return None


LOOKUP_KINDS = ("string", "slug", "uuid", "int", "bigint", "enum")


def _relation_options(draw: st.DrawFn, spec: dict[str, Any]) -> None:
    """`by`, `create_missing` and `embed` on some relations, where the checks allow them: `by`
    the target's natural key (so seed rows keep naming targets by it), `create_missing` when the
    target needs nothing else, `embed` one level deep into a target everybody may read, never on
    a cached resource."""
    resources = spec["resources"]
    cached_default = isinstance(spec.get("api", {}).get("cache"), dict)
    embedders: set[str] = set()
    embedded: set[str] = set()
    for name, body in resources.items():
        cache = body.get("cache")
        if isinstance(cache, dict) or (cached_default and cache is not False):
            continue
        for field in body["fields"].values():
            if not isinstance(field, dict) or field["type"] not in ("ref", "many"):
                continue
            target = resources[field["to"]]
            fields = {
                f: b if isinstance(b, dict) else {"type": b} for f, b in target["fields"].items()
            }
            key = _natural_key(fields)
            by = fields.get(key or "", {})
            usable = by.get("required") and by["type"] in LOOKUP_KINDS and not by.get("write_only")
            if usable and draw(st.booleans()):
                field["by"] = key
                needs = [
                    f
                    for f, b in fields.items()
                    if f != key and b.get("required") and b.get("default") is None
                ]
                target_cache = target.get("cache")
                target_cached = isinstance(target_cache, dict) or (
                    cached_default and target_cache is not False
                )
                creatable = field["type"] == "many" and not needs and not target.get("owned")
                creatable = creatable and not target_cached
                if creatable and draw(st.booleans()):
                    field["create_missing"] = True
            readers = target.get("permissions", {}).get("read")
            everybody = "auth" not in spec or readers == "anyone" or "anyone" in (readers or [])
            free = field["to"] not in embedders and name not in embedded and field["to"] != name
            embeddable = field["type"] == "ref" and everybody and free and not target.get("marks")
            if embeddable and draw(st.integers(0, 2)) == 0:
                field["embed"] = True
                embedders.add(name)
                embedded.add(field["to"])


def _natural_key(fields: dict[str, dict[str, Any]]) -> str | None:
    for name, body in fields.items():
        settable = not (body.get("read_only") or body.get("hidden") or body.get("from"))
        if body.get("unique") and body["type"] not in ("ref", "many", "json", "text") and settable:
            return name
    return None


@st.composite
def _seed(draw: st.DrawFn, resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Records for the resources whose natural key is a single field this module can fill."""
    seed: dict[str, list[dict[str, Any]]] = {}
    keys: dict[str, list[Any]] = {}
    for name, body in resources.items():
        if body.get("owned") or draw(st.booleans()):
            continue
        fields = {f: (b if isinstance(b, dict) else {"type": b}) for f, b in body["fields"].items()}
        key = _natural_key(fields)
        if key is None:
            continue
        rows = []
        for index in range(draw(st.integers(1, 3))):
            row: dict[str, Any] = {}
            for field_name, spec in fields.items():
                if spec.get("read_only") or spec.get("hidden") or spec.get("from"):
                    if spec.get("required") and not spec.get("from"):
                        break
                    continue
                wanted = field_name == key or spec.get("required") or draw(st.booleans())
                if not wanted:
                    continue
                if spec["type"] == "ref":
                    target = spec["to"]
                    pool = keys.get(target, []) if target != name else [r[key] for r in rows]
                    if pool:
                        row[field_name] = draw(st.sampled_from(pool))
                    elif spec.get("required"):
                        break
                    continue
                if spec["type"] == "many":
                    pool = keys.get(spec["to"], [])
                    if pool and spec["to"] != name:
                        row[field_name] = draw(
                            st.lists(st.sampled_from(pool), max_size=2, unique=True)
                        )
                    continue
                value = _seed_value(spec, index)
                if value is None:
                    break
                row[field_name] = value
            else:
                rows.append(row)
                continue
            break
        if rows:
            seed[name] = rows
            keys[name] = [r[key] for r in rows]
    return seed


def _clean_seed_refs(resources: dict[str, Any], seed: dict[str, Any]) -> None:
    """A target named by a seeded ref must be seeded and keyed by a single field: it is, by
    construction of `_seed`, except for `many` lists left empty (dropped here)."""
    for rows in seed.values():
        for row in rows:
            for field_name in [f for f, v in row.items() if v == []]:
                del row[field_name]


@st.composite
def valid_specs(
    draw: st.DrawFn, *, max_resources: int = 4, cycles: bool | None = None
) -> dict[str, Any]:
    """The data of a spec `backforge validate` accepts."""
    global ALLOW_CYCLES
    saved = ALLOW_CYCLES
    if cycles is not None:
        ALLOW_CYCLES = cycles
    try:
        return draw(_valid_spec(max_resources))
    finally:
        ALLOW_CYCLES = saved


@st.composite
def _valid_spec(draw: st.DrawFn, max_resources: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "service": {"name": draw(st.sampled_from(["shop", "svc", "fuzzed_service", "a1"]))}
    }
    if draw(st.booleans()):
        spec["service"]["title"] = draw(st.sampled_from(["Fuzzed API", "Ünïcode API — 🚀"]))
    if draw(st.integers(0, 2)) == 0:
        spec["service"]["version"] = draw(st.sampled_from(["1.0", "2.3.4", "0.1.0-beta"]))
    if draw(st.integers(0, 2)) == 0:
        spec["service"]["description"] = draw(st.sampled_from(DESCRIPTIONS))
    if (api := draw(_api())) is not None:
        spec["api"] = api
    auth = draw(_auth()) if draw(st.booleans()) else None
    if auth is not None:
        spec["auth"] = auth
    if draw(st.integers(0, 2)) == 0:
        limits = {}
        for who in ("anonymous", "authenticated"):
            if draw(st.booleans()):
                limits[who] = draw(st.sampled_from(["60/minute", "5000/hour", "100/second"]))
        spec["limits"] = limits
    if draw(st.integers(0, 2)) == 0:
        spec["flags"] = {
            flag: (
                draw(st.booleans())
                if draw(st.booleans())
                else {
                    "default": draw(st.booleans()),
                    "description": draw(st.sampled_from(DESCRIPTIONS)),
                }
            )
            for flag in draw(
                st.lists(
                    st.sampled_from(["beta", "gift_wrapping", "class", "x2"]),
                    max_size=3,
                    unique=True,
                )
            )
        }
    names = draw(
        st.lists(
            st.sampled_from(RESOURCE_NAMES),
            min_size=1,
            max_size=max_resources,
            unique_by=lambda n: snake(n),
        )
    )
    if auth is not None:  # the accounts own these names (resources.User is refused)
        names = [n for n in names if snake(n) not in ACCOUNT_NAMES] or ["Person"]
    segments = {plural(snake(n)) for n in names}
    if len(segments) < len(names):
        names = names[:1]
    resources: dict[str, Any] = {}
    index_names: set[str] = set()
    for i, name in enumerate(names):
        resources[name] = draw(resource(name, names[:i], names[i + 1 :], auth, index_names))
    if "cache" in spec.get("api", {}) and draw(st.booleans()):
        resources[draw(st.sampled_from(names))]["cache"] = False  # opted out
    spec["resources"] = resources
    _parents(draw, resources)
    _ref_owners(draw, resources)
    _envelopes(draw, spec)
    _profiles_use(draw, spec)
    _relation_options(draw, spec)
    _webhooks(draw, spec)
    _consumes(draw, spec)
    if draw(st.booleans()):
        seed = draw(_seed(resources))
        _clean_seed_refs(resources, seed)
        if seed:
            spec["seed"] = seed
    return spec


# --- invalid specs ------------------------------------------------------------------------------


def _first_field(spec: dict[str, Any]) -> tuple[str, str]:
    resource = next(iter(spec["resources"]))
    return resource, next(iter(spec["resources"][resource]["fields"]))


def _field_body(spec: dict[str, Any], resource: str, field: str) -> dict[str, Any]:
    fields = spec["resources"][resource]["fields"]
    if not isinstance(fields[field], dict):
        fields[field] = {"type": fields[field]}
    body: dict[str, Any] = fields[field]
    return body


def _unknown_type(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    body = _field_body(spec, r, f)
    spec["resources"][r]["fields"][f] = {"type": "strng"}
    del body
    return f"resources.{r}.fields.{f}.type"


def _bad_ref_target(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_link"] = {"type": "ref", "to": "Nowhere"}
    return f"resources.{r}.fields.zz_link.to"


def _unknown_resource_key(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["feilds"] = {}
    return f"resources.{r}.feilds"


def _unknown_section(spec: dict[str, Any]) -> str:
    spec["resorces"] = {}
    return "resorces"


def _unknown_field_option(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "string", "maxlength": 3}
    return f"resources.{r}.fields.{f}.maxlength"


def _option_wrong_type(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "int", "max_length": 5}
    return f"resources.{r}.fields.{f}.max_length"


def _min_over_max(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "int", "min": 10, "max": 1}
    return f"resources.{r}.fields.{f}.min"


def _bad_default(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "enum", "values": ["a", "b"], "default": "c"}
    return f"resources.{r}.fields.{f}.default"


def _bad_on_delete(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_link"] = {"type": "ref", "to": r, "on_delete": "nullify"}
    return f"resources.{r}.fields.zz_link.on_delete"


def _set_null_required(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    other = {"Zother": {"fields": {"label": "string"}}}
    spec["resources"].update(other)
    spec["resources"][r]["fields"]["zz_link"] = {
        "type": "ref",
        "to": "Zother",
        "required": True,
        "on_delete": "set_null",
    }
    return f"resources.{r}.fields.zz_link.on_delete"


def _required_self_ref(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_parent"] = {"type": "ref", "to": r, "required": True}
    return f"resources.{r}.fields.zz_parent"


def _automatic_field(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["created_at"] = "datetime"
    return f"resources.{r}.fields.created_at"


def _bad_field_name(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["Bad_Name"] = "string"
    return f"resources.{r}.fields.Bad_Name"


def _bad_resource_name(spec: dict[str, Any]) -> str:
    spec["resources"]["bad_resource"] = {"fields": {"label": "string"}}
    return "resources.bad_resource"


def _duplicate_table(spec: dict[str, Any]) -> str:
    drawn = "HTTPLog" in spec["resources"]  # then HttpLog comes second: the clash is its
    spec["resources"]["HttpLog"] = {"fields": {"label": "string"}}
    spec["resources"]["HTTPLog"] = {"fields": {"label": "string"}}
    return "resources.HttpLog" if drawn else "resources.HTTPLog"


def _filter_unknown(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["filter"] = ["no_such_field"]
    return f"resources.{r}.filter[0]"


def _sort_json(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_blob"] = "json"
    spec["resources"][r]["sort"] = ["zz_blob"]
    return f"resources.{r}.sort[0]"


def _index_many(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_many"] = {"type": "many", "to": r}
    spec["resources"][r]["indexes"] = [["zz_many"]]
    return f"resources.{r}.indexes[0][0]"


def _action_on_no_field(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["actions"] = {"do_zap": {"sets": {"zz_nothing": 1}}}
    return f"resources.{r}.actions.do_zap.sets.zz_nothing"


def _action_named_like_an_operation(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["actions"] = {"delete": {"handler": True}}
    return f"resources.{r}.actions.delete"


def _unknown_role(spec: dict[str, Any]) -> str:
    spec["auth"] = {"users": True, "roles": ["admin", "member"]}
    r = next(iter(spec["resources"]))
    spec["resources"][r]["permissions"] = {"read": "wizard"}
    return f"resources.{r}.permissions.read"


def _owner_create(spec: dict[str, Any]) -> str:
    spec["auth"] = {"users": True, "roles": ["admin", "member"]}
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"].pop("owner", None)
    spec["resources"][r]["owned"] = True
    spec["resources"][r]["permissions"] = {"create": "owner"}
    return f"resources.{r}.permissions.create"


def _owned_without_auth(spec: dict[str, Any]) -> str:
    spec.pop("auth", None)
    spec.pop("seed", None)
    r = next(iter(spec["resources"]))
    spec["resources"][r]["owned"] = True
    return f"resources.{r}.owned"


def _bad_limit(spec: dict[str, Any]) -> str:
    spec["limits"] = {"anonymous": "sixty per minute"}
    return "limits.anonymous"


def _bad_pagination(spec: dict[str, Any]) -> str:
    spec["api"] = {"pagination": {"default_limit": 50, "max_limit": 10}}
    return "api.pagination.default_limit"


def _bad_style(spec: dict[str, Any]) -> str:
    spec["api"] = {"pagination": {"style": "pages"}}
    return "api.pagination.style"


def _lookup_not_unique(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["handle_x"] = {"type": "string", "required": True}
    spec["resources"][r]["lookup"] = "handle_x"
    return f"resources.{r}.lookup"


def _error_member_clash(spec: dict[str, Any]) -> str:
    spec["api"] = {"errors": {"members": {"status": "detail"}}}
    return "api.errors.members.status"


def _bad_service_name(spec: dict[str, Any]) -> str:
    spec["service"]["name"] = "fastapi"
    return "service.name"


def _bad_pattern(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "string", "pattern": "([a-z"}
    return f"resources.{r}.fields.{f}.pattern"


def _bad_enum(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "enum", "values": ["a", "a"]}
    return f"resources.{r}.fields.{f}.values"


def _scale_over_precision(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "decimal", "precision": 3, "scale": 5}
    return f"resources.{r}.fields.{f}.scale"


def _seed_unknown_resource(spec: dict[str, Any]) -> str:
    spec["seed"] = {"Nowhere": [{"x": 1}]}
    return "seed.Nowhere"


def _bad_flag(spec: dict[str, Any]) -> str:
    spec["flags"] = {"beta": "sometimes"}
    return "flags.beta"


def _unique_text(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "text", "unique": True}
    return f"resources.{r}.fields.{f}.unique"


def _int_out_of_range(spec: dict[str, Any]) -> str:
    r, f = _first_field(spec)
    spec["resources"][r]["fields"][f] = {"type": "int", "max": 2**40}
    return f"resources.{r}.fields.{f}.max"


def _user_with_accounts(spec: dict[str, Any]) -> str:
    spec["auth"] = {"users": True, "roles": ["admin", "member"]}
    spec.pop("seed", None)
    for body in spec["resources"].values():
        body.pop("permissions", None)
    spec["resources"]["User"] = {"fields": {"nickname": "string"}}
    return "resources.User"


def _envelope_array_pages(spec: dict[str, Any]) -> str:
    spec["api"] = {"envelope": True, "pagination": {"shape": "array"}}
    return "api.envelope"


def _slug_from_nothing(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_slug"] = {"type": "slug", "from": "zz_nothing"}
    return f"resources.{r}.fields.zz_slug.from"


def _parent_not_a_ref(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_up"] = {"type": "int", "required": True}
    spec["resources"][r]["parent"] = "zz_up"
    return f"resources.{r}.parent"


def _declarative_collection_action(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_done"] = {"type": "bool", "default": False}
    spec["resources"][r]["actions"] = {"zz_all": {"on": "collection", "sets": {"zz_done": True}}}
    return f"resources.{r}.actions.zz_all.on"


def _ordering_on_a_string(spec: dict[str, Any]) -> str:
    r = next(iter(spec["resources"]))
    spec["resources"][r]["fields"]["zz_name"] = {"type": "string", "max_length": 20}
    spec["resources"][r]["fields"]["zz_done"] = {"type": "bool", "default": False}
    spec["resources"][r]["actions"] = {
        "zz_act": {"when": {"zz_name": {"gte": "m"}}, "sets": {"zz_done": True}}
    }
    return f"resources.{r}.actions.zz_act.when.zz_name.gte"


def _author_without_profile(spec: dict[str, Any]) -> str:
    spec["auth"] = {"users": True, "roles": ["admin", "member"]}
    r = next(iter(spec["resources"]))
    spec["resources"][r]["author"] = "zz_author"
    return f"resources.{r}.author"


def _webhooks_without_accounts(spec: dict[str, Any]) -> str:
    spec.pop("auth", None)
    spec.pop("seed", None)
    for body in spec["resources"].values():
        for key in ("owned", "permissions", "marks", "actions", "author", "views"):
            body.pop(key, None)
    next(iter(spec["resources"].values()))["events"] = ["created"]
    spec["webhooks"] = {}
    return "webhooks"


def _consumes_unknown_resource(spec: dict[str, Any]) -> str:
    spec["consumes"] = {"zz_sub": {"events": ["zz_nowhere.created"]}}
    return "consumes.zz_sub.events[0]"


MUTATIONS = (
    _envelope_array_pages,
    _slug_from_nothing,
    _parent_not_a_ref,
    _declarative_collection_action,
    _ordering_on_a_string,
    _author_without_profile,
    _webhooks_without_accounts,
    _consumes_unknown_resource,
    _user_with_accounts,
    _unknown_type,
    _bad_ref_target,
    _unknown_resource_key,
    _unknown_section,
    _unknown_field_option,
    _option_wrong_type,
    _min_over_max,
    _bad_default,
    _bad_on_delete,
    _set_null_required,
    _required_self_ref,
    _automatic_field,
    _bad_field_name,
    _bad_resource_name,
    _duplicate_table,
    _filter_unknown,
    _sort_json,
    _index_many,
    _unknown_role,
    _action_on_no_field,
    _action_named_like_an_operation,
    _owner_create,
    _owned_without_auth,
    _bad_limit,
    _bad_pagination,
    _bad_style,
    _error_member_clash,
    _lookup_not_unique,
    _bad_service_name,
    _bad_pattern,
    _bad_enum,
    _scale_over_precision,
    _seed_unknown_resource,
    _bad_flag,
    _unique_text,
    _int_out_of_range,
)


@st.composite
def invalid_specs(draw: st.DrawFn) -> tuple[dict[str, Any], str, str]:
    """(spec data, the mutation's name, the path its error must name)."""
    spec = copy.deepcopy(draw(valid_specs(max_resources=3)))
    mutation = draw(st.sampled_from(MUTATIONS))
    path = mutation(spec)
    return spec, mutation.__name__.lstrip("_"), path


_PATH_SPLIT = re.compile(r"\.|\[")


def path_in(message: str, path: str) -> bool:
    """Whether an error message names `path` (as `at <path>`)."""
    return f" at {path}" in message
