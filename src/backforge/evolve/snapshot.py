"""Snapshots of a service: its IR read back from ``.backforge/ir.json``, and the database schema
the IR stands for (tables, columns, constraints and indexes, by the names the database has).

The schema is derived exactly as the models and the migrations name things (the naming
convention of ``core/db.py``): ``pk_<table>``, ``fk_<table>_<column>_<referred table>``,
``uq_<table>_<columns>``, ``ix_<table>_<columns>``, ``ck_<table>_<column>``.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from backforge.errors import ProjectError
from backforge.ir import AuthIR, FieldIR, FilterParam, ResourceIR, ServiceIR, table_order
from backforge.names import check_name, foreign_key_name, index_name, primary_key_name, unique_name

T = TypeVar("T")

ID_TYPE = "IdType"
DATETIME = "sa.DateTime(timezone=True)"


# --- the IR, read back -------------------------------------------------------------------------


def ir_from_json(text: str) -> ServiceIR:
    """The ServiceIR that ``ServiceIR.to_json()`` wrote; keys this version does not know are
    ignored (a newer generator may add some), missing ones take their defaults."""
    try:
        data = json.loads(text)
        resources = [_resource(r) for r in data.get("resources", [])]
        auth = _build(AuthIR, data["auth"]) if data.get("auth") else None
        return _build(ServiceIR, {**data, "resources": resources, "auth": auth})
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ProjectError(f".backforge/ir.json cannot be read back: {exc}") from None


def _resource(data: dict[str, Any]) -> ResourceIR:
    return _build(
        ResourceIR,
        {
            **data,
            "fields": [_build(FieldIR, f) for f in data.get("fields", [])],
            "filters": [_build(FilterParam, f) for f in data.get("filters", [])],
        },
    )


def _build(cls: type[T], data: dict[str, Any]) -> T:
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in known})


# --- the database schema -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the SQLAlchemy type as a migration writes it
    nullable: bool
    server_default: str | None = None  # SQLAlchemy expression
    comment: str | None = None
    kind: str = ""  # the spec type; "" for automatic and link columns
    field: str = ""  # the spec field it stores; "" for automatic and link columns
    values: tuple[str, ...] = ()  # an enum's values
    default_sql: str | None = None  # the default as an SQL literal, to fill rows with

    @property
    def has_default(self) -> bool:
        return self.server_default is not None


@dataclass(frozen=True)
class ForeignKey:
    name: str
    column: str
    ref_table: str
    ondelete: str
    deferred: bool = False  # closes a cycle: added after the tables are created (use_alter)


@dataclass(frozen=True)
class Check:
    name: str
    column: str
    sql: str


@dataclass(frozen=True)
class Unique:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    mysql_length: int | None = None  # a prefix index on MySQL / MariaDB (long text)


@dataclass(frozen=True)
class Table:
    name: str
    owner: str  # the resource ("Book"), or the many field of a link table ("Book.tags")
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[Check, ...] = ()
    uniques: tuple[Unique, ...] = ()
    indexes: tuple[Index, ...] = ()
    link: bool = False

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def ids(self) -> bool:
        """Whether the table has the automatic integer id (resource tables)."""
        return not self.link

    @property
    def primary_key_name(self) -> str:
        return primary_key_name(self.name)

    @property
    def uses_id_type(self) -> bool:
        return self.link or any(c.type == ID_TYPE for c in self.columns)


@dataclass(frozen=True)
class Schema:
    """Every table of a service in creation order: the accounts' tables, the service's own
    tables, resource tables (referenced ones first), then link tables."""

    tables: tuple[Table, ...]

    def get(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tables]


EMPTY = Schema(())


def schema_of(ir: ServiceIR | None) -> Schema:
    if ir is None:
        return EMPTY
    order, deferred = table_order(ir.resources)
    tables = auth_tables(ir.auth) if ir.auth else []  # owners: before the resources
    tables += [SYSTEM_TABLES[name] for name in ir.system_tables if name in SYSTEM_TABLES]
    tables += [resource_table(r, deferred) for r in order]
    tables += [link_table(r, f) for r in ir.resources for f in r.many]
    return Schema(tuple(tables))


def _index(table: str, *columns: str) -> Index:
    return Index(index_name(table, columns), columns)


def _unique(table: str, *columns: str) -> Unique:
    return Unique(unique_name(table, columns), columns)


# Tables of the service itself, as core/idempotency.py defines them: a project
# generated before one existed gets it in its next revision, and no regeneration drops it.
SYSTEM_TABLES = {
    "idempotency_keys": Table(
        name="idempotency_keys",
        owner="idempotency keys",
        columns=(
            Column("scope", "sa.String(255)", False),
            Column("key", "sa.String(255)", False),
            Column("fingerprint", "sa.String(64)", False),
            Column("status_code", "sa.Integer()", False),
            Column("headers", "sa.Text()", False),
            Column("body", "sa.Text()", False),
            Column("created_at", DATETIME, False),
            Column("expires_at", DATETIME, False),
        ),
        primary_key=("scope", "key"),
        indexes=(_index("idempotency_keys", "expires_at"),),
    )
}


def auth_tables(auth: AuthIR) -> list[Table]:
    """The tables of accounts, refresh tokens, API keys and the audit log, as
    ``auth/models.py`` defines them, in creation order."""
    tables = [USERS, REFRESH_TOKENS]
    if auth.api_keys:
        tables.append(API_KEYS)
    return [*tables, AUDIT_EVENTS]


def _account_key(table: str) -> ForeignKey:
    return ForeignKey(foreign_key_name(table, "user_id", "users"), "user_id", "users", "CASCADE")


USERS = Table(
    name="users",
    owner="accounts",
    columns=(
        Column("id", ID_TYPE, False),
        Column("email", "sa.String(length=320)", False),
        Column("password_hash", "sa.String(length=255)", False),
        Column("role", "sa.String(length=40)", False),
        Column("is_active", "sa.Boolean()", False),
        Column("created_at", DATETIME, False),
        Column("updated_at", DATETIME, False),
    ),
    primary_key=("id",),
    uniques=(_unique("users", "email"),),
)
REFRESH_TOKENS = Table(
    name="refresh_tokens",
    owner="refresh tokens",
    columns=(
        Column("token_hash", "sa.String(length=64)", False),
        Column("family", "sa.String(length=32)", False),
        Column("user_id", ID_TYPE, False),
        Column("expires_at", DATETIME, False),
        Column("used_at", DATETIME, True),
        Column("revoked_at", DATETIME, True),
        Column("created_at", DATETIME, False),
    ),
    primary_key=("token_hash",),
    foreign_keys=(_account_key("refresh_tokens"),),
    indexes=(
        _index("refresh_tokens", "family"),
        _index("refresh_tokens", "user_id"),
    ),
)
API_KEYS = Table(
    name="api_keys",
    owner="API keys",
    columns=(
        Column("id", ID_TYPE, False),
        Column("user_id", ID_TYPE, False),
        Column("name", "sa.String(length=100)", False),
        Column("role", "sa.String(length=40)", False),
        Column("prefix", "sa.String(length=16)", False),
        Column("key_hash", "sa.String(length=64)", False),
        Column("created_at", DATETIME, False),
        Column("last_used_at", DATETIME, True),
        Column("revoked_at", DATETIME, True),
    ),
    primary_key=("id",),
    foreign_keys=(_account_key("api_keys"),),
    uniques=(_unique("api_keys", "key_hash"),),
    indexes=(_index("api_keys", "user_id"),),
)
AUDIT_EVENTS = Table(
    name="audit_events",
    owner="the audit log",
    columns=(
        Column("id", ID_TYPE, False),
        Column("at", DATETIME, False),
        Column("actor_id", ID_TYPE, True),
        Column("actor_kind", "sa.String(length=20)", False),
        Column("action", "sa.String(length=40)", False),
        Column("resource", "sa.String(length=60)", True),
        Column("resource_id", ID_TYPE, True),
        Column("before", "sa.JSON()", True),
        Column("after", "sa.JSON()", True),
        Column("request_id", "sa.String(length=128)", True),
        Column("client", "sa.String(length=64)", True),
    ),
    primary_key=("id",),
    indexes=(
        _index("audit_events", "at"),
        _index("audit_events", "actor_id"),
        _index("audit_events", "resource", "resource_id"),
    ),
)


def resource_table(r: ResourceIR, deferred: set[tuple[str, str]] | None = None) -> Table:
    columns = [Column("id", ID_TYPE, False)]
    columns += [column_of(f) for f in r.columns]
    columns += [
        Column("created_at", DATETIME, False),
        Column("updated_at", DATETIME, False),
        Column("version", "sa.Integer()", False),
    ]
    foreign_keys = [
        ForeignKey(
            foreign_key_name(r.table, f.column, f.ref_table or ""),
            f.column,
            f.ref_table or "",
            f.on_delete or "",
            deferred=(r.name, f.name) in (deferred or set()),
        )
        for f in r.refs
    ]
    checks = [Check(check_name(r.table, f.column), f.column, f.check) for f in r.columns if f.check]
    uniques = [Unique(unique_name(r.table, [f.column]), (f.column,)) for f in r.columns if f.unique]
    uniques += [Unique(unique_name(r.table, g), tuple(g)) for g in r.unique_together]
    indexes = [
        Index(index_name(r.table, [f.column]), (f.column,), mysql_length=f.mysql_prefix)
        for f in r.columns
        if f.indexed
    ]
    indexes += [Index(i["name"], tuple(i["columns"]), bool(i["unique"])) for i in r.indexes]
    return Table(
        name=r.table,
        owner=r.name,
        columns=tuple(columns),
        primary_key=("id",),
        foreign_keys=tuple(foreign_keys),
        checks=tuple(checks),
        uniques=tuple(uniques),
        indexes=tuple(indexes),
    )


def link_table(r: ResourceIR, f: FieldIR) -> Table:
    name = f.link_table or ""
    own, other = f.link_self_column or "", f.link_target_column or ""
    return Table(
        name=name,
        owner=f"{r.name}.{f.name}",
        columns=(Column(own, ID_TYPE, False), Column(other, ID_TYPE, False)),
        primary_key=(own, other),
        foreign_keys=(
            ForeignKey(foreign_key_name(name, own, r.table), own, r.table, "CASCADE"),
            ForeignKey(
                foreign_key_name(name, other, f.ref_table or ""),
                other,
                f.ref_table or "",
                "CASCADE",
            ),
        ),
        indexes=(Index(index_name(name, [other]), (other,)),),
        link=True,
    )


def column_of(f: FieldIR) -> Column:
    return Column(
        name=f.column,
        type=f.migration_type,
        nullable=f.nullable,
        server_default=f.server_default,
        comment=f.description or None,
        kind=f.kind,
        field=f.name,
        values=enum_values(f),
        default_sql=sql_literal(f.server_default),
    )


def enum_values(f: FieldIR) -> tuple[str, ...]:
    if f.kind != "enum" or not f.annotation.startswith("Literal["):
        return ()
    node = ast.parse(f.annotation, mode="eval").body
    assert isinstance(node, ast.Subscript)
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    return tuple(ast.literal_eval(item) for item in items)


def sql_literal(server_default: str | None) -> str | None:
    """The SQL literal of a ``server_default`` expression as the IR writes it."""
    if server_default is None:
        return None
    node = ast.parse(server_default, mode="eval").body
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in ("true", "false"):
            return node.func.attr.upper()
        if node.func.attr == "text" and node.args:
            return str(ast.literal_eval(node.args[0]))
    value = ast.literal_eval(node)
    return quote_text(str(value))


def quote_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# --- column types ------------------------------------------------------------------------------

_ARGS = re.compile(r"^sa\.(\w+)\((.*)\)$")


@dataclass(frozen=True)
class SqlType:
    """A column type taken apart: its family and size, to tell widening from narrowing."""

    name: str  # String, Text, Integer, BigInteger, Double, Numeric, Boolean, Date, ...
    length: int | None = None
    precision: int | None = None
    scale: int | None = None

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
            "IdType": "bigint",
            "Double": "double precision",
            "Boolean": "boolean",
            "Date": "date",
            "DateTime": "timestamp with time zone",
            "Time": "time",
            "Uuid": "uuid",
            "JSON": "json",
        }.get(self.name, self.name.lower())


def sql_type(text: str) -> SqlType:
    if text == ID_TYPE:
        return SqlType("IdType")
    match = _ARGS.match(text)
    if not match:
        return SqlType(text)
    name, args = match.groups()
    numbers = [int(a) for a in re.findall(r"\b\d+\b", args)]
    if name == "String" and numbers:
        return SqlType(name, length=numbers[0])
    if name == "Numeric" and len(numbers) == 2:
        return SqlType(name, precision=numbers[0], scale=numbers[1])
    return SqlType(name)


_WIDER = {
    ("Integer", "BigInteger"),
    ("Integer", "Double"),
    ("IdType", "BigInteger"),
    ("Integer", "IdType"),
}


def type_change(old: str, new: str) -> tuple[str, str | None]:
    """How a column's type changes: ``('same'|'widen'|'narrow'|'convert', note)``.

    ``narrow`` and ``convert`` can lose data (longer text is cut, numbers may not fit,
    values may not convert); ``widen`` keeps every value.
    """
    if old == new:
        return "same", None
    a, b = sql_type(old), sql_type(new)
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
        return "narrow", f"numbers are rounded to {b.scale} places or fail beyond {new}"
    if b.textual and not a.textual and (b.name == "Text" or (b.length or 0) >= 64):
        return "convert", None  # every scalar value has a text form that fits
    if a.name == "BigInteger" and b.name == "Integer":
        return "narrow", "values beyond the 32-bit range fail the migration"
    return "convert", f"values that do not convert to {new} fail the migration"


def converts_safely(old: str, new: str) -> bool:
    change, note = type_change(old, new)
    return change in ("same", "widen") or (change == "convert" and note is None)


def family_changes(old: str, new: str) -> bool:
    """Whether PostgreSQL needs an explicit ``USING`` cast to change the type."""
    a, b = sql_type(old), sql_type(new)
    if a.textual and b.textual:
        return False
    if a.name == b.name:
        return False
    return (a.name, b.name) not in _WIDER
