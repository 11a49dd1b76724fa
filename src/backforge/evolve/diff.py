"""The difference between two snapshots of a service.

``diff(old_ir, new_ir, renames)`` compares the IR a project was generated from (None for a new
project) with the IR of its changed spec and gives:

- ``operations``: what the database must do, in order (``evolve.operations``; each step knows
  whether it is destructive and what it would lose), rendered into an Alembic revision by
  ``evolve.migration``;
- ``reverse``: the steps that undo them (the revision's ``downgrade()``), computed as the
  difference the other way round;
- ``api``: the changes a client of the API sees, each ``breaking`` or not (``evolve.api``).

Dropping a table or a column, narrowing a type or a length and removing enum values are
destructive. Renamed fields and resources (``renamed_from``) keep their data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from backforge.errors import ProjectError
from backforge.evolve.api import ApiChange, Renames, api_changes, find_resource
from backforge.evolve.operations import (
    CHECK_ROWS,
    AddColumn,
    AddConstraint,
    AlterColumn,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropConstraint,
    DropIndex,
    DropTable,
    FillColumn,
    FixRows,
    Guard,
    MoveLinkTable,
    Operation,
    Refusal,
    RenameTable,
    RequireColumn,
    phase_of,
)
from backforge.evolve.snapshot import (
    Check,
    Column,
    ForeignKey,
    Index,
    Schema,
    Table,
    Unique,
    quote,
    schema_of,
)
from backforge.ir import OWNER_COLUMN, FieldIR, ServiceIR
from backforge.spec.model import ServiceSpec
from backforge.sqltypes import SqlType, family_changes, type_change
from backforge.targets.sqlalchemy import migration_type, quote_text

LOCKED_HASH = "!"  # no password matches this hash (auth/passwords.py in the project)


def renames_in(spec: ServiceSpec) -> Renames:
    """The ``renamed_from`` options of a spec."""
    found: Renames = {}
    for name, resource in spec.resources.items():
        for fname, fspec in resource.fields.items():
            if fspec.renamed_from:
                found.setdefault(name, {})[fname] = fspec.renamed_from
    return found


# --- the diff ----------------------------------------------------------------------------------


class Changes:
    """What a set of database operations and API changes amounts to (mixed into Diff, Plan)."""

    operations: list[Operation]
    api: list[ApiChange]

    @property
    def destructive(self) -> list[Operation]:
        return [op for op in self.operations if op.destructive]

    @property
    def breaking(self) -> list[ApiChange]:
        return [c for c in self.api if c.breaking]

    @property
    def refusals(self) -> list[str]:
        """Changes that are not migrated whatever the options (see ``Refusal``)."""
        return [op.message for op in self.operations if isinstance(op, Refusal)]


@dataclass
class Diff(Changes):
    operations: list[Operation]
    reverse: list[Operation]
    api: list[ApiChange]
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.operations and not self.api


def diff(old: ServiceIR | None, new: ServiceIR, renames: Renames | None = None) -> Diff:
    """Everything that changes from ``old`` (None: nothing yet) to ``new``.

    Field renames are keyed by the resource's name in ``new``; a renamed resource (its
    ``renamed_from``) is looked up in ``old`` by its previous name.
    """
    moved = _resolve_moves(old, new)
    back = {o: n for n, o in moved.items()}
    fields = _resolve_renames(old, new, renames or {}, moved)
    inverse = {moved.get(r, r): {o: n for n, o in m.items()} for r, m in fields.items()}
    forward = _operations(old, new, fields, moved, restoring=False)
    backward = _operations(new, old, inverse, back, restoring=True)
    return Diff(forward, backward, api_changes(old, new, fields, moved), _notes(forward))


def _resolve_moves(old: ServiceIR | None, new: ServiceIR) -> dict[str, str]:
    """Renamed resources that apply ({new name: previous name}): the previous one is in the
    project and the new name is new."""
    if old is None:
        return {}
    names = {r.name for r in old.resources}
    moved: dict[str, str] = {}
    for r in new.resources:
        if r.renamed_from is None or r.name in names:
            continue  # not renamed, or renamed by an earlier generation: the hint is history
        if r.renamed_from not in names:
            raise ProjectError(
                f"resources.{r.name}.renamed_from: {r.renamed_from} names no resource of the "
                f"project (it has: {', '.join(sorted(names))}); fix the name or remove "
                "renamed_from"
            )
        moved[r.name] = r.renamed_from
    return moved


def _resolve_renames(
    old: ServiceIR | None, new: ServiceIR, renames: Renames, moved: dict[str, str]
) -> Renames:
    """The renames that apply: the old field exists and the new name is new."""
    applied: Renames = {}
    for resource, mapping in sorted(renames.items()):
        before = find_resource(old, moved.get(resource, resource))
        for new_name, old_name in sorted(mapping.items()):
            if before is None:
                continue  # a new resource: nothing to rename
            names = {f.name for f in before.fields}
            if new_name in names:
                continue  # applied by an earlier generation; the hint is history
            if old_name not in names:
                raise ProjectError(
                    f"resources.{resource}.fields.{new_name}.renamed_from: {old_name} names no "
                    f"field of {resource} in the project (it has: {', '.join(sorted(names))}); "
                    "fix the name or remove renamed_from"
                )
            applied.setdefault(resource, {})[new_name] = old_name
    return applied


def _notes(operations: list[Operation]) -> list[str]:
    return [op.message for op in operations if isinstance(op, Guard) and not op.lost]


# --- database: from one schema to the other ----------------------------------------------------


def _operations(
    old_ir: ServiceIR | None,
    new_ir: ServiceIR | None,
    renames: Renames,
    moved: dict[str, str],
    *,
    restoring: bool,
) -> list[Operation]:
    tables = _moved_tables(old_ir, new_ir, moved)
    renamed_tables: list[Operation] = [RenameTable(n, o) for o, n in tables.items()]
    # the schema once the tables are renamed: compared with the new one by the new names
    old, new = _after_renames(schema_of(old_ir), tables), schema_of(new_ir)
    columns, links = _column_renames(old_ir, new_ir, renames, moved)
    moved_old = set(links.values())
    dropped_links = [
        DropTable(t.name, t)
        for t in old.tables
        if t.link and new.get(t.name) is None and t.name not in moved_old
    ]
    created = [
        CreateTable(t.name, t)
        for t in new.tables
        if old.get(t.name) is None and t.name not in links and not t.link
    ]
    created_links: list[Operation] = [
        CreateTable(t.name, t)
        for t in new.tables
        if t.link and old.get(t.name) is None and t.name not in links
    ]
    created_links += [
        MoveLinkTable(t.name, _required(old.get(links[t.name])), t)
        for t in new.tables
        if t.name in links
    ]
    handovers = _handovers(new_ir)
    altered: list[Operation] = []
    for table in sorted(new.tables, key=lambda t: t.name):
        before = old.get(table.name)
        if before is not None:
            renamed = columns.get(table.name, {})
            handover = handovers.get(table.name)
            altered += _alter(before, table, renamed, restoring=restoring, handover=handover)
    dropped = [
        DropTable(t.name, t) for t in reversed(old.tables) if not t.link and new.get(t.name) is None
    ]
    # keys that close a cycle of references: added once every new table exists, dropped
    # before any of the tables goes
    closing: list[Operation] = [
        AddConstraint(op.table, fk)
        for op in created
        for fk in op.definition.foreign_keys
        if fk.deferred
    ]
    opening: list[Operation] = [
        DropConstraint(op.table, fk)
        for op in dropped
        for fk in reversed(op.definition.foreign_keys)
        if fk.deferred
    ]
    return [
        *renamed_tables,
        *dropped_links,
        *created,
        *closing,
        *created_links,
        *altered,
        *opening,
        *dropped,
    ]


def _moved_tables(
    old_ir: ServiceIR | None, new_ir: ServiceIR | None, moved: dict[str, str]
) -> dict[str, str]:
    """The tables of renamed resources: {previous table: new table}."""
    found: dict[str, str] = {}
    for new_name, old_name in sorted(moved.items()):
        before, after = find_resource(old_ir, old_name), find_resource(new_ir, new_name)
        if before is not None and after is not None and before.table != after.table:
            found[before.table] = after.table
    return found


def _after_renames(schema: Schema, tables: dict[str, str]) -> Schema:
    """``schema`` once ``tables`` are renamed: foreign keys follow the tables they refer to;
    every constraint and index keeps its name (the diff renames those that change)."""
    if not tables:
        return schema
    return Schema(
        tuple(
            replace(
                t,
                name=tables.get(t.name, t.name),
                foreign_keys=tuple(
                    replace(fk, ref_table=tables.get(fk.ref_table, fk.ref_table))
                    for fk in t.foreign_keys
                ),
            )
            for t in schema.tables
        )
    )


@dataclass(frozen=True)
class Handover:
    """The account that takes the rows already in a table whose resource becomes owned."""

    email: str | None  # None: the spec names no account (the change is refused)
    role: str  # given to the account when the migration creates it
    package: str  # of the service, to name its bootstrap command


def _handovers(ir: ServiceIR | None) -> dict[str, Handover]:
    if ir is None or ir.auth is None:
        return {}
    return {
        r.table: Handover(r.existing_rows_owner or None, ir.auth.admin_role, ir.package)
        for r in ir.resources
        if r.owned
    }


def _required(table: Table | None) -> Table:
    assert table is not None
    return table


def _column_renames(
    old_ir: ServiceIR | None, new_ir: ServiceIR | None, renames: Renames, moved: dict[str, str]
) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Renamed columns by table ({new column: old column}) and moved link tables (new: old).

    A rename keeps the data when the column keeps its meaning: a ref to another resource, or a
    change between a relation and a plain value, is a drop and an add instead. The links of a
    `many` field move when its name or its resource's changes; its target column is renamed
    when its target's name changes.
    """
    columns: dict[str, dict[str, str]] = {}
    links: dict[str, str] = {}
    for after in new_ir.resources if new_ir else []:
        before = find_resource(old_ir, moved.get(after.name, after.name))
        if before is None:
            continue
        mapping = renames.get(after.name, {})
        for n in after.fields:
            o = next((f for f in before.fields if f.name == mapping.get(n.name, n.name)), None)
            if o is None or not _same_meaning(o, n, moved):
                continue
            if n.kind == "many" and n.link_table != o.link_table:
                links[n.link_table or ""] = o.link_table or ""
            elif n.kind == "many" and n.link_target_column != o.link_target_column:
                target = columns.setdefault(n.link_table or "", {})
                target[n.link_target_column or ""] = o.link_target_column or ""
            elif n.kind != "many" and o.column != n.column:
                columns.setdefault(after.table, {})[n.column] = o.column
    return columns, links


def _same_meaning(old: FieldIR, new: FieldIR, moved: dict[str, str]) -> bool:
    relations = ("ref", "many")
    if old.kind in relations or new.kind in relations:
        return old.kind == new.kind and old.ref == moved.get(new.ref or "", new.ref)
    return True


def _alter(
    old: Table,
    new: Table,
    renamed: dict[str, str],
    *,
    restoring: bool,
    handover: Handover | None = None,
) -> list[Operation]:
    """The changes to one table that exists before and after."""
    ops: list[Operation] = []
    to_new = {o: n for n, o in renamed.items()}
    by_old = {c.name: c for c in old.columns}
    matched: dict[str, Column] = {}  # new column name -> old column
    for column in new.columns:
        source = by_old.get(renamed.get(column.name, column.name))
        if source is not None and _same_fk_target(old, new, source.name, column.name):
            matched[column.name] = source
    kept_old = {c.name for c in matched.values()}

    # constraints and indexes, compared with the renamed columns mapped to their new names
    def mapped(columns: Iterable[str]) -> tuple[str, ...]:
        return tuple(to_new.get(c, c) for c in columns)

    def same_check(a: Check, b: Check) -> bool:
        return replace(a, column=to_new.get(a.column, a.column), name=b.name) == b

    def same_unique(a: Unique, b: Unique) -> bool:
        return mapped(a.columns) == b.columns

    def same_fk(a: ForeignKey, b: ForeignKey) -> bool:
        ours = (mapped([a.column]), a.ref_table, a.ondelete)
        return ours == ((b.column,), b.ref_table, b.ondelete)

    def same_index(a: Index, b: Index) -> bool:
        return (mapped(a.columns), a.unique) == (b.columns, b.unique)

    for olds, news, same in (
        (old.checks, new.checks, same_check),
        (old.uniques, new.uniques, same_unique),
        (old.foreign_keys, new.foreign_keys, same_fk),
        (old.indexes, new.indexes, same_index),
    ):
        # kept as it is: same name, same definition, and its columns stay (a column dropped
        # and added again takes its indexes and constraints with it)
        def kept(o: Any, n: Any, same: Any = same) -> bool:
            return bool(o.name == n.name and same(o, n) and set(_columns(o)) <= kept_old)

        for o in olds:
            if not any(kept(o, n) for n in news):
                ops.append(_drop(old.name, o))
        for n in news:
            if any(kept(o, n) for o in olds):
                continue
            ops.append(_add(new.name, n))
            if not any(same(o, n) and set(_columns(o)) <= kept_old for o in olds):
                previous = [o for o in olds if o.name == n.name]
                ops += _constraint_guard(new, n, matched, previous[0] if previous else None)

    for column in old.columns:
        if column.name not in kept_old:
            ops.append(DropColumn(old.name, column))
    for column in new.columns:
        source = matched.get(column.name)
        if source is None:
            ops += _add_column(new, column, restoring=restoring, handover=handover)
        elif source != column:
            ops += _change_column(new, source, column)
    return sorted(ops, key=lambda op: (phase_of(op), _order(op)))


def _columns(item: Check | Unique | ForeignKey | Index) -> tuple[str, ...]:
    return item.columns if isinstance(item, Unique | Index) else (item.column,)


def _same_fk_target(old: Table, new: Table, old_column: str, new_column: str) -> bool:
    a = next((fk.ref_table for fk in old.foreign_keys if fk.column == old_column), None)
    b = next((fk.ref_table for fk in new.foreign_keys if fk.column == new_column), None)
    return a == b


_KIND_ORDER = {
    "refusal": -1,
    # a foreign key goes before the indexes: MySQL / MariaDB refuse to drop an index a key uses
    "drop_constraint": 0,
    "drop_index": 1,
    "guard": 2,
    "execute": 3,
    "drop_column": 4,
    "alter_column": 5,
    "add_column": 6,
    "add_constraint": 7,
    "create_index": 8,
}


def _order(op: Operation) -> tuple[int, str]:
    name = ""
    for attribute in ("column", "old", "constraint", "index"):
        value = getattr(op, attribute, None)
        if value is not None:
            name = value.name
            break
    return _KIND_ORDER.get(op.kind, 9), name


def _drop(table: str, item: Check | Unique | ForeignKey | Index) -> Operation:
    if isinstance(item, Index):
        return DropIndex(table, item)
    return DropConstraint(table, item)


def _add(table: str, item: Check | Unique | ForeignKey | Index) -> Operation:
    if isinstance(item, Index):
        return CreateIndex(table, item)
    return AddConstraint(table, item)


def _constraint_guard(
    table: Table,
    item: Check | Unique | ForeignKey | Index,
    matched: dict[str, Column],
    previous: Check | Unique | ForeignKey | Index | None,
) -> list[Operation]:
    """A narrower check or a new unique rule on existing columns: stop clearly when rows break
    it (enum values are remapped or guarded with the column, see ``_remove_values``)."""
    name = quote(table.name)
    old_check = previous if isinstance(previous, Check) else None
    if isinstance(item, Check) and item.column in matched and _narrows(old_check, item):
        return [
            Guard(
                table.name,
                f"SELECT count(*) FROM {name} WHERE NOT ({item.sql})",
                f"rows of {table.name} break the new rule {item.sql} ({item.name}); "
                "correct them, then run the migration again",
                stage=CHECK_ROWS,
            )
        ]
    unique = isinstance(item, Unique) or (isinstance(item, Index) and item.unique)
    if unique and all(c in matched for c in item.columns):  # type: ignore[union-attr]
        columns = ", ".join(quote(c) for c in item.columns)  # type: ignore[union-attr]
        present = " AND ".join(f"{quote(c)} IS NOT NULL" for c in item.columns)  # type: ignore[union-attr]
        return [
            Guard(
                table.name,
                f"SELECT count(*) FROM (SELECT 1 FROM {name} WHERE {present} "
                f"GROUP BY {columns} HAVING count(*) > 1) AS duplicates",
                f"{table.name} has duplicate values in ({columns.replace(chr(34), '')}), which "
                f"the new unique rule {item.name} refuses; correct them, then run the "
                "migration again",
                stage=CHECK_ROWS,
            )
        ]
    return []


def _narrows(old: Check | None, new: Check) -> bool:
    """Whether rows valid under ``old`` may break ``new`` (a raised min or a lowered max)."""
    if new.values:
        return False
    low = old.minimum if old else None
    high = old.maximum if old else None
    if new.minimum is not None and (low is None or _number(new.minimum) > _number(low)):
        return True
    return new.maximum is not None and (high is None or _number(new.maximum) < _number(high))


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


def _add_column(
    table: Table, column: Column, *, restoring: bool, handover: Handover | None = None
) -> list[Operation]:
    if column.nullable or column.has_default or column.server_now:
        return [AddColumn(table.name, column)]
    if restoring:  # the values were dropped: the column comes back, empty, as nullable
        return [AddColumn(table.name, replace(column, nullable=True))]
    if column.name == OWNER_COLUMN:
        return _become_owned(table, column, handover)
    # Existing rows would have no value. The generator cannot see whether a database has rows,
    # and a revision that works only on empty tables is a trap: refuse, and say how instead.
    what = f"{table.owner}.{column.field}" if column.field else column.name
    return [
        Refusal(
            table.name,
            f"cannot add the required field {what} without a default to the existing table "
            f"{table.name}: its rows would have no value. Give the field a `default` (existing "
            "rows get it), or add it without `required`, fill it, then make it required in a "
            "later version (that migration checks no row is left empty)",
        ),
        AddColumn(table.name, column),
    ]


def _become_owned(table: Table, column: Column, handover: Handover | None) -> list[Operation]:
    """An existing table whose resource becomes owned: its rows go to the account the spec
    names (created, inactive and without a password, when it does not exist yet)."""
    if handover is None or handover.email is None:
        bootstrap = f"{handover.package if handover else '<package>'}.auth.bootstrap"
        return [
            Refusal(
                table.name,
                f"cannot make {table.owner} owned: the rows already in {table.name} would have "
                "no owner. Name the account that takes them, e.g. "
                "`owned: {existing_rows: admin@example.com}`; the migration creates that "
                "account if it does not exist (inactive, with the admin role and no password, "
                f"until `python -m {bootstrap} <email>` gives it one)",
            ),
            AddColumn(table.name, column),
        ]
    name, owner = quote(table.name), quote(column.name)
    email = quote_text(handover.email)
    account = f'SELECT "id" FROM "users" WHERE "email" = {email}'
    return [
        FixRows(
            table.name,
            'INSERT INTO "users" ("email", "password_hash", "role", "is_active", "created_at", '
            f'"updated_at") SELECT {email}, {quote_text(LOCKED_HASH)}, '
            f"{quote_text(handover.role)}, FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
            'FROM (SELECT 1 AS "one") AS "account" '
            f'WHERE NOT EXISTS (SELECT 1 FROM "users" WHERE "email" = {email})',
            f"the account {handover.email} takes the rows already in {table.name}; "
            "created here (inactive, no password) unless it exists: "
            f"`python -m {handover.package}.auth.bootstrap {handover.email}` activates it",
        ),
        AddColumn(table.name, replace(column, nullable=True)),
        FillColumn(
            table.name,
            f"UPDATE {name} SET {owner} = ({account}) WHERE {owner} IS NULL",
            f"give the rows already in {table.name} to {handover.email}",
        ),
        RequireColumn(table.name, replace(column, nullable=True), column),
    ]


def _change_column(table: Table, old: Column, new: Column) -> list[Operation]:
    ops: list[Operation] = []
    name, column = quote(table.name), quote(old.name)
    change, _ = type_change(old.type, new.type)
    if change == "narrow" and new.type.textual:
        length = new.type.length
        ops.append(
            FixRows(
                table.name,
                f"UPDATE {name} SET {column} = substr({column}, 1, {length}) "
                f"WHERE length({column}) > {length}",
                f"cut {table.name}.{old.name} to {length} characters",
            )
        )
    if _sqlite_cannot_convert(old.type, new.type):
        ops.append(
            Guard(
                table.name,
                f"SELECT count(*) FROM {name} WHERE {column} IS NOT NULL",
                f"SQLite cannot convert {table.name}.{old.name} from "
                f"{migration_type(old.type)} to {migration_type(new.type)} "
                "in place (its CAST turns such text into numbers); on SQLite add a new field, "
                "copy the values over, then remove the old one",
                dialect="sqlite",
            )
        )
    removed = [v for v in old.values if v not in new.values] if new.values else []
    if old.values and removed:
        ops += _remove_values(table, old, new, removed)
    if old.nullable and not new.nullable:
        if new.default_sql is not None:
            ops.append(
                FixRows(
                    table.name,
                    f"UPDATE {name} SET {column} = {new.default_sql} WHERE {column} IS NULL",
                    f"fill the empty {table.name}.{old.name} with the default {new.default_sql}",
                )
            )
        else:
            what = f"{table.owner}.{new.field}" if new.field else new.name
            ops.append(
                Guard(
                    table.name,
                    f"SELECT count(*) FROM {name} WHERE {column} IS NULL",
                    f"{what} becomes required but rows of {table.name} have no value in "
                    f"{old.name}: fill them (or give the field a default), then run the "
                    "migration again",
                )
            )
    if (old.name, old.type, old.nullable, old.default_sql, old.comment) != (
        new.name,
        new.type,
        new.nullable,
        new.default_sql,
        new.comment,
    ):
        ops.append(AlterColumn(table.name, old, new))
    return ops


def _sqlite_cannot_convert(a: SqlType, b: SqlType) -> bool:
    """SQLite copies a retyped column through CAST, which turns dates and words into numbers
    for the types of NUMERIC affinity."""
    if not family_changes(a, b):
        return False
    if b.name in ("Date", "DateTime", "Time"):
        return True
    return b.name == "Boolean" and a.name not in ("Integer", "BigInteger")


def _remove_values(table: Table, old: Column, new: Column, removed: list[str]) -> list[Operation]:
    name, column = quote(table.name), quote(old.name)
    values = ", ".join(quote_text(v) for v in removed)
    lost = f"{table.name}.{old.name} values {', '.join(removed)}"
    replacement = new.default_sql if new.default_sql is not None else None
    if replacement is None and new.nullable:
        replacement = "NULL"
    if replacement is None:
        return [
            Guard(
                table.name,
                f"SELECT count(*) FROM {name} WHERE {column} IN ({values})",
                f"rows of {table.name} hold the removed values {', '.join(removed)} of "
                f"{old.name} and the field has no default to take their place: change them, "
                "then run the migration again",
                lost=lost + " (the migration stops while rows hold them)",
            )
        ]
    return [
        FixRows(
            table.name,
            f"UPDATE {name} SET {column} = {replacement} WHERE {column} IN ({values})",
            f"set {table.name}.{old.name} to {replacement} where it holds {', '.join(removed)}",
            lost=f"{lost} (replaced by {replacement})",
        )
    ]
