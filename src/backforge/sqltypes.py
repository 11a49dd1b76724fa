"""Column types as values: the family and size of a column, target-neutral.

Evolution compares them to tell widening (every value fits) from narrowing and conversion; a
target writes them as its own text (``backforge.targets.sqlalchemy``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SqlType:
    """A column type: String, Text, Integer, BigInteger, Double, Numeric, Boolean, Date,
    DateTime, Time, Uuid, JSON, or Id (the primary key type every table shares)."""

    name: str
    length: int | None = None  # String
    precision: int | None = None  # Numeric
    scale: int | None = None  # Numeric

    @property
    def textual(self) -> bool:
        return self.name in ("String", "Text")

    @property
    def postgresql(self) -> str:
        """The PostgreSQL type name, for an explicit ``USING`` cast."""
        if self.name == "String":
            return f"varchar({self.length})"
        if self.name == "Numeric":
            return f"numeric({self.precision}, {self.scale})"
        return {
            "Text": "text",
            "Integer": "integer",
            "BigInteger": "bigint",
            "Id": "bigint",
            "Double": "double precision",
            "Boolean": "boolean",
            "Date": "date",
            "DateTime": "timestamp with time zone",
            "Time": "time",
            "Uuid": "uuid",
            "JSON": "json",
        }[self.name]

    def __str__(self) -> str:
        if self.name == "String":
            return f"String({self.length})"
        if self.name == "Numeric":
            return f"Numeric({self.precision}, {self.scale})"
        return self.name


ID = SqlType("Id")
DATETIME = SqlType("DateTime")
INTEGER = SqlType("Integer")

_WIDER = {
    ("Integer", "BigInteger"),
    ("Integer", "Double"),
    ("Id", "BigInteger"),
    ("Integer", "Id"),
}


def type_change(a: SqlType, b: SqlType) -> tuple[str, str | None]:
    """How a column's type changes: ``('same'|'widen'|'narrow'|'convert', note)``.

    ``narrow`` and ``convert`` can lose data (longer text is cut, numbers may not fit,
    values may not convert); ``widen`` keeps every value.
    """
    if a == b:
        return "same", None
    if a.textual and b.textual:
        if b.name == "Text" or (a.name == "String" and (b.length or 0) >= (a.length or 0)):
            return "widen", None
        return "narrow", f"text longer than {b.length} characters is cut to {b.length}"
    if (a.name, b.name) in _WIDER:
        return "widen", None
    if a.name == b.name == "Numeric":
        whole_a = (a.precision or 0) - (a.scale or 0)
        whole_b = (b.precision or 0) - (b.scale or 0)
        if whole_b >= whole_a and (b.scale or 0) >= (a.scale or 0):
            return "widen", None
        return "narrow", f"numbers are rounded to {b.scale} places or fail beyond {b}"
    if b.textual and not a.textual and (b.name == "Text" or (b.length or 0) >= 64):
        return "convert", None  # every scalar value has a text form that fits
    if a.name == "BigInteger" and b.name == "Integer":
        return "narrow", "values beyond the 32-bit range fail the migration"
    return "convert", f"values that do not convert to {b} fail the migration"


def converts_safely(old: SqlType, new: SqlType) -> bool:
    change, note = type_change(old, new)
    return change in ("same", "widen") or (change == "convert" and note is None)


def family_changes(a: SqlType, b: SqlType) -> bool:
    """Whether PostgreSQL needs an explicit ``USING`` cast to change the type."""
    if a.textual and b.textual:
        return False
    if a.name == b.name:
        return False
    return (a.name, b.name) not in _WIDER
