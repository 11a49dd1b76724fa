"""The migration history of a project: its revisions, how they chain, and which one is the head.

backforge records every revision it writes in the project's manifest (``migrations``: file,
revision, down_revision, message). A revision file the record does not name (one written by hand
with ``alembic revision``, or a project generated before the record existed) is read by Alembic
itself, in the project's environment (``verify.alembic``): backforge never parses the text
of a revision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backforge.errors import ProjectError
from backforge.verify.alembic import alembic_history
from backforge.verify.project import MANIFEST

VERSIONS = Path("migrations") / "versions"


@dataclass(frozen=True)
class Script:
    """One revision: its file (relative to the project), id and the revisions it follows."""

    file: str
    revision: str
    down_revisions: tuple[str, ...]
    message: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Script:
        down = data.get("down_revision")
        downs = tuple(down) if isinstance(down, list | tuple) else (down,) if down else ()
        return cls(str(data["file"]), str(data["revision"]), downs, data.get("message"))

    def as_dict(self) -> dict[str, Any]:
        down: str | list[str] | None = list(self.down_revisions) or None
        if len(self.down_revisions) == 1:
            down = self.down_revisions[0]
        return {
            "file": self.file,
            "revision": self.revision,
            "down_revision": down,
            "message": self.message,
        }


@dataclass(frozen=True)
class History:
    """The revisions already in a project."""

    scripts: tuple[Script, ...]
    head: str | None
    next_number: int


def number_of(name: str) -> int | None:
    """The number a revision file or id starts with (``0003_add_tag.py`` → 3), if any."""
    digits = name.split("_", 1)[0]
    return int(digits) if digits.isdigit() else None


def history_of(scripts: Iterable[Script], where: Path) -> History:
    """Head and next number of these revisions; ProjectError unless they have one head."""
    scripts = tuple(sorted(scripts, key=lambda s: s.file))
    if not scripts:
        raise ProjectError(
            f"{where} holds no migration revision, so the database schema of this project is "
            "unknown; restore the revisions (e.g. from version control) first"
        )
    followed = {down for s in scripts for down in s.down_revisions}
    heads = sorted({s.revision for s in scripts} - followed)
    if len(heads) != 1:
        raise ProjectError(
            f"the migrations in {where} have {len(heads)} heads ({', '.join(heads) or 'a cycle'}); "
            "merge them (`alembic merge heads`) before regenerating"
        )
    numbers = [number_of(Path(s.file).name) for s in scripts] + [
        number_of(s.revision + "_") for s in scripts
    ]
    return History(scripts, heads[0], max((n for n in numbers if n is not None), default=0) + 1)


def recorded(project: Path) -> list[Script] | None:
    """The revisions the manifest records whose files are still there; None when some revision
    file is not recorded (or the manifest records none), so that only Alembic can say."""
    try:
        manifest = json.loads((project / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    entries = manifest.get("migrations") if isinstance(manifest, dict) else None
    if not isinstance(entries, list):
        return None
    scripts = [Script.from_dict(e) for e in entries if (project / e["file"]).is_file()]
    files = {s.file for s in scripts}
    versions = project / VERSIONS
    on_disk = {
        p.relative_to(project).as_posix()
        for p in (versions.glob("*.py") if versions.is_dir() else [])
        if p.name != "__init__.py"
    }
    return scripts if on_disk <= files else None


def scripts_of(project: Path) -> list[Script]:
    """The project's revisions: from the manifest's record, else from Alembic."""
    known = recorded(project)
    return known if known is not None else [Script.from_dict(e) for e in alembic_history(project)]


def history(project: Path) -> History:
    return history_of(scripts_of(project), project / VERSIONS)
