"""The migration history of a project as Alembic reads it, in the project's environment: the
revision files are Python that only Alembic should interpret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backforge.errors import ProjectError
from backforge.verify.environment import ensure_env

# Defines alembic_history(): every revision as Alembic reads it, oldest first. Run in the
# project's directory and environment (verify's migration steps embed it too).
ALEMBIC_HISTORY = """
def alembic_history():
    import os
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(Config("alembic.ini"))
    found = []
    for script in scripts.walk_revisions():
        down = script.down_revision
        lines = (script.doc or "").strip().splitlines()
        found.append({
            "file": os.path.relpath(script.path).replace(os.sep, "/"),
            "revision": script.revision,
            "down_revision": list(down) if isinstance(down, tuple) else down,
            "message": lines[0] if lines else None,
        })
    return sorted(found, key=lambda entry: entry["file"])
"""


def alembic_history(project: Path) -> list[dict[str, Any]]:
    """Every revision of the project (file, revision, down_revision, message), oldest file first."""
    env = ensure_env(project)
    code = ALEMBIC_HISTORY + "\nimport json\nprint(json.dumps(alembic_history()))\n"
    done = env.run_python(project, "-c", code, timeout=120)
    if done.returncode != 0:
        raise ProjectError(
            f"Alembic could not read the migrations of {project}; fix the revision it names "
            "(`alembic history` there shows it) before regenerating:\n" + done.stderr[-2000:]
        )
    found: list[dict[str, Any]] = json.loads(done.stdout.splitlines()[-1])
    return found
