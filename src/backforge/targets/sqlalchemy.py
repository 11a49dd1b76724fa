"""SQLAlchemy and SQL text of columns: types, server defaults, CHECK expressions and the
arguments of ``mapped_column``, for the generated models and migrations."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from backforge.ir import FieldIR
from backforge.render_text import python_text
from backforge.sqltypes import SqlType
from backforge.targets.fastapi import python_value

_PLAIN = {
    "Text": "sa.Text()",
    "Integer": "sa.Integer()",
    "BigInteger": "sa.BigInteger()",
    "Double": "sa.Double()",
    "Boolean": "sa.Boolean()",
    "Date": "sa.Date()",
    "Time": "sa.Time()",
    "Uuid": "sa.Uuid()",
    "JSON": "sa.JSON()",
    "Id": "IdType",  # defined in core/db.py and in each migration
}


def migration_type(t: SqlType) -> str:
    """The column type as a migration writes it (no imports from the service package)."""
    if t.name == "String":
        return f"sa.String({t.length})"
    if t.name == "Numeric":
        return f"sa.Numeric({t.precision}, {t.scale})"
    if t.name == "DateTime":
        return "sa.DateTime(timezone=True)"
    return _PLAIN[t.name]


def column_type(t: SqlType) -> str:
    """The column type as the models write it: timestamps as core/db.py's ``UTCDateTime``."""
    return "UTCDateTime()" if t.name == "DateTime" else migration_type(t)


def server_default(value: Any) -> str:
    """A default as an SQLAlchemy ``server_default`` expression, for rows that predate it."""
    if isinstance(value, bool):
        return "sa.true()" if value else "sa.false()"
    if isinstance(value, int | float | Decimal):
        return f'sa.text("{value}")'
    if isinstance(value, dict | list):
        return repr(json.dumps(value, sort_keys=True))
    return repr(_text(value))


def column_default(column: Any) -> str:
    """A schema column's ``server_default`` argument: its default's expression, or None."""
    return server_default(column.default) if column.has_default else "None"


def sql_literal(value: Any) -> str:
    """A default as an SQL literal, to fill existing rows with."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict | list):
        return quote_text(json.dumps(value, sort_keys=True))
    return quote_text(_text(value))


def _text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def quote_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def check_sql(column: str, minimum: Any, maximum: Any, values: tuple[str, ...] | list[str]) -> str:
    """The CHECK expression of a column's bounds or allowed values."""
    quoted = f'"{column}"'
    if values:
        return f"{quoted} IN ({', '.join(quote_text(v) for v in values)})"
    parts = []
    if minimum is not None:
        parts.append(f"{quoted} >= {minimum}")
    if maximum is not None:
        parts.append(f"{quoted} <= {maximum}")
    return " AND ".join(parts)


def field_check(f: FieldIR) -> str | None:
    """The CHECK expression of a field, None when its type and bounds need none."""
    return check_sql(f.db_column, f.minimum, f.maximum, f.values) if f.checked else None


def column_args(f: FieldIR) -> str:
    """Arguments of ``mapped_column``; nullability follows from the ``Mapped`` type. A column
    named otherwise in the database keeps ``column`` as its key, what the service reads by."""
    attribute = f.column if f.kind == "ref" else f.attr
    args = [f'"{f.db_column}"'] if attribute != f.db_column else []
    args.append(column_type(f.storage))
    if f.kind == "ref":
        later = ", use_alter=True" if f.deferred else ""
        args.append(f'sa.ForeignKey("{f.ref_table}.id", ondelete="{f.on_delete}"{later})')
    if f.unique:
        args.append("unique=True")
    if f.indexed:
        args.append("index=True")
    if f.has_default:
        args += [
            f"default={python_value(f.default)}",
            f"server_default={server_default(f.default)}",
        ]
    if f.description:
        args.append(f"comment={python_text(f.description)}")
    if f.db_column != f.column:
        args.append(f'key="{f.column}"')
    return ", ".join(args)
