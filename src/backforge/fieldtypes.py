"""Every field type of the spec language: what it accepts and how it becomes code.

Adding a type means adding one ``FieldType`` here (and its name to ``spec.model.FieldTypeName``).
The generated project's ``core/types.py`` holds the reusable annotated types named below.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
JSON_SAFE = (-(2**53 - 1), 2**53 - 1)  # what every JSON client reads exactly
DEFAULT_STRING_MAX = 255
DEFAULT_TEXT_MAX = 100_000
DEFAULT_DECIMAL = (12, 2)


@dataclass(frozen=True)
class FieldType:
    """How one spec type validates, stores, filters and sorts."""

    name: str
    annotation: str  # Python annotation in the generated schemas
    sa_type: str  # SQLAlchemy column type expression
    options: frozenset[str] = frozenset()  # type-specific options beyond the common ones
    ordered: bool = False  # range filters (__gte/__lte) and min/max apply
    textual: bool = False  # lengths, pattern and search apply
    sortable: bool = True
    filterable: bool = True
    indexable: bool = True
    example: Any = None

    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        """The default as a Python value of this type; raises ValueError when it does not fit."""
        return value

    def column_type(self, options: dict[str, Any]) -> str:
        return self.sa_type

    def python_type(self, options: dict[str, Any]) -> str:
        return self.annotation


class _Text(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value

    def column_type(self, options: dict[str, Any]) -> str:
        if self.name == "text":
            return "sa.Text()"
        return f"sa.String({max_length(self, options)})"


class _Integer(FieldType):
    bounds: tuple[int, int] = INT32

    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        return value


class _BigInteger(_Integer):
    bounds = INT64


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

    def column_type(self, options: dict[str, Any]) -> str:
        precision, scale = decimal_shape(options)
        return f"sa.Numeric({precision}, {scale})"


class _Bool(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value


class _Temporal(FieldType):
    parse: Any = None

    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        kind = {"date": dt.date, "datetime": dt.datetime, "time": dt.time}[self.name]
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

    def column_type(self, options: dict[str, Any]) -> str:
        return f"sa.String({max(len(v) for v in options['values'])})"

    def python_type(self, options: dict[str, Any]) -> str:
        return "Literal[" + ", ".join(repr(v) for v in options["values"]) + "]"


class _Json(FieldType):
    pass


class _Relation(FieldType):
    def coerce_default(self, value: Any, options: dict[str, Any]) -> Any:
        raise ValueError("relations cannot have a default")


def max_length(ftype: FieldType, options: dict[str, Any]) -> int:
    given = options.get("max_length")
    if given is not None:
        return int(given)
    return {"text": DEFAULT_TEXT_MAX, "email": 320, "url": 2048}.get(ftype.name, DEFAULT_STRING_MAX)


def decimal_shape(options: dict[str, Any]) -> tuple[int, int]:
    precision = options.get("precision") or DEFAULT_DECIMAL[0]
    scale = options.get("scale")
    return precision, DEFAULT_DECIMAL[1] if scale is None else scale


_TEXTUAL = frozenset({"min_length", "max_length", "pattern", "searchable"})

FIELD_TYPES: dict[str, FieldType] = {
    t.name: t
    for t in [
        _Text("string", "str", "", _TEXTUAL, textual=True, example="example"),
        _Text("text", "str", "", _TEXTUAL, textual=True, example="Some longer text."),
        _Text(
            "email",
            "EmailValue",
            "",
            frozenset({"max_length", "searchable"}),
            textual=True,
            example="ada@example.com",
        ),
        _Text(
            "url",
            "str",
            "",
            frozenset({"max_length", "searchable"}),
            textual=True,
            example="https://example.com/",
        ),
        _Integer("int", "int", "sa.Integer()", frozenset({"min", "max"}), ordered=True, example=1),
        _BigInteger(
            "bigint", "int", "sa.BigInteger()", frozenset({"min", "max"}), ordered=True, example=1
        ),
        _Float(
            "float", "float", "sa.Double()", frozenset({"min", "max"}), ordered=True, example=1.5
        ),
        _Decimal(
            "decimal",
            "Decimal",
            "",
            frozenset({"min", "max", "precision", "scale"}),
            ordered=True,
            example="9.99",
        ),
        _Bool("bool", "bool", "sa.Boolean()", example=True),
        _Temporal("date", "DateValue", "sa.Date()", ordered=True, example="2024-05-17"),
        _Temporal(
            "datetime",
            "DateTimeValue",
            "UTCDateTime()",
            ordered=True,
            example="2024-05-17T09:30:00Z",
        ),
        _Temporal("time", "TimeValue", "sa.Time()", ordered=True, example="09:30:00"),
        _Uuid("uuid", "UuidValue", "sa.Uuid()", example="0b4e7a52-8d0b-4c4e-9f4e-2f1d7c3b9a10"),
        _Enum("enum", "", "", frozenset({"values"})),
        _Json("json", "JsonValue", "sa.JSON()", sortable=False, filterable=False, indexable=False),
        _Relation("ref", "RefId", "IdType", frozenset({"to", "on_delete"}), example=1),
        _Relation(
            "many",
            "list[RefId]",
            "",
            frozenset({"to"}),
            sortable=False,
            filterable=False,
            indexable=False,
        ),
    ]
}

COMMON_OPTIONS = frozenset(
    {
        "type",
        "required",
        "unique",
        "default",
        "index",
        "read_only",
        "write_only",
        "hidden",
        "description",
        "example",
        "renamed_from",
    }
)


def allowed_options(type_name: str) -> frozenset[str]:
    return COMMON_OPTIONS | FIELD_TYPES[type_name].options


def compiles(pattern: str) -> str | None:
    """None when ``pattern`` is a valid regular expression, else the reason."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return str(exc)
    return None
