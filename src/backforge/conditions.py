"""The preconditions of actions (`when:`) beyond equality: `{ne|lt|lte|gt|gte: v}`, `{in: [..]}`.

One condition is a plain value (equality; None: is null) or a dict of operators, all of which
must hold. Their meaning here is the one the generated runtime (core/actions.py) gives them in
SQL: `ne` is `IS DISTINCT FROM` (a null field differs from any value; `ne: null` is `IS NOT
NULL`), an ordering never holds for a null field, `in` holds for null only when the list has it.
The spec checks and the IR use it to find a value that meets a condition and one that breaks it
(the generated tests put records in either state).
"""

import contextlib
import datetime as dt
from decimal import Decimal
from typing import Any

from backforge.fieldtypes import FIELD_TYPES

OPERATORS = ("ne", "lt", "lte", "gt", "gte", "in")
ORDERINGS = ("lt", "lte", "gt", "gte")
SYMBOLS = {"ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "in": "in"}


def is_operators(condition: Any) -> bool:
    return isinstance(condition, dict)


def holds(found: Any, condition: Any) -> bool:
    """Whether a field's value ``found`` meets ``condition`` (SQL's meaning, see above)."""
    if not is_operators(condition):
        return found is None if condition is None else bool(found == condition)
    for op, value in condition.items():
        if op == "ne":
            ok = found is not None if value is None else found is None or found != value
        elif op == "in":
            ok = found in value if found is not None else None in value
        elif found is None:
            ok = False
        else:
            ok = {
                "lt": found < value,
                "lte": found <= value,
                "gt": found > value,
                "gte": found >= value,
            }[op]
        if not ok:
            return False
    return True


def describe(name: str, condition: Any) -> str:
    """The condition in words for messages: `status = 'open'`, `score >= 3`."""
    if not is_operators(condition):
        return f"{name} = {condition!r}"
    return " and ".join(f"{name} {SYMBOLS[op]} {value!r}" for op, value in condition.items())


def _step(base: str, value: Any, sign: int) -> Any:
    if isinstance(value, bool) or value is None:
        return None
    if base in ("int", "bigint"):
        return value + sign
    if base == "float":
        return value + sign * 1.0
    if base == "decimal":
        return value + sign * Decimal(1)
    if base == "date":
        return value + sign * dt.timedelta(days=1)
    if base == "datetime":
        return value + sign * dt.timedelta(seconds=1)
    if base == "time":
        moved = dt.datetime.combine(dt.date(2000, 1, 2), value) + sign * dt.timedelta(seconds=1)
        return moved.time() if moved.date() == dt.date(2000, 1, 2) else None
    if base in ("string", "text", "email") and isinstance(value, str):
        return value + "x" if sign > 0 else value[:-1] or None
    return None


def candidates(
    kind: str, base: str, condition: Any, values: list[str], nullable: bool
) -> list[Any]:
    """Values worth trying for a field of ``kind``/``base``: what the condition names and its
    neighbours, the type's example, an enum's values, the booleans, null (when it may be)."""
    named = condition.values() if is_operators(condition) else [condition]
    given: list[Any] = []
    for value in named:
        given += value if isinstance(value, list) else [value]
    found: list[Any] = []
    for value in given:
        found += [value, _step(base, value, -1), _step(base, value, 1)]
    ftype = FIELD_TYPES[kind]
    if ftype.example is not None:
        with contextlib.suppress(ValueError):
            found.append(ftype.coerce_default(ftype.example, {"values": values}))
    if base == "bool":
        found += [True, False]
    found += list(values)
    unique: list[Any] = []
    for value in found:
        if value is not None and not any(value == u and type(value) is type(u) for u in unique):
            unique.append(value)
    return unique + ([None] if nullable else [])


def meeting(condition: Any, options: list[Any], fits: Any) -> tuple[bool, Any]:
    """(True, a value among ``options`` that fits the field and meets the condition), or
    (False, None) when none does."""
    for value in options:
        if holds(value, condition) and (value is None or fits(value)):
            return True, value
    return False, None


def breaking(condition: Any, options: list[Any], fits: Any) -> tuple[bool, Any]:
    """(True, a value among ``options`` that fits the field and breaks the condition), or
    (False, None)."""
    for value in options:
        if not holds(value, condition) and (value is None or fits(value)):
            return True, value
    return False, None
