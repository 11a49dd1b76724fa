"""The steps of a migration, typed: each knows the table it acts on, its phase among the
changes to an existing table, whether it loses data and how a revision names it.
``evolve.diff`` decides which steps a change needs; ``evolve.migration`` renders them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from backforge.evolve.snapshot import (
    Check,
    Column,
    ForeignKey,
    Index,
    Table,
    Unique,
    quote,
)
from backforge.names import primary_key_name
from backforge.sqltypes import family_changes, type_change
from backforge.targets.sqlalchemy import migration_type

# Phases of the changes to one existing table, in the order the revision runs them.
DROP_CONSTRAINTS, FIX_ROWS, COLUMNS, FILL_ROWS, REQUIRE, CHECK_ROWS, ADD_CONSTRAINTS = range(1, 8)


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
        elif self.column.server_now:
            how += ", default the current time"
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
        return f"{quote(self.old.name)}::{self.new.type.postgresql}"

    @property
    def drops_default_first(self) -> bool:
        """PostgreSQL cannot cast a column's default along with a new type family."""
        return self.using is not None and self.old.has_default

    @property
    def default_changed(self) -> bool:
        return self.old.default_sql != self.new.default_sql or self.drops_default_first

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
            found.append(f"type {migration_type(self.old.type)} -> {migration_type(self.new.type)}")
        if self.old.nullable != self.new.nullable:
            found.append("NOT NULL" if not self.new.nullable else "nullable")
        if self.old.default_sql != self.new.default_sql:
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


@dataclass(frozen=True)
class AdoptNames(Operation):
    """An existing table taken over: its primary key, unique constraints, indexes, foreign
    keys and checks get the names the models give them, found in the database by their columns
    when the migration runs (an existing database names them its own way); those it lacks are
    created. A mapped CHECK's former constraint is dropped on PostgreSQL when the database
    writes it out exactly as the new one."""

    definition: Table
    kind: ClassVar[str] = "adopt_names"

    @property
    def summary(self) -> str:
        return f"give the constraints and indexes of the existing table {self.table} their names"

    @property
    def uniques(self) -> list[tuple[str, list[str]]]:
        return [(u.name, list(u.columns)) for u in self.definition.uniques]

    @property
    def indexes(self) -> list[tuple[str, list[str], bool]]:
        return [(i.name, list(i.columns), i.unique) for i in self.definition.indexes]

    @property
    def foreign_keys(self) -> list[tuple[str, str]]:
        return [(fk.name, fk.column) for fk in self.definition.foreign_keys]

    @property
    def checks(self) -> list[tuple[str, str]]:
        return [(ck.name, ck.sql) for ck in self.definition.checks]
