"""Helpers for the evolution tests: run Alembic and SQL in a generated project's environment,
and scratch PostgreSQL databases named bf_evolve_<random>, dropped afterwards."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import tree_hash

from backforge.verify.environment import ProjectEnv, ensure_env
from backforge.verify.scratchdb import ADMIN_SCRIPT, MYSQL_ADMIN_SCRIPT

__all__ = ["Database", "mysql_database", "postgres_database", "scratch_database", "tree_hash"]

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
MYSQL = "mysql://root@127.0.0.1:3306"

_SQL = """
import asyncio, datetime, decimal, json, os, sys
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

async def main() -> None:
    engine = create_async_engine(os.environ["DATABASE_URL"])
    rows = []
    async with engine.begin() as conn:
        for statement in json.loads(sys.stdin.read()):
            result = await conn.execute(sa.text(statement))
            rows = [dict(r._mapping) for r in result] if result.returns_rows else []
    await engine.dispose()
    print(json.dumps(rows, default=str))

asyncio.run(main())
"""


@dataclass
class Database:
    """One database a project's migrations run against, through the project's environment."""

    project: Path
    url: str

    @property
    def env(self) -> ProjectEnv:
        return ensure_env(self.project)  # re-resolved: the requirements may change per version

    def alembic(self, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
        env = self.env
        started = time.monotonic()
        done = subprocess.run(
            [str(env.python), "-m", "alembic", *args],
            cwd=self.project,
            env=env.environ({"DATABASE_URL": self.url}),
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done, time.monotonic() - started

    def must(self, *args: str) -> float:
        done, seconds = self.alembic(*args)
        assert done.returncode == 0, f"alembic {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return seconds

    def sql(self, *statements: str) -> list[dict[str, Any]]:
        """Run the statements in one transaction; the rows of the last one."""
        env = self.env
        done = subprocess.run(
            [str(env.python), "-c", _SQL],
            input=json.dumps(list(statements)),
            cwd=self.project,
            env=env.environ({"DATABASE_URL": self.url}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        rows: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
        return rows


@contextmanager
def postgres_database(project: Path) -> Iterator[str]:
    """A new PostgreSQL database bf_evolve_<random> on 127.0.0.1, dropped afterwards."""
    name = f"bf_evolve_{secrets.token_hex(5)}"
    env = ensure_env(project)

    def admin(action: str) -> None:
        subprocess.run(
            [str(env.python), "-c", ADMIN_SCRIPT, action, name],
            env=env.environ({"BF_ADMIN_DSN": POSTGRES}),
            check=True,
            capture_output=True,
            timeout=60,
        )

    admin("create")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin("drop")


@contextmanager
def mysql_database(project: Path) -> Iterator[str]:
    """A new MariaDB / MySQL database bf_evolve_<random> on 127.0.0.1, dropped afterwards."""
    name = f"bf_evolve_{secrets.token_hex(5)}"
    env = ensure_env(project)

    def admin(action: str) -> None:
        subprocess.run(
            [str(env.python), "-c", MYSQL_ADMIN_SCRIPT, action, name],
            env=env.environ({"BF_ADMIN_DSN": MYSQL}),
            check=True,
            capture_output=True,
            timeout=60,
        )

    admin("create")
    try:
        yield f"mysql+asyncmy://root@127.0.0.1:3306/{name}"
    finally:
        admin("drop")


@contextmanager
def scratch_database(backend: str, project: Path, tmp_path: Path) -> Iterator[str]:
    """A database of its own for one test: a SQLite file in `tmp_path`, or a scratch database
    on the PostgreSQL (`postgresql`) or MariaDB (`mysql`) server, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / f'{project.name}.db'}"
    elif backend == "postgresql":
        with postgres_database(project) as url:
            yield url
    else:
        with mysql_database(project) as url:
            yield url
