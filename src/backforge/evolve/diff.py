"""The difference between two snapshots of a service, as typed operations.

``diff(old_ir, new_ir, renames)`` compares the IR a project was generated from with the IR of
its changed spec and gives:

- ``operations``: what the database must do, in order (``Operation`` subclasses; each knows
  whether it is destructive and what it would lose), rendered into an Alembic revision by
  ``evolve.migration``;
- ``reverse``: the operations that undo them (the revision's ``downgrade()``), computed as the
  difference the other way round;
- ``api``: the changes a client of the API sees, each ``breaking`` or not.

Rules for the API: a removed resource, field, filter or sort key, a renamed field, a narrowed
type or constraint and a new required input without default are breaking; a new optional field,
a new resource and a widened constraint are not. Rules for the database: dropping a table or a
column, narrowing a type or a length and removing enum values are destructive.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, ClassVar

from backforge.errors import ProjectError
from backforge.evolve.snapshot import (
    Check,
    Column,
    ForeignKey,
    Index,
    Schema,
    Table,
    Unique,
    enum_values,
    family_changes,
    quote,
    quote_text,
    schema_of,
    sql_type,
    type_change,
)
from backforge.ir import OWNER_COLUMN, FieldIR, ResourceIR, ServiceIR
from backforge.names import primary_key_name
from backforge.spec.model import ServiceSpec

# Field renames as a spec declares them: resource -> {new field: old field}.
Renames = dict[str, dict[str, str]]

LOCKED_HASH = "!"  # no password matches this hash (auth/passwords.py in the project)

# Phases of the changes to one existing table, in the order the revision runs them.
DROP_CONSTRAINTS, FIX_ROWS, COLUMNS, FILL_ROWS, REQUIRE, CHECK_ROWS, ADD_CONSTRAINTS = range(1, 8)


def renames_in(spec: ServiceSpec) -> Renames:
    """The ``renamed_from`` options of a spec."""
    found: Renames = {}
    for name, resource in spec.resources.items():
        for fname, fspec in resource.fields.items():
            if fspec.renamed_from:
                found.setdefault(name, {})[fname] = fspec.renamed_from
    return found


# --- database operations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One step of a migration. ``table`` is the table it acts on."""

    table: str
    kind: ClassVar[str] = ""
    phase: ClassVar[int] = 0  # for the changes to an existing table

    @property
    def destructive(self) -> bool:
        return self.loses is not None

    @property
    def loses(self) -> str | None:
        """What data the step loses, when it is destructive."""
        return None

    @property
    def summary(self) -> str:
        raise NotImplementedError

    @property
    def slug(self) -> str | None:
        """Words for the revision's file name, for the steps worth naming it after."""
        return None


@dataclass(frozen=True)
class CreateTable(Operation):
    definition: Table
    kind: ClassVar[str] = "create_table"

    @property
    def summary(self) -> str:
        if self.definition.link:
            return f"create table {self.table} (the links of {self.definition.owner})"
        return f"create table {self.table}"

    @property
    def slug(self) -> str:
        return f"add_{self.table}"


@dataclass(frozen=True)
class DropTable(Operation):
    definition: Table
    kind: ClassVar[str] = "drop_table"

    @property
    def loses(self) -> str:
        if self.definition.link:
            return f"every link of {self.definition.owner} (table {self.table})"
        return f"every row of {self.definition.owner} (table {self.table})"

    @property
    def summary(self) -> str:
        if self.definition.link:
            return f"drop table {self.table} (the links of {self.definition.owner})"
        return f"drop table {self.table}"

    @property
    def slug(self) -> str:
        return f"drop_{self.table}"


@dataclass(frozen=True)
class RenameTable(Operation):
    """A renamed resource: its table keeps its rows under the new name (on PostgreSQL its
    primary key and id sequence are renamed too; the other names follow in the same revision)."""

    old_name: str
    kind: ClassVar[str] = "rename_table"

    @property
    def summary(self) -> str:
        return f"rename table {self.old_name} to {self.table}"

    @property
    def old_primary_key(self) -> str:
        return primary_key_name(self.old_name)

    @property
    def new_primary_key(self) -> str:
        return primary_key_name(self.table)

    @property
    def slug(self) -> str:
        return f"rename_{self.old_name}_to_{self.table}"


@dataclass(frozen=True)
class MoveLinkTable(Operation):
    """A renamed many-to-many field: its links move to the new link table."""

    old: Table
    new: Table
    kind: ClassVar[str] = "move_link_table"

    @property
    def summary(self) -> str:
        return f"move the links of {self.old.owner} from {self.old.name} to {self.new.name}"

    @property
    def slug(self) -> str:
        return f"rename_{self.old.name}"


@dataclass(frozen=True)
class AddColumn(Operation):
    column: Column
    kind: ClassVar[str] = "add_column"
    phase: ClassVar[int] = COLUMNS

    @property
    def summary(self) -> str:
        how = "NOT NULL" if not self.column.nullable else "nullable"
        if self.column.has_default:
            how += f", default {self.column.default_sql}"
        return f"add column {self.table}.{self.column.name} ({how})"

    @property
    def slug(self) -> str:
        return f"add_{self.table}_{self.column.field or self.column.name}"


@dataclass(frozen=True)
class DropColumn(Operation):
    column: Column
    kind: ClassVar[str] = "drop_column"
    phase: ClassVar[int] = COLUMNS

    @property
    def loses(self) -> str:
        return f"the values of column {self.table}.{self.column.name}"

    @property
    def summary(self) -> str:
        return f"drop column {self.table}.{self.column.name}"

    @property
    def slug(self) -> str:
        return f"drop_{self.table}_{self.column.field or self.column.name}"


@dataclass(frozen=True)
class AlterColumn(Operation):
    """Rename, retype, change nullability, default or comment of one column."""

    old: Column
    new: Column
    kind: ClassVar[str] = "alter_column"
    phase: ClassVar[int] = COLUMNS

    @property
    def renamed(self) -> bool:
        return self.old.name != self.new.name

    @property
    def type_changed(self) -> bool:
        return self.old.type != self.new.type

    @property
    def using(self) -> str | None:
        """PostgreSQL's cast for a change of type family (text to number, ...)."""
        if not self.type_changed or not family_changes(self.old.type, self.new.type):
            return None
        return f"{quote(self.old.name)}::{sql_type(self.new.type).postgresql}"

    @property
    def drops_default_first(self) -> bool:
        """PostgreSQL cannot cast a column's default along with a new type family."""
        return self.using is not None and self.old.server_default is not None

    @property
    def default_changed(self) -> bool:
        return self.old.server_default != self.new.server_default or self.drops_default_first

    @property
    def loses(self) -> str | None:
        change, note = type_change(self.old.type, self.new.type)
        if change == "narrow" or (change == "convert" and note):
            return f"{self.table}.{self.old.name}: {note}"
        return None

    @property
    def changes(self) -> list[str]:
        found = []
        if self.renamed:
            found.append(f"rename to {self.new.name}")
        if self.type_changed:
            found.append(f"type {self.old.type} -> {self.new.type}")
        if self.old.nullable != self.new.nullable:
            found.append("NOT NULL" if not self.new.nullable else "nullable")
        if self.old.server_default != self.new.server_default:
            found.append(
                f"default {self.new.default_sql}" if self.new.has_default else "no default"
            )
        if self.old.comment != self.new.comment:
            found.append("comment")
        return found

    @property
    def summary(self) -> str:
        return f"alter column {self.table}.{self.old.name}: {', '.join(self.changes)}"

    @property
    def slug(self) -> str:
        if self.renamed:
            return f"rename_{self.table}_{self.old.name}_to_{self.new.name}"
        return f"alter_{self.table}_{self.new.name}"


@dataclass(frozen=True)
class FixRows(Operation):
    """An UPDATE that makes existing rows fit a change (fill, cut, remap)."""

    sql: str
    what: str
    lost: str | None = None
    kind: ClassVar[str] = "execute"
    phase: ClassVar[int] = FIX_ROWS

    @property
    def loses(self) -> str | None:
        return self.lost

    @property
    def summary(self) -> str:
        return self.what


@dataclass(frozen=True)
class FillColumn(FixRows):
    """An UPDATE that fills a column added empty in the same revision."""

    phase: ClassVar[int] = FILL_ROWS


@dataclass(frozen=True)
class RequireColumn(AlterColumn):
    """A column added empty and filled in the same revision becomes required."""

    phase: ClassVar[int] = REQUIRE


@dataclass(frozen=True)
class Guard(Operation):
    """Stops the migration, before the change it protects, when existing rows are in the way."""

    sql: str  # counts the rows in the way
    message: str
    stage: int = FIX_ROWS
    lost: str | None = None
    dialect: str | None = None  # only on this database
    kind: ClassVar[str] = "guard"

    @property
    def loses(self) -> str | None:
        return self.lost

    @property
    def summary(self) -> str:
        return f"stop if rows are in the way: {self.message}"


@dataclass(frozen=True)
class Refusal(Operation):
    """A change backforge does not migrate: generation stops and says what to do instead."""

    message: str
    kind: ClassVar[str] = "refusal"
    phase: ClassVar[int] = FIX_ROWS

    @property
    def summary(self) -> str:
        return f"REFUSED: {self.message}"


@dataclass(frozen=True)
class DropConstraint(Operation):
    constraint: Check | Unique | ForeignKey
    kind: ClassVar[str] = "drop_constraint"
    phase: ClassVar[int] = DROP_CONSTRAINTS

    @property
    def type_(self) -> str:
        return {Check: "check", Unique: "unique", ForeignKey: "foreignkey"}[type(self.constraint)]

    @property
    def summary(self) -> str:
        return f"drop {_describe(self.constraint)} on {self.table}"


@dataclass(frozen=True)
class AddConstraint(Operation):
    constraint: Check | Unique | ForeignKey
    kind: ClassVar[str] = "add_constraint"
    phase: ClassVar[int] = ADD_CONSTRAINTS

    @property
    def summary(self) -> str:
        return f"add {_describe(self.constraint)} on {self.table}"


@dataclass(frozen=True)
class DropIndex(Operation):
    index: Index
    kind: ClassVar[str] = "drop_index"
    phase: ClassVar[int] = DROP_CONSTRAINTS

    @property
    def summary(self) -> str:
        return f"drop index {self.index.name}"


@dataclass(frozen=True)
class CreateIndex(Operation):
    index: Index
    kind: ClassVar[str] = "create_index"
    phase: ClassVar[int] = ADD_CONSTRAINTS

    @property
    def summary(self) -> str:
        unique = "unique " if self.index.unique else ""
        columns = ", ".join(self.index.columns)
        return f"create {unique}index {self.index.name} on {self.table} ({columns})"


def _describe(constraint: Check | Unique | ForeignKey) -> str:
    if isinstance(constraint, Check):
        return f"check {constraint.name} ({constraint.sql})"
    if isinstance(constraint, Unique):
        return f"unique {constraint.name} ({', '.join(constraint.columns)})"
    return (
        f"foreign key {constraint.name} ({constraint.column} -> {constraint.ref_table}.id, "
        f"on delete {constraint.ondelete.lower()})"
    )


def columns_of(operation: Operation) -> tuple[str, ...]:
    """The columns an operation on an existing table is about (for naming the revision)."""
    if isinstance(operation, AddColumn | DropColumn):
        return (operation.column.name,)
    if isinstance(operation, AlterColumn):
        return (operation.old.name, operation.new.name)
    if isinstance(operation, AddConstraint | DropConstraint):
        item = operation.constraint
        return item.columns if isinstance(item, Unique) else (item.column,)
    if isinstance(operation, CreateIndex | DropIndex):
        return operation.index.columns
    return ()


def phase_of(operation: Operation) -> int:
    return operation.stage if isinstance(operation, Guard) else operation.phase


# --- API changes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiChange:
    resource: str  # "" for the whole API
    field: str  # "" for the resource
    summary: str
    breaking: bool

    @property
    def where(self) -> str:
        return ".".join(p for p in (self.resource, self.field) if p) or "API"

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "field": self.field,
            "summary": self.summary,
            "breaking": self.breaking,
        }


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
        before = _find(old, moved.get(resource, resource))
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


def _find(ir: ServiceIR | None, name: str) -> ResourceIR | None:
    if ir is None:
        return None
    return next((r for r in ir.resources if r.name == name), None)


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
        before, after = _find(old_ir, old_name), _find(new_ir, new_name)
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

    email: str
    role: str  # given to the account when the migration creates it
    package: str  # of the service, to name its bootstrap command


def _handovers(ir: ServiceIR | None) -> dict[str, Handover]:
    if ir is None or ir.auth is None:
        return {}
    return {
        r.table: Handover(r.existing_rows_owner, ir.auth.admin_role, ir.package)
        for r in ir.resources
        if r.owned and r.existing_rows_owner
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
        before = _find(old_ir, moved.get(after.name, after.name))
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
        sql = a.sql.replace(quote(a.column), quote(to_new.get(a.column, a.column)))
        return sql == b.sql and to_new.get(a.column, a.column) == b.column

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


_BOUND = re.compile(r"(>=|<=) (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)")


def _narrows(old: Check | None, new: Check) -> bool:
    """Whether rows valid under ``old`` may break ``new`` (a raised min or a lowered max)."""
    if " IN (" in new.sql:
        return False
    bounds = {op: Decimal(v) for op, v in _BOUND.findall(new.sql)}
    before = {op: Decimal(v) for op, v in _BOUND.findall(old.sql)} if old else {}
    if ">=" in bounds and (">=" not in before or bounds[">="] > before[">="]):
        return True
    return "<=" in bounds and ("<=" not in before or bounds["<="] < before["<="])


def _add_column(
    table: Table, column: Column, *, restoring: bool, handover: Handover | None = None
) -> list[Operation]:
    if column.nullable or column.has_default:
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
    if handover is None:
        return [
            Refusal(
                table.name,
                f"cannot make {table.owner} owned: the rows already in {table.name} would have "
                "no owner. Name the account that takes them, e.g. "
                "`owned: {existing_rows: admin@example.com}`; the migration creates that "
                "account if it does not exist (inactive, with the admin role and no password, "
                "until `python -m <service>.auth.bootstrap <email>` gives it one)",
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
    if change == "narrow" and sql_type(new.type).textual:
        length = sql_type(new.type).length
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
                f"SQLite cannot convert {table.name}.{old.name} from {old.type} to {new.type} "
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
    if (old.name, old.type, old.nullable, old.server_default, old.comment) != (
        new.name,
        new.type,
        new.nullable,
        new.server_default,
        new.comment,
    ):
        ops.append(AlterColumn(table.name, old, new))
    return ops


def _sqlite_cannot_convert(old: str, new: str) -> bool:
    """SQLite copies a retyped column through CAST, which turns dates and words into numbers
    for the types of NUMERIC affinity."""
    a, b = sql_type(old), sql_type(new)
    if not family_changes(old, new):
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


# --- the API -----------------------------------------------------------------------------------


def api_changes(
    old: ServiceIR | None, new: ServiceIR, renames: Renames, moved: dict[str, str] | None = None
) -> list[ApiChange]:
    if old is None:
        return [ApiChange(r.name, "", f"new resource at /{r.path}", False) for r in new.resources]
    changes: list[ApiChange] = []

    def add(resource: str, fname: str, summary: str, breaking: bool) -> None:
        changes.append(ApiChange(resource, fname, summary, breaking))

    if old.base_path != new.base_path:
        add("", "", f"base path {old.base_path or '/'} -> {new.base_path or '/'}", True)
    if old.pagination != new.pagination:
        add("", "", f"pagination {old.pagination} -> {new.pagination}", True)
    if new.max_limit < old.max_limit:
        add("", "", f"max_limit lowered {old.max_limit} -> {new.max_limit}", True)
    elif new.max_limit > old.max_limit:
        add("", "", f"max_limit raised {old.max_limit} -> {new.max_limit}", False)
    if new.default_limit != old.default_limit:
        add("", "", f"default_limit {old.default_limit} -> {new.default_limit}", False)
    before_if_match = getattr(old, "require_if_match", False)
    after_if_match = getattr(new, "require_if_match", False)
    if after_if_match and not before_if_match:
        add("", "", "changes now require If-Match (428 without it)", True)
    elif before_if_match and not after_if_match:
        add("", "", "changes no longer require If-Match", False)
    if new.auth and not old.auth:
        add(
            "",
            "",
            "accounts added: sign-in and tokens under /auth; actions not open to `anyone` now "
            "answer 401 without a token",
            True,
        )
    elif old.auth and not new.auth:
        add("", "", "accounts removed: the /auth endpoints are gone, every action is open", True)
    moved = moved or {}
    for r in old.resources:
        if _find(new, r.name) is None and r.name not in moved.values():
            add(r.name, "", f"resource removed (its endpoints under /{r.path} are gone)", True)
    for r in new.resources:
        before = _find(old, moved.get(r.name, r.name))
        if before is None:
            add(r.name, "", f"new resource at /{r.path}", False)
            continue
        if before.name != r.name:
            add(r.name, "", f"renamed from {before.name} (its schemas are named {r.name})", True)
        _resource_changes(before, r, renames.get(r.name, {}), add, moved)
    return changes


def _resource_changes(
    old: ResourceIR, new: ResourceIR, renames: dict[str, str], add: Any, moved: dict[str, str]
) -> None:
    name = new.name
    if old.path != new.path:
        add(name, "", f"collection moved /{old.path} -> /{new.path}", True)
    if new.owned and not old.owned:
        add(
            name,
            "",
            "now owned: a record belongs to the account that creates it, and only its owner "
            "(and roles that see every record) may see or change it",
            True,
        )
    elif old.owned and not new.owned:
        add(name, "", "no longer owned", False)
    for action in sorted(set(old.permissions) & set(new.permissions)):  # older ir.json: none
        was, now = old.permissions.get(action, []), new.permissions.get(action, [])
        if was != now:
            who = f"{', '.join(was) or 'nobody'} -> {', '.join(now) or 'nobody'}"
            add(name, "", f"who may {action}: {who}", not _covers(now, was))
    if old.through != new.through:  # no column: a change of who sees the records, not of tables
        if new.through:
            add(
                name,
                "",
                f"now owned through {new.through}: only the owner of its {new.through} "
                "(and roles that see every record) may see or change a record",
                True,
            )
        else:
            add(name, "", f"no longer owned through {old.through}", False)
    before = {f.name: f for f in old.fields}
    matched: set[str] = set()
    for f in new.fields:
        source = before.get(renames.get(f.name, f.name))
        if source is None:
            _added_field(name, f, add)
            continue
        matched.add(source.name)
        if source.name != f.name and _visible(f):
            add(
                name,
                f.name,
                f"renamed from {source.name}: clients must use `{f.name}` instead",
                True,
            )
        _field_changes(name, source, f, add, moved)
    for f in old.fields:
        if f.name not in matched and _visible(f):
            add(name, f.name, "field removed", True)
    _listing_changes(old, new, add)


def _covers(now: list[str], was: list[str]) -> bool:
    """Whether every caller allowed by ``was`` is allowed by ``now``."""
    if "anyone" in now:
        return True
    signed_in = "authenticated" in now
    return all(who in now or (signed_in and who != "anyone") for who in was)


def _visible(f: FieldIR) -> bool:
    return f.readable or f.writable


def _added_field(resource: str, f: FieldIR, add: Any) -> None:
    if not _visible(f):
        return
    if f.writable and f.required:
        add(resource, f.name, "new required input without default", True)
    elif f.writable:
        default = f" (default {f.default_py})" if f.default_py is not None else ""
        add(resource, f.name, f"new optional field{default}", False)
    else:
        add(resource, f.name, "new read-only field", False)


def _field_changes(
    resource: str, old: FieldIR, new: FieldIR, add: Any, moved: dict[str, str]
) -> None:
    name = new.name
    if not (_visible(old) or _visible(new)):
        return
    wider = (old.kind, new.kind) in _WIDER_KINDS
    if wider:
        add(resource, name, f"type {old.kind} -> {new.kind} (wider)", False)
    elif old.kind != new.kind or (old.annotation != new.annotation and new.kind != "enum"):
        add(resource, name, f"type {_type(old)} -> {_type(new)}", True)
    elif old.ref != moved.get(new.ref or "", new.ref):
        add(resource, name, f"now refers to {new.ref} instead of {old.ref}", True)
    if old.readable and not new.readable:
        add(resource, name, "no longer returned", True)
    elif new.readable and not old.readable:
        add(resource, name, "now returned", False)
    if old.writable and not new.writable:
        add(resource, name, "no longer accepted on writes", True)
    elif new.writable and not old.writable:
        add(resource, name, "now accepted on writes", False)
    if new.writable and new.required and not old.required:
        add(resource, name, "now required on create", True)
    elif old.required and not new.required:
        add(resource, name, "no longer required", False)
    if new.unique and not old.unique:
        add(resource, name, "now unique (duplicates are refused with 409)", True)
    elif old.unique and not new.unique:
        add(resource, name, "no longer unique", False)
    if old.default_py != new.default_py:
        add(resource, name, f"default {old.default_py} -> {new.default_py}", False)
    if old.on_delete != new.on_delete and old.kind == new.kind == "ref":
        add(resource, name, f"on delete {old.on_delete} -> {new.on_delete}".lower(), False)
    if (old.kind == new.kind or wider) and new.writable:
        _constraint_changes(resource, old, new, add)


# Kinds whose every value is a value of the other, on the wire and in the column.
_WIDER_KINDS = {("int", "bigint"), ("string", "text")}


def _type(f: FieldIR) -> str:
    return f.kind if f.kind in ("ref", "many", "enum") else f"{f.kind} ({f.annotation})"


def _constraint_changes(resource: str, old: FieldIR, new: FieldIR, add: Any) -> None:
    a, b = _options(old.constraints), _options(new.constraints)
    name = new.name
    lower = {"min_length": "fewest characters", "ge": "minimum"}
    upper = {"max_length": "most characters", "le": "maximum"}
    for key, label in lower.items():
        if a.get(key) != b.get(key) and not (a.get(key) is None and b.get(key) is None):
            narrowed = _bigger(b.get(key), a.get(key))
            add(resource, name, f"{label} {a.get(key)} -> {b.get(key)}", narrowed)
    for key, label in upper.items():
        if a.get(key) != b.get(key) and not (a.get(key) is None and b.get(key) is None):
            narrowed = _bigger(a.get(key), b.get(key))
            add(resource, name, f"{label} {a.get(key)} -> {b.get(key)}", narrowed)
    if a.get("pattern") != b.get("pattern"):
        removed = b.get("pattern") in (None, r"^[^\x00]*$")
        add(resource, name, f"pattern {a.get('pattern')} -> {b.get('pattern')}", not removed)
    if old.kind == "enum":
        gone = [v for v in _values(old) if v not in _values(new)]
        added = [v for v in _values(new) if v not in _values(old)]
        if gone:
            add(resource, name, f"values removed: {', '.join(gone)}", True)
        if added:
            add(resource, name, f"values added: {', '.join(added)}", False)
    if old.kind == "decimal" and new.scale < old.scale:
        add(resource, name, f"decimal places {old.scale} -> {new.scale}", True)
    elif old.kind == "decimal" and new.scale > old.scale:
        add(resource, name, f"decimal places {old.scale} -> {new.scale}", False)


def _bigger(a: Any, b: Any) -> bool:
    """Whether a > b, a missing bound counting as unbounded."""
    if a is None:
        return False
    if b is None:
        return True
    return Decimal(str(a)) > Decimal(str(b))


def _options(constraints: str) -> dict[str, Any]:
    """The keyword arguments of a ``pydantic.Field(...)`` text, as values."""
    if not constraints:
        return {}
    call = ast.parse(f"f({constraints})", mode="eval").body
    assert isinstance(call, ast.Call)
    found: dict[str, Any] = {}
    for keyword in call.keywords:
        value = keyword.value
        if isinstance(value, ast.Call) and value.args:  # Decimal('1.5')
            value = value.args[0]
        try:
            found[keyword.arg or ""] = ast.literal_eval(value)
        except ValueError:
            found[keyword.arg or ""] = ast.unparse(value)
    return found


def _values(f: FieldIR) -> list[str]:
    return list(enum_values(f))


def _listing_changes(old: ResourceIR, new: ResourceIR, add: Any) -> None:
    name = new.name
    before = {p.name for p in old.filters}
    after = {p.name for p in new.filters}
    for param in sorted(before - after):
        add(name, "", f"list filter ?{param}= removed", True)
    for param in sorted(after - before):
        add(name, "", f"list filter ?{param}= added", False)
    for key in [k for k in old.sort_keys if k not in new.sort_keys]:
        add(name, "", f"sort key {key} removed", True)
    for key in [k for k in new.sort_keys if k not in old.sort_keys]:
        add(name, "", f"sort key {key} added", False)
    if any(f.searchable for f in old.fields) and not any(f.searchable for f in new.fields):
        add(name, "", "text search ?q= removed", True)
    elif any(f.searchable for f in new.fields) and not any(f.searchable for f in old.fields):
        add(name, "", "text search ?q= added", False)
