"""Evolving a generated project whose spec changed.

``snapshot`` reads back the IR the project was generated from (``.backforge/ir.json``) and
derives the database schema it stands for; ``diff`` compares it with the new IR as typed steps
(``operations``, each destructive or not) and API changes (``api``, each breaking or not);
``migration`` writes the steps as the project's next Alembic revision (or, for a new project,
its first one). ``generate`` uses ``evolve()`` below to decide what a regeneration writes;
``backforge.plan`` shows all of it without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backforge.errors import ProjectError
from backforge.evolve.diff import Diff, diff, renames_in
from backforge.evolve.history import VERSIONS, Script, history_of, scripts_of
from backforge.evolve.migration import (
    Revision,
    existing_revisions,
    initial_revision,
    is_revision,
    render_revision,
)
from backforge.evolve.snapshot import ir_from_json
from backforge.ir import ServiceIR
from backforge.spec.model import ServiceSpec

IR_FILE = Path(".backforge") / "ir.json"
SPEC_FILE = Path(".backforge") / "spec.yaml"  # the spec the IR was built from

__all__ = [
    "Evolution",
    "destructive_refusal",
    "evolve",
    "existing_revisions",
    "initial_revision",
    "is_revision",
    "previous_ir",
    "refusal",
]


@dataclass
class Evolution:
    """What regenerating an existing project changes in its schema and API."""

    old: ServiceIR | None
    diff: Diff
    revision: Revision | None  # the new migration, when the database changes
    scripts: list[Script]  # the revisions the project already has (read once)


def previous_ir(project: Path) -> ServiceIR | None:
    path = project / IR_FILE
    if not path.is_file():
        return None
    spec = project / SPEC_FILE
    spec_text = spec.read_text(encoding="utf-8") if spec.is_file() else None
    return ir_from_json(path.read_text(encoding="utf-8"), spec_text)


def evolve(project: Path, ir: ServiceIR, spec: ServiceSpec, previous_hash: str | None) -> Evolution:
    """Compare the project's recorded IR with ``ir`` and render the revision that applies it."""
    old = previous_ir(project)
    scripts = scripts_of(project)
    if old is None:
        if previous_hash == ir.spec_hash:
            return Evolution(None, Diff([], [], []), None, scripts)
        raise ProjectError(
            f"{project} was generated from a different spec and has no {IR_FILE} to compare "
            "with, so the change cannot be migrated; generate into a new directory"
        )
    changes = diff(old, ir, renames_in(spec))
    revision = None
    if changes.operations and not changes.refusals:
        past = history_of(scripts, project / VERSIONS)
        revision = render_revision(past, ir, changes.operations, changes.reverse, changes.api)
    return Evolution(old, changes, revision, scripts)


def refusal(changes: Diff) -> str:
    """Why a regeneration writes nothing whatever the options."""
    return (
        "the spec change cannot be migrated:\n"
        + "\n".join(f"  - {message}" for message in changes.refusals)
        + "\nnothing was written"
    )


def destructive_refusal(changes: Diff) -> str:
    """Why a regeneration without --allow-destructive writes nothing."""
    lines = [f"  - {op.summary}: loses {op.loses}" for op in changes.destructive]
    return (
        "the spec change would lose data:\n"
        + "\n".join(lines)
        + "\nreview `backforge plan`, back up what you need, then pass --allow-destructive to "
        "apply it; nothing was written"
    )
