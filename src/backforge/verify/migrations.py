"""migrations: upgrade head, downgrade base, upgrade head again and `alembic check` on a scratch
database; the schema must be empty after the downgrade and models and migrations must agree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from backforge.verify.context import VerifyContext
from backforge.verify.environment import ProjectEnv
from backforge.verify.proc import run
from backforge.verify.result import Outcome
from backforge.verify.scratchdb import engine_of, scratch_database

STEPS = (
    ("upgrade_head", ("upgrade", "head")),
    ("downgrade_base", ("downgrade", "base")),
    ("upgrade_head_again", ("upgrade", "head")),
    ("check", ("check",)),
)

_TABLES = """
import asyncio, json, os
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

async def main() -> None:
    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    await engine.dispose()
    print(json.dumps(sorted(n for n in names if n != "alembic_version")))

asyncio.run(main())
"""

_REVISION = re.compile(r"^revision\b[^=]*=", re.MULTILINE)


def revisions(root: Path) -> list[Path]:
    """The migration scripts in migrations/versions, by file name."""
    versions = root / "migrations" / "versions"
    return sorted(p for p in versions.glob("*.py") if _REVISION.search(p.read_text("utf-8")))


def tables(env: ProjectEnv, root: Path, url: str) -> list[str] | None:
    """The application tables in the database at `url`, None when they cannot be listed."""
    environ = env.environ({"DATABASE_URL": url})
    done = run([env.python, "-c", _TABLES], cwd=root, env=environ, timeout=60)
    try:
        return list(json.loads(done.output.strip().splitlines()[-1])) if done.ok else None
    except (ValueError, IndexError):
        return None


def check(ctx: VerifyContext) -> Outcome:
    env = ctx.need_env()
    root = ctx.project.root
    figures: dict[str, Any] = {
        "revisions": len(revisions(root)),
        "database": engine_of(ctx.database_url),
    }
    problems: list[str] = []
    with scratch_database(ctx, "migrations") as url:
        environ = env.environ({"DATABASE_URL": url})
        for name, args in STEPS:
            done = run([env.python, "-m", "alembic", *args], cwd=root, env=environ, timeout=300)
            figures[name] = {"ok": done.ok, "seconds": round(done.seconds, 2)}
            if not done.ok:
                problems.append(f"alembic {' '.join(args)} failed\n{done.describe(15)}")
                break
            if name == "upgrade_head":
                figures["tables"] = len(tables(env, root, url) or [])
            elif name == "downgrade_base":
                left = tables(env, root, url)
                figures["tables_after_downgrade"] = None if left is None else len(left)
                if left:
                    problems.append(f"downgrade base left tables behind: {', '.join(left)}")
                    break
    if figures["revisions"] == 0:
        problems.append("no migration in migrations/versions")
    steps = sum(1 for name, _ in STEPS if figures.get(name, {}).get("ok"))
    headline = f"{figures['revisions']} revisions, {steps}/{len(STEPS)} steps ok"
    return Outcome(not problems, figures, headline, "\n".join(problems))
