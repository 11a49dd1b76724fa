"""Seed data: checked against the fields it fills, and resolved into what `<package>.seed` applies.

A seed record is identified by its resource's natural key: the first unique field a create may
set, else the first unique_together group (or unique index). Applying the seed looks each record
up by that key, so applying it twice changes nothing. A ref field names its target record by the
target's natural key value (a single field); a many field lists such values.
"""

from __future__ import annotations

import datetime as dt
import difflib
import uuid
from decimal import Decimal
from typing import Any

from backforge.fieldtypes import FIELD_TYPES
from backforge.spec.model import FieldSpec, ResourceSpec

UNKEYABLE = ("ref", "many", "json", "text")


def natural_key(fields: dict[str, FieldSpec | None], body: dict[str, Any]) -> list[str] | None:
    """The fields that identify a record of a resource for seeding, or None if it has none."""
    for name, spec in fields.items():
        if spec is not None and spec.unique and spec.type not in UNKEYABLE and _settable(spec):
            return [name]
    groups = list(body.get("unique_together") or [])
    groups += [
        i.get("fields")
        for i in body.get("indexes") or []
        if isinstance(i, dict) and i.get("unique")
    ]
    for group in groups:
        if (
            isinstance(group, list)
            and group
            and all(
                isinstance(n, str) and (s := fields.get(n)) is not None and _settable(s)
                for n in group
            )
        ):
            return list(group)
    return None


def _settable(spec: FieldSpec) -> bool:
    return not (spec.read_only or spec.hidden)


def check_seed(
    data: dict[str, Any],
    fields_by_resource: dict[str, dict[str, FieldSpec | None]],
    report: Any,
    value_problems: Any,
) -> None:
    seed = data.get("seed")
    resources = data.get("resources")
    if not isinstance(seed, dict) or not isinstance(resources, dict):
        return
    keys: dict[str, list[Any]] = {}  # resource → natural key values of its seed rows, in order
    for name, rows in seed.items():
        fields = fields_by_resource.get(name)
        body = resources.get(name)
        if fields is None or not isinstance(body, dict):
            report(
                ("seed", name),
                f"seed names {name!r}, which is not a resource",
                _choose(name, list(resources)),
            )
            continue
        if body.get("owned") is True or isinstance(body.get("owned"), dict):
            report(
                ("seed", name),
                f"{name} is owned: every record needs an account to own it",
                "seed resources that are not owned; create owned records through the API",
            )
            continue
        key = natural_key(fields, body)
        if key is None:
            report(
                ("seed", name),
                f"{name} has no natural key to identify seed records by",
                "make one field `unique: true` (or add a unique_together group), so that "
                "seeding twice changes nothing",
            )
            continue
        keys[name] = [_key_of(row, key) for row in rows if isinstance(row, dict)]
    for name, rows in seed.items():
        if name in keys and isinstance(rows, list):
            _check_rows(
                name, rows, fields_by_resource, keys, seed, resources, report, value_problems
            )


def _key_of(row: dict[str, Any], key: list[str]) -> Any:
    values = tuple(_hashable(row.get(k)) for k in key)
    return values[0] if len(values) == 1 else values


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _check_rows(
    name: str,
    rows: list[Any],
    fields_by_resource: dict[str, dict[str, FieldSpec | None]],
    keys: dict[str, list[Any]],
    seed: dict[str, Any],
    resources: dict[str, Any],
    report: Any,
    value_problems: Any,
) -> None:
    fields = fields_by_resource[name]
    key = natural_key(fields, resources[name]) or []
    seen: dict[str, dict[Any, int]] = {}
    if len(key) > 1:
        firsts: dict[Any, int] = {}
        for i, value in enumerate(keys[name]):
            if firsts.setdefault(value, i) != i and None not in value:
                report(
                    ("seed", name, i),
                    f"this record has the same {', '.join(key)} as seed record {firsts[value]}",
                    "give each record its own key",
                )
    for i, row in enumerate(rows):
        path = ("seed", name, i)
        if not isinstance(row, dict):
            continue  # the model reports it
        for field_name in key:
            if row.get(field_name) is None:
                report(
                    path,
                    f"a {name} seed record needs its key field `{field_name}`",
                    f"add {field_name}: <value> (records are identified by {', '.join(key)})",
                )
        for field_name, spec in fields.items():
            if spec is not None and spec.required and _settable(spec) and field_name not in row:
                report(
                    path,
                    f"the required field `{field_name}` is missing",
                    f"add {field_name}: <value>",
                )
        for field_name, value in row.items():
            spec = fields.get(field_name)
            where = (*path, field_name)
            if field_name not in fields:
                report(
                    where,
                    f"{field_name!r} is not a field of {name}",
                    _choose(
                        str(field_name), [f for f, s in fields.items() if s is None or _settable(s)]
                    ),
                )
                continue
            if spec is None:
                continue
            if not _settable(spec):
                report(
                    where,
                    f"`{field_name}` is read_only or hidden: a create cannot set it",
                    "remove it from the seed record",
                )
                continue
            if value is None:
                if spec.required:
                    report(where, f"the required field `{field_name}` is null", "give a value")
                continue
            if spec.type in ("ref", "many"):
                _check_reference(name, i, spec, value, where, keys, seed, report)
                continue
            for message, fix in value_problems(spec, value, "the value"):
                report(where, message, fix)
            if spec.unique:
                first = seen.setdefault(field_name, {}).setdefault(_hashable(value), i)
                if first != i:
                    report(
                        where,
                        f"{field_name} {value!r} repeats seed record {first}",
                        "give each record its own value",
                    )


def _check_reference(
    name: str,
    index: int,
    spec: FieldSpec,
    value: Any,
    where: tuple[Any, ...],
    keys: dict[str, list[Any]],
    seed: dict[str, Any],
    report: Any,
) -> None:
    target = spec.to or ""
    if target not in keys:
        if target not in seed:
            report(
                where,
                f"{target} has no seed records to refer to",
                f"add records under seed.{target}, or remove this value",
            )
        return  # otherwise the target's own problem is reported there
    values = value if spec.type == "many" else [value]
    if spec.type == "many" and not isinstance(value, list):
        report(where, "a many field takes a list of keys", f"write [key, ...] of {target} records")
        return
    available = keys[target][:index] if target == name else keys[target]
    if spec.by:  # named by the target's `by` field (values no target has: created)
        if spec.create_missing:
            return
        rows = seed.get(target) if isinstance(seed.get(target), list) else []
        available = [row.get(spec.by) for row in rows if isinstance(row, dict)]
        available = available[:index] if target == name else available
    for item in values:
        if isinstance(item, dict | list) or item not in available:
            known = ", ".join(map(repr, keys[target][:8])) or "none"
            earlier = " earlier in the list" if target == name else ""
            report(
                where,
                f"{item!r} names no {target} seed record{earlier}",
                f"use the natural key of a {target} seed record: {known}",
            )


def _choose(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return hint + "use one of: " + ", ".join(choices)


def seed_blocks(
    seed: dict[str, list[dict[str, Any]]],
    resources: dict[str, ResourceSpec],
    order: list[str],
) -> list[dict[str, Any]]:
    """The seed as `<package>/seed_data.json` holds it: per resource in creation order, its
    natural key, its relations and its records with JSON values (checked already)."""
    blocks = []
    for name in order:
        rows = seed.get(name)
        if not rows:
            continue
        body = resources[name]
        fields: dict[str, FieldSpec | None] = dict(body.fields)
        key = natural_key(fields, body.model_dump()) or []
        blocks.append(
            {
                "resource": name,
                "key": key,
                # relations named by a natural key (`by` ones carry their values as they are)
                "refs": {f: s.to for f, s in body.fields.items() if s.type == "ref" and not s.by},
                "many": {f: s.to for f, s in body.fields.items() if s.type == "many" and not s.by},
                "rows": [{f: _json(body.fields[f], v) for f, v in row.items()} for row in rows],
            }
        )
    return blocks


def _json(spec: FieldSpec, value: Any) -> Any:
    if value is None or spec.type in ("ref", "many", "json"):
        return value
    value = FIELD_TYPES[spec.type].coerce_default(value, spec.model_dump())
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    return value
