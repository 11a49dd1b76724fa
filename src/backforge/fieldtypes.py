"""Every field type of the spec language: what it accepts, how it is stored, and what it checks.

A field type is one ``FieldType`` entry in ``FIELD_TYPES`` (the spec language's list of type
names is read from it). An entry is target-neutral: it names the value family it travels as on
the wire (``base``), the column it is stored in (``storage``), the pattern every value matches,
its options and what listing may do with it. The Python and SQL text a target writes for these
values is made at the edge, in ``backforge.targets``; a type whose ``base`` is an existing one
needs nothing there.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from backforge.sqltypes import SqlType

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
JSON_SAFE = (-(2**53 - 1), 2**53 - 1)  # what every JSON client reads exactly
DEFAULT_STRING_MAX = 255
DEFAULT_TEXT_MAX = 100_000
DEFAULT_DECIMAL = (12, 2)
URL_PATTERN = r"^https?://[^\s/?#\x00]+[^\s\x00]*$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
NO_NUL = r"^[^\x00]*$"  # what a text without a pattern of its own matches: no NUL character
# What the value of a `lookup` string must be to travel as one URL path segment: no `/`, no
# control character, not empty and not only dots (`.` and `..` are the path's own segments).
SEGMENT_PATTERN = r"^[^\x00-\x1f/]*[^\x00-\x1f/.][^\x00-\x1f/]*$"

# The value families a field travels as: a target knows how to write each of them.
BASES = frozenset(
    {
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
        "ref",
        "many",
    }
)


@dataclass(frozen=True)
class FieldType:
    """How one spec type validates, stores, filters and sorts."""

    name: str
    base: str  # the value family (one of BASES): how it travels and what a target writes
    options: frozenset[str] = frozenset()  # type-specific options beyond the common ones
    ordered: bool = False  # range filters (__gte/__lte) and min/max apply
    textual: bool = False  # lengths, pattern and search apply
    sortable: bool = True
    filterable: bool = True
    indexable: bool = True
    example: Any = None
    pattern: str | None = None  # every value matches it whole (besides a spec's own pattern)
    default_max_length: int = DEFAULT_STRING_MAX  # textual types
    column_range: tuple[int, int] | None = None  # the whole numbers the column holds

    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        """The default as a Python value of this type; raises ValueError when it does not fit."""
        return value

    def storage(self, options: dict[str, Any]) -> SqlType:
        """The column type that holds the values."""
        return SqlType(_STORAGE[self.base])


_STORAGE = {
    "int": "Integer",
    "bigint": "BigInteger",
    "float": "Double",
    "bool": "Boolean",
    "date": "Date",
    "datetime": "DateTime",
    "time": "Time",
    "uuid": "Uuid",
    "json": "JSON",
    "ref": "Id",
}


class _Text(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value

    def storage(self, options: dict[str, Any]) -> SqlType:
        if self.base == "text":
            return SqlType("Text")
        return SqlType("String", length=max_length(self, options))


class _Integer(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        return value


class _Float(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)


class _Decimal(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"expected a number, got {value!r}") from None
        precision, scale = decimal_shape(options)
        if -number.as_tuple().exponent > scale:  # type: ignore[operator]
            raise ValueError(f"{value!r} has more than {scale} decimal places")
        if abs(number) >= Decimal(10) ** (precision - scale):
            raise ValueError(f"{value!r} does not fit precision {precision}, scale {scale}")
        return number

    def storage(self, options: dict[str, Any]) -> SqlType:
        precision, scale = decimal_shape(options)
        return SqlType("Numeric", precision=precision, scale=scale)


class _Bool(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value


class _Temporal(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        kind = {"date": dt.date, "datetime": dt.datetime, "time": dt.time}[self.base]
        if isinstance(value, kind) and not (kind is dt.date and isinstance(value, dt.datetime)):
            return value
        if isinstance(value, str):
            try:
                return kind.fromisoformat(value)
            except ValueError:
                pass
        raise ValueError(f"expected an ISO 8601 {self.name}, got {value!r}")


class _Uuid(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise ValueError(f"expected a UUID, got {value!r}") from None


class _Enum(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        values = options.get("values") or []
        if value not in values:
            raise ValueError(f"{value!r} is not one of the values {values}")
        return value

    def storage(self, options: dict[str, Any]) -> SqlType:
        return SqlType("String", length=max(len(v) for v in options["values"]))


class _Relation(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        raise ValueError("relations cannot have a default")


def max_length(ftype: FieldType, options: dict[str, Any]) -> int:
    given = options.get("max_length")
    return int(given) if given is not None else ftype.default_max_length


def decimal_shape(options: dict[str, Any]) -> tuple[int, int]:
    precision = options.get("precision") or DEFAULT_DECIMAL[0]
    scale = options.get("scale")
    return precision, DEFAULT_DECIMAL[1] if scale is None else scale


_TEXTUAL = frozenset({"min_length", "max_length", "pattern", "searchable"})
_LENGTHS = frozenset({"max_length", "searchable"})
_BOUNDS = frozenset({"min", "max"})

FIELD_TYPES: dict[str, FieldType] = {
    t.name: t
    for t in [
        _Text("string", "string", _TEXTUAL, textual=True, example="example"),
        _Text(
            "text",
            "text",
            _TEXTUAL,
            textual=True,
            example="Some longer text.",
            default_max_length=DEFAULT_TEXT_MAX,
        ),
        _Integer("int", "int", _BOUNDS, ordered=True, example=1, column_range=INT32),
        _Integer("bigint", "bigint", _BOUNDS, ordered=True, example=1, column_range=INT64),
        _Float("float", "float", _BOUNDS, ordered=True, example=1.5),
        _Decimal(
            "decimal",
            "decimal",
            _BOUNDS | {"precision", "scale"},
            ordered=True,
            example="9.99",
        ),
        _Bool("bool", "bool", example=True),
        _Temporal("date", "date", ordered=True, example="2024-05-17"),
        _Temporal("datetime", "datetime", ordered=True, example="2024-05-17T09:30:00Z"),
        _Temporal("time", "time", ordered=True, example="09:30:00"),
        _Uuid("uuid", "uuid", example="0b4e7a52-8d0b-4c4e-9f4e-2f1d7c3b9a10"),
        _Text(
            "email",
            "email",
            _LENGTHS,
            textual=True,
            example="ada@example.com",
            default_max_length=320,
        ),
        _Text(
            "url",
            "url",
            _LENGTHS,
            textual=True,
            example="https://example.com/",
            pattern=URL_PATTERN,
            default_max_length=2048,
        ),
        _Text(
            "slug",
            "string",
            frozenset({"min_length", "max_length", "searchable", "from", "on_change"}),
            textual=True,
            example="how-to-train-your-dragon",
            pattern=SLUG_PATTERN,
        ),
        _Enum("enum", "enum", frozenset({"values"})),
        FieldType("json", "json", sortable=False, filterable=False, indexable=False),
        _Relation("ref", "ref", frozenset({"to", "on_delete", "by", "embed"}), example=1),
        _Relation(
            "many",
            "many",
            frozenset({"to", "link", "by", "create_missing"}),
            sortable=False,
            filterable=False,  # but with `by` (spec/checks.py)
            indexable=False,
        ),
    ]
}
assert all(t.base in BASES for t in FIELD_TYPES.values())

COMMON_OPTIONS = frozenset(
    {
        "type",
        "required",
        "unique",
        "default",
        "index",
        "read_only",
        "in_list",
        "write_only",
        "hidden",
        "description",
        "example",
        "renamed_from",
        "column",
    }
)


def allowed_options(type_name: str) -> frozenset[str]:
    return COMMON_OPTIONS | FIELD_TYPES[type_name].options


def integer_bounds(base: str) -> tuple[int, int]:
    """The values an integer column holds that every JSON client reads exactly."""
    return INT32 if base == "int" else JSON_SAFE


def compiles(pattern: str) -> str | None:
    """None when ``pattern`` is a valid regular expression, else the reason."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None
