"""Snapshots of a service: its IR read back from ``.backforge/ir.json``, and the database schema
the IR stands for (tables, columns, constraints and indexes, by the names the database has).

The schema is derived exactly as the models and the migrations name things (the naming
convention of ``core/db.py``): ``pk_<table>``, ``fk_<table>_<column>_<referred table>``,
``uq_<table>_<columns>``, ``ix_<table>_<columns>``, ``ck_<table>_<column>``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from backforge.errors import ProjectError
from backforge.fieldtypes import FIELD_TYPES
from backforge.ir import (
    IR_SCHEMA_VERSION,
    ActionIR,
    AuthIR,
    FieldIR,
    FilterParam,
    MarkIR,
    ResourceIR,
    ServiceIR,
    WebhooksIR,
    build_ir,
    table_order,
)
from backforge.names import check_name, foreign_key_name, index_name, primary_key_name, unique_name
from backforge.spec.load import load_spec_text
from backforge.sqltypes import DATETIME, ID, INTEGER, SqlType
from backforge.targets.sqlalchemy import check_sql, sql_literal

T = TypeVar("T")


# --- the IR, read back -------------------------------------------------------------------------


def ir_from_json(text: str, spec_text: str | None = None) -> ServiceIR:
    """The ServiceIR that ``ServiceIR.to_json()`` wrote; keys this version does not know are
    ignored (a newer generator may add some), missing ones take their defaults.

    A format 1 file (before ``schema_version``) held fields as Python and SQL text: its values
    are taken from the spec it was generated from, ``spec_text`` (``.backforge/spec.yaml``)."""
    try:
        data = json.loads(text)
        if data.get("schema_version", 1) > IR_SCHEMA_VERSION:
            raise ProjectError(
                f".backforge/ir.json has format {data['schema_version']}, newer than this "
                f"backforge reads ({IR_SCHEMA_VERSION}): upgrade backforge"
            )
        if data.get("schema_version", 1) == 1:
            data = _upgrade_from_text(data, spec_text)
        resources = [_resource(r) for r in data.get("resources", [])]
        auth = None
        if data.get("auth"):
            profile = [_field(f) for f in data["auth"].get("profile_fields", [])]
            auth = _build(AuthIR, {**data["auth"], "profile_fields": profile})
        webhooks = _build(WebhooksIR, data["webhooks"]) if data.get("webhooks") else None
        return _build(
            ServiceIR, {**data, "resources": resources, "auth": auth, "webhooks": webhooks}
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ProjectError(f".backforge/ir.json cannot be read back: {exc}") from None


_VALUES = (
    "base",
    "min_length",
    "max_length",
    "minimum",
    "maximum",
    "precision",
    "scale",
    "values",
    "has_default",
    "default",
)


def _upgrade_from_text(data: dict[str, Any], spec_text: str | None) -> dict[str, Any]:
    """Format 1 to 2: every field gets the values of the same field built from the spec the
    file was written with; the rest of the file is kept as it was."""
    if spec_text is None:
        raise ValueError("it predates format 2 and .backforge/spec.yaml is missing")
    built = build_ir(load_spec_text(spec_text, ".backforge/spec.yaml"), spec_text)
    fields = {(r.name, f.name): f for r in built.resources for f in r.fields}
    for resource in data.get("resources", []):
        for entry in resource.get("fields", []):
            source = fields.get((resource["name"], entry["name"]))
            if source is None:
                raise ValueError(
                    f"field {resource['name']}.{entry['name']} is not in .backforge/spec.yaml"
                )
            entry.update({key: getattr(source, key) for key in _VALUES})
            entry.update(pattern=source.pattern)
        for param in resource.get("filters", []):
            param.pop("annotation", None)
    data["schema_version"] = IR_SCHEMA_VERSION
    return data


def _resource(data: dict[str, Any]) -> ResourceIR:
    return _build(
        ResourceIR,
        {
            **data,
            "fields": [_field(f) for f in data.get("fields", [])],
            "filters": [_build(FilterParam, f) for f in data.get("filters", [])],
            "actions": [_action(a) for a in data.get("actions", [])],
            "marks": [_build(MarkIR, m) for m in data.get("marks", [])],
        },
    )


def _action(data: dict[str, Any]) -> ActionIR:
    return _build(
        ActionIR,
        {
            **data,
            "inputs": [_field(f) for f in data.get("inputs", [])],
            "outputs": [_field(f) for f in data.get("outputs", [])],
        },
    )


def _field(data: dict[str, Any]) -> FieldIR:
    """A field with its values typed again: JSON holds decimals, dates and UUIDs as text."""
    f = _build(FieldIR, data)
    ftype = FIELD_TYPES.get(f.kind)
    if f.base == "decimal":
        f.minimum = None if f.minimum is None else Decimal(str(f.minimum))
        f.maximum = None if f.maximum is None else Decimal(str(f.maximum))
    if f.has_default and ftype is not None:
        f.default = ftype.coerce_default(f.default, f.options)
    return f


def _build(cls: type[T], data: dict[str, Any]) -> T:
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in known})


# --- the database schema -----------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: SqlType
    nullable: bool
    has_default: bool = False
    default: Any = None  # the default as a value of the type (Decimal, date, UUID, ...)
    comment: str | None = None
    kind: str = ""  # the spec type; "" for automatic and link columns
    field: str = ""  # the spec field it stores; "" for automatic and link columns
    values: tuple[str, ...] = ()  # an enum's values
    server_now: bool = False  # the database fills it with the current time

    @property
    def default_sql(self) -> str | None:
        """The default as an SQL literal, to fill rows with."""
        return sql_literal(self.default) if self.has_default else None


@dataclass(frozen=True)
class ForeignKey:
    name: str
    column: str
    ref_table: str
    ondelete: str
    deferred: bool = False  # closes a cycle: added after the tables are created (use_alter)
    ref_column: str = "id"  # the referred table's key (an existing table's `primary_key`)


@dataclass(frozen=True)
class Check:
    """A column's bounds (``minimum <= value <= maximum``) or allowed values."""

    name: str
    column: str
    minimum: Any = None
    maximum: Any = None
    values: tuple[str, ...] = ()

    @property
    def sql(self) -> str:
        return check_sql(self.column, self.minimum, self.maximum, self.values)


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
        return self.link or any(c.type == ID for c in self.columns)


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
    tables += [resource_table(r, deferred, existing=ir.as_existing) for r in order]
    tables += [link_table(r, f) for r in ir.resources for f in r.many]
    if ir.auth:  # marks are accounts' (none in the tables an existing database had)
        tables += [mark_table(r, m) for r in ir.resources for m in r.marks]
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
            Column("scope", SqlType("String", length=255), False),
            Column("key", SqlType("String", length=255), False),
            Column("fingerprint", SqlType("String", length=64), False),
            Column("status_code", INTEGER, False),
            Column("headers", SqlType("Text"), False),
            Column("body", SqlType("Text"), False),
            Column("created_at", DATETIME, False),
            Column("expires_at", DATETIME, False),
        ),
        primary_key=("scope", "key"),
        indexes=(_index("idempotency_keys", "expires_at"),),
    ),
    # core/outbox.py: the domain events of the changes, written in their transactions
    "outbox_events": Table(
        name="outbox_events",
        owner="the event outbox",
        columns=(
            Column("position", ID, False),
            Column("id", SqlType("String", length=36), False),
            Column("aggregate_type", SqlType("String", length=60), False),
            Column("aggregate_id", SqlType("String", length=255), False),
            Column("type", SqlType("String", length=80), False),
            Column("specversion", SqlType("String", length=8), False),
            Column("source", SqlType("String", length=255), False),
            Column("subject", SqlType("String", length=255), False),
            Column("time", DATETIME, False),
            Column("datacontenttype", SqlType("String", length=60), False),
            Column("payload", SqlType("JSON"), False),
            Column("request_id", SqlType("String", length=128), True),
            Column("traceparent", SqlType("String", length=64), True),
            Column("status", SqlType("String", length=10), False),
            Column("attempts", INTEGER, False),
            Column("next_attempt_at", DATETIME, False),
            Column("last_error", SqlType("Text"), True),
            Column("sent_at", DATETIME, True),
        ),
        primary_key=("position",),
        uniques=(_unique("outbox_events", "id"),),
        indexes=(
            _index("outbox_events", "status", "next_attempt_at"),
            _index("outbox_events", "aggregate_type", "aggregate_id"),
        ),
    ),
    # core/webhooks.py: the webhook subscribers and their deliveries
    "webhook_subscribers": Table(
        name="webhook_subscribers",
        owner="webhook subscribers",
        columns=(
            Column("id", ID, False),
            Column("url", SqlType("String", length=2048), False),
            Column("description", SqlType("String", length=500), True),
            Column("events", SqlType("JSON"), False),
            Column("enabled", SqlType("Boolean"), False),
            Column("disabled_reason", SqlType("String", length=200), True),
            Column("secret", SqlType("String", length=100), False),
            Column("previous_secret", SqlType("String", length=100), True),
            Column("previous_secret_expires_at", DATETIME, True),
            Column("created_at", DATETIME, False),
            Column("updated_at", DATETIME, False),
        ),
        primary_key=("id",),
    ),
    "webhook_deliveries": Table(
        name="webhook_deliveries",
        owner="webhook deliveries",
        columns=(
            Column("id", ID, False),
            Column("subscriber_id", ID, False),
            Column("event_id", SqlType("String", length=36), False),
            Column("event_type", SqlType("String", length=80), False),
            Column("payload", SqlType("JSON"), False),
            Column("status", SqlType("String", length=10), False),
            Column("attempts", INTEGER, False),
            Column("next_attempt_at", DATETIME, False),
            Column("last_attempt_at", DATETIME, True),
            Column("response_status", INTEGER, True),
            Column("duration_ms", INTEGER, True),
            Column("last_error", SqlType("Text"), True),
            Column("created_at", DATETIME, False),
            Column("delivered_at", DATETIME, True),
        ),
        primary_key=("id",),
        foreign_keys=(
            ForeignKey(
                foreign_key_name("webhook_deliveries", "subscriber_id", "webhook_subscribers"),
                "subscriber_id",
                "webhook_subscribers",
                "CASCADE",
            ),
        ),
        uniques=(_unique("webhook_deliveries", "subscriber_id", "event_id"),),
        indexes=(_index("webhook_deliveries", "status", "next_attempt_at"),),
    ),
    # core/inbox.py: the events the subscriptions (`consumes`) took, each handled once
    "inbox_events": Table(
        name="inbox_events",
        owner="the event inbox",
        columns=(
            Column("position", ID, False),
            Column("subscription", SqlType("String", length=60), False),
            Column("event_id", SqlType("String", length=255), False),
            Column("type", SqlType("String", length=120), False),
            Column("partition_key", SqlType("String", length=320), False),
            Column("event", SqlType("JSON"), True),
            Column("raw", SqlType("Text"), True),
            Column("status", SqlType("String", length=10), False),
            Column("attempts", INTEGER, False),
            Column("next_attempt_at", DATETIME, False),
            Column("last_error", SqlType("Text"), True),
            Column("received_at", DATETIME, False),
            Column("processed_at", DATETIME, True),
        ),
        primary_key=("position",),
        uniques=(_unique("inbox_events", "subscription", "event_id"),),
        indexes=(
            _index("inbox_events", "status", "next_attempt_at"),
            _index("inbox_events", "subscription", "partition_key"),
        ),
    ),
}


def auth_tables(auth: AuthIR) -> list[Table]:
    """The tables of accounts, refresh tokens, API keys and the audit log, as
    ``auth/models.py`` defines them, in creation order."""
    tables = [users_table(auth), REFRESH_TOKENS]
    if auth.api_keys:
        tables.append(API_KEYS)
    tables.append(AUDIT_EVENTS)
    if auth.follows:
        tables.append(ACCOUNT_FOLLOWS)
    return tables


def users_table(auth: AuthIR) -> Table:
    """The accounts table, with the columns of the profile fields (`auth.profile`)."""
    if not auth.profile_fields:
        return USERS
    fields = auth.profile_fields
    return dataclasses.replace(
        USERS,
        columns=USERS.columns + tuple(column_of(f) for f in fields),
        checks=tuple(check for f in fields if (check := check_of("users", f)) is not None),
        uniques=USERS.uniques
        + tuple(
            Unique(unique_name("users", [f.db_column]), (f.db_column,)) for f in fields if f.unique
        ),
        indexes=tuple(
            Index(index_name("users", [f.db_column]), (f.db_column,), mysql_length=f.mysql_prefix)
            for f in fields
            if f.indexed
        ),
    )


def _account_key(table: str) -> ForeignKey:
    return ForeignKey(foreign_key_name(table, "user_id", "users"), "user_id", "users", "CASCADE")


USERS = Table(
    name="users",
    owner="accounts",
    columns=(
        Column("id", ID, False),
        Column("email", SqlType("String", length=320), False),
        Column("password_hash", SqlType("String", length=255), False),
        Column("role", SqlType("String", length=40), False),
        Column("is_active", SqlType("Boolean"), False),
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
        Column("token_hash", SqlType("String", length=64), False),
        Column("family", SqlType("String", length=32), False),
        Column("user_id", ID, False),
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
        Column("id", ID, False),
        Column("user_id", ID, False),
        Column("name", SqlType("String", length=100), False),
        Column("role", SqlType("String", length=40), False),
        Column("prefix", SqlType("String", length=16), False),
        Column("key_hash", SqlType("String", length=64), False),
        Column("created_at", DATETIME, False),
        Column("last_used_at", DATETIME, True),
        Column("revoked_at", DATETIME, True),
    ),
    primary_key=("id",),
    foreign_keys=(_account_key("api_keys"),),
    uniques=(_unique("api_keys", "key_hash"),),
    indexes=(_index("api_keys", "user_id"),),
)
ACCOUNT_FOLLOWS = Table(
    name="account_follows",
    owner="follows",
    columns=(
        Column("follower_id", ID, False),
        Column("followed_id", ID, False),
        Column("created_at", DATETIME, False),
    ),
    primary_key=("follower_id", "followed_id"),
    foreign_keys=(
        ForeignKey(
            foreign_key_name("account_follows", "follower_id", "users"),
            "follower_id",
            "users",
            "CASCADE",
        ),
        ForeignKey(
            foreign_key_name("account_follows", "followed_id", "users"),
            "followed_id",
            "users",
            "CASCADE",
        ),
    ),
    indexes=(_index("account_follows", "followed_id"),),
    link=True,
)
AUDIT_EVENTS = Table(
    name="audit_events",
    owner="the audit log",
    columns=(
        Column("id", ID, False),
        Column("at", DATETIME, False),
        Column("actor_id", ID, True),
        Column("actor_kind", SqlType("String", length=20), False),
        Column("action", SqlType("String", length=40), False),
        Column("resource", SqlType("String", length=60), True),
        Column("resource_id", ID, True),
        Column("before", SqlType("JSON"), True),
        Column("after", SqlType("JSON"), True),
        Column("request_id", SqlType("String", length=128), True),
        Column("client", SqlType("String", length=64), True),
    ),
    primary_key=("id",),
    indexes=(
        _index("audit_events", "at"),
        _index("audit_events", "actor_id"),
        _index("audit_events", "resource", "resource_id"),
    ),
)


def resource_table(
    r: ResourceIR, deferred: set[tuple[str, str]] | None = None, *, existing: bool = False
) -> Table:
    """The table of a resource; ``existing``: as the table was before backforge took it over
    (without the automatic fields it ``lacks``)."""
    absent = set(r.lacks) if existing else set()
    columns = [Column(r.id_column, INTEGER if r.id_type == "int" else ID, False)]
    columns += [column_of(f) for f in r.columns]
    columns += [
        # added to an existing table: its rows get the time it was taken over, and version 1
        Column(
            name,
            type_,
            False,
            has_default=name == "version",
            default=1,
            server_now=name != "version",
        )
        if name in r.lacks
        else Column(name, type_, False)
        for name, type_ in (
            ("created_at", DATETIME),
            ("updated_at", DATETIME),
            ("version", INTEGER),
        )
        if name not in absent
    ]
    foreign_keys = [
        ForeignKey(
            foreign_key_name(r.table, f.db_column, f.ref_table or ""),
            f.db_column,
            f.ref_table or "",
            f.on_delete or "",
            deferred=(r.name, f.name) in (deferred or set()),
            ref_column=f.ref_id_column or "id",
        )
        for f in r.refs
    ]
    checks = [check for f in r.columns if (check := check_of(r.table, f)) is not None]
    uniques = [
        Unique(unique_name(r.table, [f.db_column]), (f.db_column,)) for f in r.columns if f.unique
    ]
    uniques += [
        Unique(unique_name(r.table, r.db_columns(g)), tuple(r.db_columns(g)))
        for g in r.unique_together
    ]
    indexes = [
        Index(index_name(r.table, [f.db_column]), (f.db_column,), mysql_length=f.mysql_prefix)
        for f in r.columns
        if f.indexed
    ]
    indexes += [
        Index(i["name"], tuple(r.db_columns(i["columns"])), bool(i["unique"])) for i in r.indexes
    ]
    return Table(
        name=r.table,
        owner=r.name,
        columns=tuple(columns),
        primary_key=(r.id_column,),
        foreign_keys=tuple(foreign_keys),
        checks=tuple(checks),
        uniques=tuple(uniques),
        indexes=tuple(indexes),
    )


def link_table(r: ResourceIR, f: FieldIR) -> Table:
    name = f.link_table or ""
    own, other = f.link_self_column or "", f.link_target_column or ""
    own_type = INTEGER if r.id_type == "int" else ID
    other_type = INTEGER if f.ref_id_type == "int" else ID
    return Table(
        name=name,
        owner=f"{r.name}.{f.name}",
        columns=(Column(own, own_type, False), Column(other, other_type, False)),
        primary_key=(own, other),
        foreign_keys=(
            ForeignKey(
                foreign_key_name(name, own, r.table),
                own,
                r.table,
                "CASCADE",
                ref_column=r.id_column,
            ),
            ForeignKey(
                foreign_key_name(name, other, f.ref_table or ""),
                other,
                f.ref_table or "",
                "CASCADE",
                ref_column=f.ref_id_column or "id",
            ),
        ),
        indexes=(Index(index_name(name, [other]), (other,)),),
        link=True,
    )


def mark_table(r: ResourceIR, m: MarkIR) -> Table:
    """The table of a mark (core/marks.py): one row per account and record, both ways
    cascading, keyed by (account, record), the record's column indexed for its counts."""
    name, record = m.table, m.record_column
    return Table(
        name=name,
        owner=f"{r.name}.{m.name}",
        columns=(
            Column("user_id", ID, False),
            Column(record, INTEGER if r.id_type == "int" else ID, False),
            Column("created_at", DATETIME, False),
        ),
        primary_key=("user_id", record),
        foreign_keys=(
            ForeignKey(foreign_key_name(name, "user_id", "users"), "user_id", "users", "CASCADE"),
            ForeignKey(
                foreign_key_name(name, record, r.table),
                record,
                r.table,
                "CASCADE",
                ref_column=r.id_column,
            ),
        ),
        indexes=(Index(index_name(name, [record]), (record,)),),
        link=True,
    )


def column_of(f: FieldIR) -> Column:
    return Column(
        name=f.db_column,
        type=f.storage,
        nullable=f.nullable,
        has_default=f.has_default,
        default=f.default,
        comment=f.description or None,
        kind=f.kind,
        field=f.name,
        values=tuple(f.values),
    )


def check_of(table: str, f: FieldIR) -> Check | None:
    """The CHECK of a field's allowed values or its bounds as the spec gives them."""
    if not f.checked:
        return None
    column = f.db_column
    return Check(check_name(table, column), column, f.minimum, f.maximum, tuple(f.values))


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
