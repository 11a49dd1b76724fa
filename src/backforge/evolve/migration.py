"""From operations to an Alembic revision file: ``migrations/versions/NNNN_<slug>.py``.

The revision revises the project's current head and is numbered after the highest revision
file. Its ``upgrade()`` runs the diff's operations, its ``downgrade()`` the reverse ones. The
changes to an existing table go through ``op.batch_alter_table`` (plain ``ALTER TABLE`` on
PostgreSQL, a copy of the table on SQLite) in three blocks: constraints and indexes that go,
then the columns, then the constraints and indexes that come; rows are fixed or checked in
between. The text comes from ``templates/evolve/revision.py.jinja``; the generator formats it
with ruff like every other file. Once written, a revision is history: it is never rendered again.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import jinja2

from backforge import __version__
from backforge.evolve.api import ApiChange
from backforge.evolve.diff import diff
from backforge.evolve.history import VERSIONS, History, Script
from backforge.evolve.operations import (
    AddColumn,
    AdoptNames,
    CreateTable,
    DropTable,
    FixRows,
    Guard,
    MoveLinkTable,
    Operation,
    Refusal,
    RenameTable,
    columns_of,
    phase_of,
)
from backforge.evolve.snapshot import schema_of
from backforge.ir import ServiceIR
from backforge.render import template_environment
from backforge.render_text import python_text
from backforge.sqltypes import ID

INITIAL = "0001"  # the revision of a new project
_SLUG_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_TABLE_OPS = (CreateTable, DropTable, MoveLinkTable, RenameTable)
_STATEMENTS = (FixRows, Guard, AdoptNames)


def is_revision(path: str) -> bool:
    """Whether a project path is a migration revision (history, never regenerated)."""
    return path.startswith(VERSIONS.as_posix() + "/") and path.endswith(".py")


@dataclass(frozen=True)
class Revision:
    id: str
    down_revision: str
    path: str  # relative to the project
    text: str
    title: str

    @property
    def script(self) -> Script:
        """The revision as the project's history records it."""
        downs = (self.down_revision,) if self.down_revision else ()
        return Script(self.path, self.id, downs, _wrap(self.title).splitlines()[0])


@dataclass(frozen=True)
class Block:
    """What the template writes as one unit: a table operation, a statement, or a batch."""

    table: str
    operations: tuple[Operation, ...]
    batch: bool


def blocks(operations: list[Operation]) -> list[Block]:
    """Group the changes to one table and phase into one ``batch_alter_table`` block."""
    found: list[Block] = []
    current: list[Operation] = []

    def flush() -> None:
        if current:
            found.append(Block(current[0].table, tuple(current), True))
            current.clear()

    for op in operations:
        if isinstance(op, Refusal):
            continue  # never rendered: generation stops before
        if isinstance(op, _TABLE_OPS + _STATEMENTS):
            flush()
            found.append(Block(op.table, (op,), False))
            continue
        if current and (current[0].table != op.table or phase_of(current[0]) != phase_of(op)):
            flush()
        current.append(op)
    flush()
    return found


def slug(operations: list[Operation]) -> str:
    """The revision's name: its table and column changes, then the constraint and index
    changes on columns those do not mention already."""
    words: list[str] = []
    covered = set()
    for op in operations:
        if op.slug:
            covered.update((op.table, c) for c in columns_of(op))
            if op.slug not in words:
                words.append(op.slug)
    for op in operations:
        for column in columns_of(op):
            word = f"alter_{op.table}_{column}"
            if (op.table, column) not in covered and word not in words:
                covered.add((op.table, column))
                words.append(word)
    if not words:
        words = [f"alter_{op.table}" for op in operations[:1]] or ["evolve"]
    text = words[0] if len(words) == 1 else f"{words[0]}_and_{len(words) - 1}_more"
    if len(words) == 2:
        text = f"{words[0]}_and_{words[1]}"
    text = "_".join("".join(c if c in _SLUG_CHARACTERS else " " for c in text.lower()).split())
    return text[:60].rstrip("_") or "evolve"


def render_revision(
    past: History,
    ir: ServiceIR,
    upgrade: list[Operation],
    downgrade: list[Operation],
    api: list[ApiChange],
) -> Revision:
    """The revision after ``past`` for these operations (not written: the caller stages it)."""
    number = f"{past.next_number:04d}"
    title = f"{ir.name}: {slug(upgrade).replace('_', ' ')}."
    text = _render(ir, number, past.head, title, upgrade, downgrade, api)
    path = (VERSIONS / f"{number}_{slug(upgrade)}.py").as_posix()
    return Revision(number, past.head or "", path, text, title)


def initial_revision(ir: ServiceIR) -> Revision:
    """The first revision of a new project: every table of the service, from nothing (the same
    operations and renderer as every later revision)."""
    changes = diff(None, ir)
    title = f"Initial schema of {ir.name}."
    text = _render(ir, INITIAL, None, title, changes.operations, changes.reverse, [])
    return Revision(INITIAL, "", (VERSIONS / f"{INITIAL}_initial.py").as_posix(), text, title)


def existing_revisions(ir: ServiceIR) -> list[Revision]:
    """The first two revisions of a service whose tables exist already (``existing_database``):
    0001, the baseline, stands for the tables as they are (it creates them in an empty
    database, and does nothing where they exist: `alembic stamp 0001` says the same); 0002 adds
    what the service needs beyond them: backforge's own tables, the automatic fields the tables
    lack, and backforge's names for their constraints and indexes."""
    before = ir.existing()
    first = diff(None, before)
    title = f"Baseline of {ir.name}: its tables as they exist."
    order = schema_of(before).names
    text = _render(ir, INITIAL, None, title, first.operations, first.reverse, [], baseline=order[0])
    baseline = Revision(INITIAL, "", (VERSIONS / f"{INITIAL}_baseline.py").as_posix(), text, title)
    changes = diff(before, ir)
    target = schema_of(ir)
    adopt: list[Operation] = [
        AdoptNames(t.name, t) for t in target.tables if t.name in order and not t.link
    ]
    adopt += [AdoptNames(t.name, t) for t in target.tables if t.name in order and t.link]
    upgrade = [*changes.operations, *adopt]
    number = f"{int(INITIAL) + 1:04d}"
    title = f"{ir.name}: take over the existing tables."
    text = _render(ir, number, INITIAL, title, upgrade, changes.reverse, [], takeover=True)
    path = (VERSIONS / f"{number}_take_over_existing_tables.py").as_posix()
    return [baseline, Revision(number, INITIAL, path, text, title)]


def _render(
    ir: ServiceIR,
    revision: str,
    down_revision: str | None,
    title: str,
    upgrade: list[Operation],
    downgrade: list[Operation],
    api: list[ApiChange],
    baseline: str | None = None,
    takeover: bool = False,
) -> str:
    template = _environment().get_template("revision.py.jinja")
    everything = [*upgrade, *downgrade]
    return template.render(
        header=f"# Generated by backforge {__version__} from spec sha256:{ir.spec_hash[:12]}.",
        ir=ir,
        revision=revision,
        down_revision=down_revision,
        title=_wrap(title),
        changes=[_wrap(f"- {op.summary}", indent="  ") for op in upgrade],
        destructive=[_wrap(f"- {op.loses}", indent="  ") for op in upgrade if op.loses],
        api=[
            _wrap(f"- {'BREAKING ' if c.breaking else ''}{c.where}: {c.summary}", indent="  ")
            for c in api
        ],
        upgrade=blocks(upgrade),
        downgrade=blocks(downgrade),
        uses_id_type=any(_uses_id_type(op) for op in everything),
        uses_guard=any(isinstance(op, Guard) for op in everything),
        uses_adopt=any(isinstance(op, AdoptNames) for op in everything),
        baseline=baseline,
        takeover=takeover,
    )


def _uses_id_type(op: Operation) -> bool:
    if isinstance(op, CreateTable | DropTable):
        return op.definition.uses_id_type
    if isinstance(op, MoveLinkTable):
        return True
    return isinstance(op, AddColumn) and op.column.type == ID


def _wrap(text: str, indent: str = "") -> str:
    return "\n".join(
        textwrap.wrap(text, width=92, subsequent_indent=indent, break_on_hyphens=False)
    )


def _environment() -> jinja2.Environment:
    env = template_environment("evolve")
    env.filters["sqltext"] = lambda sql: python_text(sql.replace(":", "\\:"))
    env.filters["comment"] = lambda text: "\n".join(
        "    # " + line for line in textwrap.wrap(text, width=90, break_on_hyphens=False)
    )
    env.filters["docstring"] = lambda text: text.replace("\\", "\\\\").replace('"""', '\\"""')
    return env
