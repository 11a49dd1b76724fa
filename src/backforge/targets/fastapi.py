"""Python text of a field for the generated FastAPI + Pydantic project: annotations, the
arguments of ``pydantic.Field``, type aliases and literals, made from the field's values."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from backforge.fieldtypes import NO_NUL, SEGMENT_PATTERN, SLUG_PATTERN, URL_PATTERN
from backforge.ir import MAX_MANY_IDS, FieldIR, FilterParam, ResourceIR

# The annotation of a value family in request schemas (types from the project's core/types.py).
_ANNOTATIONS = {
    "string": "str",
    "text": "str",
    "email": "EmailValue",
    "url": "str",
    "int": "int",
    "bigint": "int",
    "float": "float",
    "decimal": "Decimal",
    "bool": "bool",
    "date": "DateValue",
    "datetime": "DateTimeValue",
    "time": "TimeValue",
    "uuid": "UuidValue",
    "json": "JsonValue",
    "ref": "RefId",
    "many": "list[RefId]",
}

# The Python type of a value read from the database (ORM columns and responses).
_MAPPED = {
    "int": "int",
    "bigint": "int",
    "float": "float",
    "decimal": "Decimal",
    "bool": "bool",
    "date": "date",
    "datetime": "datetime",
    "time": "time",
    "uuid": "UUID",
    "json": "Any",
    "ref": "int",
}


def annotation(f: FieldIR) -> str:
    """The annotation of the field's type, without constraints."""
    if f.base == "enum":
        return "Literal[" + ", ".join(repr(v) for v in f.values) + "]"
    return _ANNOTATIONS[f.base]


def constraints(f: FieldIR) -> str:
    """The keyword arguments of ``pydantic.Field`` that validate the field's values."""
    args: list[str] = []
    base = f.base
    if base in ("string", "text", "url"):
        if f.min_length:
            args.append(f"min_length={f.min_length}")
        args.append(f"max_length={f.longest}")
        if base == "url":
            args.append(f"pattern=r'{URL_PATTERN}'")
        else:
            args.append(f"pattern={f.pattern or NO_NUL!r}")
    elif base == "email" and f.max_length:
        args.append(f"max_length={f.max_length}")
    elif base in ("int", "bigint"):
        low, high = f.bounds
        args += [f"ge={low}", f"le={high}"]
    elif base == "float":
        args += ["strict=True", "allow_inf_nan=False"]
        if f.minimum is not None:
            args.append(f"ge={f.minimum}")
        if f.maximum is not None:
            args.append(f"le={f.maximum}")
    elif base == "decimal":
        low, high = f.bounds
        args += [f"ge=Decimal('{low}')", f"le=Decimal('{high}')"]
    elif base == "bool":
        args.append("strict=True")
    elif base == "many":
        args.append(f"max_length={MAX_MANY_IDS}")
    return ", ".join(args)


def class_part(f: FieldIR) -> str:
    """The field's name as part of a class name: published_at is PublishedAt."""
    return "".join(part.title() for part in f.name.split("_"))


def alias(f: FieldIR) -> str | None:
    """Name of the module-level type alias in schemas.py, when the type has constraints."""
    if f.target_key is not None:  # `by`: the type of the target's field
        if alias(f.target_key) is None:
            return None
        return class_part(f) + "Type"
    if f.is_relation or (not constraints(f) and f.base != "enum"):
        return None
    return "".join(part.title() for part in f.name.split("_")) + "Type"


def alias_def(f: FieldIR) -> str:
    if f.target_key is not None:
        return alias_def(f.target_key)
    given = constraints(f)
    if not given:
        return annotation(f)
    if f.base in ("int", "bigint"):
        return f"Annotated[int, Field({given}), WholeNumber]"
    if f.base == "decimal":
        low, high = f.bounds
        number = {"type": "number", "minimum": _plain(low), "maximum": _plain(high)}
        text = f'{{"type": "string", "pattern": {pattern_constant(f)}}}'
        schema = f'{{"anyOf": [{number!r}, {text}]}}'
        return (
            f"Annotated[Decimal, decimal_input({pattern_constant(f)}, {f.digits[1]}), "
            f"Field({given}), WithJsonSchema({schema})]"
        )
    if f.pattern and f.base in ("string", "text", "url"):
        # Field(pattern=) searches, and `$` matches before a final newline: the whole value
        # must match as well.
        matches = f"whole_match({f.pattern!r})"
        if f.segment and f.pattern not in (SEGMENT_PATTERN, SLUG_PATTERN):
            matches += f", whole_match({SEGMENT_PATTERN!r})"  # a URL path segment, too
        return f"Annotated[{annotation(f)}, Field({given}), {matches}]"
    return f"Annotated[{annotation(f)}, Field({given})]"


def _plain(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def pattern_constant(f: FieldIR) -> str:
    return f.name.upper() + "_PATTERN"


def schema_type(f: FieldIR) -> str:
    """The annotation a schema uses for this field (alias or plain); a URL key that would be
    shadowed by its collection's own paths refuses them in bodies."""
    given = _schema_type(f)
    if f.reserved:
        return f"Annotated[{given}, NotReserved({', '.join(repr(v) for v in f.reserved)})]"
    return given


def _schema_type(f: FieldIR) -> str:
    if f.target_key is not None:  # `by`: the target's value (alias of its type)
        value = alias(f) or annotation(f.target_key)
        return f"list[{value}]" if f.kind == "many" else value
    if f.kind == "ref":
        return "RefId"
    if f.kind == "many":
        return "list[RefId]"
    if f.base == "json" and not f.nullable:
        return "JsonPresent"
    return alias(f) or annotation(f)


def decimal_pattern(f: FieldIR, *, signed: bool) -> str:
    """A decimal as text: plain digits, as many as the column holds."""
    digits, places = f.digits
    sign = "-?" if signed else ""
    # precision = scale holds no whole digit but 0; scale 0 no fraction
    whole = f"[0-9]{{1,{digits - places}}}" if digits > places else "0"
    fraction = rf"(\.[0-9]{{1,{places}}})?" if places else ""
    return rf"^{sign}{whole}{fraction}$"


def body_decimal_pattern(f: FieldIR) -> str:
    low = f.bounds[0]
    return decimal_pattern(f, signed=low is None or low < 0)


def filter_decimal_pattern(f: FieldIR) -> str:
    return decimal_pattern(f, signed=True)


def query_type(f: FieldIR) -> str:
    """The annotation in query strings: the same constraints, without strict typing."""
    key = f.target_key
    if (
        key is not None
        and key.base in ("string", "text")
        and key.pattern in (None, SEGMENT_PATTERN)
    ):
        # any text: a value no target has matches nothing (a URL key's own rules need not hold)
        return f"Annotated[str, Field(max_length={key.longest}, pattern={NO_NUL!r})]"
    if key is not None:
        given = query_type(key)
        return alias(f) or given if given == alias(key) else given
    if f.kind == "ref":
        return "IdValue"
    if f.base == "decimal":
        return (alias(f) or "").replace("Type", "Filter")
    given = constraints(f)
    if f.base in ("int", "bigint"):
        return f"Annotated[int, Field({given})]"
    if "strict=True" not in given:
        return _schema_type(f)
    rest = ", ".join(c for c in given.split(", ") if c != "strict=True")
    return f"Annotated[{annotation(f)}, Field({rest})]" if rest else annotation(f)


def param_type(p: FilterParam, r: ResourceIR) -> str:
    """The annotation of a list filter parameter."""
    f = next((f for f in r.fields if f.name == p.field), None)
    automatic = "IdValue" if p.field == "id" else "DateTimeValue"  # the id or a timestamp
    value = query_type(f) if f is not None else automatic
    return f"list[{value}]" if p.op == "in" else value


def mapped_type(f: FieldIR) -> str:
    """The Python type of the ORM column."""
    return _MAPPED.get(f.base, "str")


def read_type(f: FieldIR) -> str:
    """The annotation in response schemas (values come from the database, already valid)."""
    if f.embed:
        return f"{f.ref}Read"
    if f.target_key is not None:
        value = read_type(f.target_key)
        return f"list[{value}]" if f.kind == "many" else value
    if f.base == "enum":
        return annotation(f)
    if f.base == "time":
        return "TimeText"
    return _MAPPED.get(f.base, "str") if f.base != "many" else "list[int]"


def python_value(value: Any) -> str:
    """A Python expression of a value (a default) in the generated modules."""
    if isinstance(value, Decimal):
        return f"Decimal('{value}')"
    if isinstance(value, dt.datetime):
        return f"datetime.fromisoformat('{value.isoformat()}')"
    if isinstance(value, dt.date):
        return f"date.fromisoformat('{value.isoformat()}')"
    if isinstance(value, dt.time):
        return f"time.fromisoformat('{value.isoformat()}')"
    if isinstance(value, uuid.UUID):
        return f"UUID('{value}')"
    return repr(value)
