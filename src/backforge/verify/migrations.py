"""migrations: upgrade head, downgrade base, upgrade head again and `alembic check` on a scratch
database; the schema must be empty after the downgrade and models and migrations must agree.

The steps run as Alembic's own commands (what the `alembic` CLI calls) in one process of the
project's environment, the tables listed after the first upgrade and after the downgrade: one
interpreter start instead of six. Each step reports a JSON line; the first that fails ends the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backforge.verify.alembic import ALEMBIC_HISTORY
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
LISTED = ("upgrade_head", "downgrade_base")  # steps after which the tables are listed

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

# python -c _STEPS '<json [[name, command, args...], ...]>' '<json [names to list tables after]>'
_STEPS = """
import asyncio, json, os, sys, time, traceback
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

async def tables() -> list[str]:
    engine = create_async_engine(os.environ["DATABASE_URL"])
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    await engine.dispose()
    return sorted(n for n in names if n != "alembic_version")

listed = json.loads(sys.argv[2])
try:
    print("\\nBF-HISTORY " + json.dumps(alembic_history()), flush=True)
except Exception as exc:
    print(f"\\nBF-HISTORY-ERROR {type(exc).__name__}: {exc}", flush=True)
for name, action, *args in json.loads(sys.argv[1]):
    started = time.monotonic()
    record = {"step": name, "ok": True, "error": ""}
    try:
        getattr(command, action)(Config("alembic.ini"), *args)
        if name in listed:
            record["tables"] = asyncio.run(tables())
    except Exception as exc:
        record.update(ok=False, error=f"{traceback.format_exc()}\\n{type(exc).__name__}: {exc}")
    record["seconds"] = round(time.monotonic() - started, 2)
    print("\\nBF-STEP " + json.dumps(record), flush=True)
    if not record["ok"]:
        break
"""


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
    figures: dict[str, Any] = {"revisions": 0, "database": engine_of(ctx.database_url)}
    problems: list[str] = []
    steps = json.dumps([[name, *args] for name, args in STEPS])
    with scratch_database(ctx, "migrations") as url:
        environ = env.environ({"DATABASE_URL": url})
        argv = [env.python, "-c", ALEMBIC_HISTORY + _STEPS, steps, json.dumps(LISTED)]
        done = run(argv, cwd=root, env=environ, timeout=600)
    history = history_record(done.output)
    if history is not None:
        figures["revisions"] = len(history)
        figures["history"] = history
    records = step_records(done.output)
    for name, args in STEPS:
        record = records.get(name)
        if record is None:
            if not problems:  # the process ended before reporting this step
                problems.append(f"alembic {' '.join(args)} did not run\n{done.describe(15)}")
            break
        figures[name] = {"ok": record["ok"], "seconds": record["seconds"]}
        if not record["ok"]:
            error = "\n".join(str(record["error"]).strip().splitlines()[-15:])
            problems.append(f"alembic {' '.join(args)} failed\n{error}")
            break
        if name == "upgrade_head":
            figures["tables"] = len(record.get("tables") or [])
        elif name == "downgrade_base":
            left = record.get("tables")
            figures["tables_after_downgrade"] = None if left is None else len(left)
            if left:
                problems.append(f"downgrade base left tables behind: {', '.join(left)}")
                break
    if history is None:
        why = [line for line in done.output.splitlines() if line.startswith("BF-HISTORY-ERROR")]
        problems.insert(
            0,
            "Alembic could not read the revisions in migrations/versions"
            + (f": {why[0][len('BF-HISTORY-ERROR ') :]}" if why else ""),
        )
    elif not history:
        problems.append("no migration in migrations/versions")
    ok_steps = sum(1 for name, _ in STEPS if figures.get(name, {}).get("ok"))
    headline = f"{figures['revisions']} revisions, {ok_steps}/{len(STEPS)} steps ok"
    return Outcome(not problems, figures, headline, "\n".join(problems))


def history_record(output: str) -> list[dict[str, Any]] | None:
    """The revisions Alembic read (the BF-HISTORY line), None when it could not read them."""
    for line in output.splitlines():
        if line.startswith("BF-HISTORY "):
            try:
                found = json.loads(line[len("BF-HISTORY ") :])
            except ValueError:
                return None
            return list(found) if isinstance(found, list) else None
    return None


def step_records(output: str) -> dict[str, dict[str, Any]]:
    """The BF-STEP lines the step runner printed, by step name."""
    records: dict[str, dict[str, Any]] = {}
    for line in output.splitlines():
        if line.startswith("BF-STEP "):
            try:
                record = json.loads(line[len("BF-STEP ") :])
            except ValueError:
                continue
            records[str(record.get("step"))] = record
    return records
