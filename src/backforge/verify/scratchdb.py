"""Scratch databases: a fresh SQLite file by default, or a throw-away PostgreSQL database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from backforge.errors import BackforgeError
from backforge.verify.context import VerifyContext
from backforge.verify.proc import run
from backforge.verify.result import CheckError

_PG_SCHEMES = ("postgresql", "postgresql+asyncpg", "postgres")

# Run as `python -c ADMIN_SCRIPT create|drop NAME` in an environment with asyncpg, with the
# server's admin DSN in BF_ADMIN_DSN.
ADMIN_SCRIPT = """
import asyncio, os, sys
import asyncpg

async def main(dsn: str, action: str, name: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        if action == "create":
            await conn.execute(f'CREATE DATABASE "{name}"')
        else:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()

asyncio.run(main(os.environ["BF_ADMIN_DSN"], *sys.argv[1:]))
"""


class DatabaseUrlError(BackforgeError):
    """A --database-url verify cannot use."""

    exit_code = 2


def engine_of(database_url: str | None) -> str:
    """'sqlite' (the default) or 'postgresql'; DatabaseUrlError for anything else."""
    if not database_url:
        return "sqlite"
    scheme = urlsplit(database_url).scheme
    if scheme in _PG_SCHEMES:
        return "postgresql"
    if scheme.startswith("sqlite"):
        return "sqlite"
    raise DatabaseUrlError(
        f"unsupported database URL scheme {scheme!r}: "
        "use postgresql+asyncpg://… (or none for a scratch SQLite file)"
    )


@contextmanager
def scratch_database(ctx: VerifyContext, label: str) -> Iterator[str]:
    """Yield the DATABASE_URL of a new, empty database that is removed afterwards."""
    if engine_of(ctx.database_url) == "sqlite":
        path = ctx.scratch(f"db-{label}") / f"{label}.db"
        path.unlink(missing_ok=True)
        yield f"sqlite+aiosqlite:///{path}"
        return
    assert ctx.database_url is not None
    parts = urlsplit(ctx.database_url)
    name = f"bf_verify_{secrets.token_hex(6)}"
    admin_dsn = urlunsplit(parts._replace(scheme="postgresql"))
    _admin(ctx, admin_dsn, "create", name)
    try:
        yield urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{name}"))
    finally:
        _admin(ctx, admin_dsn, "drop", name)


def _admin(ctx: VerifyContext, dsn: str, action: str, name: str) -> None:
    env = ctx.need_env()
    done = run(
        [env.python, "-c", ADMIN_SCRIPT, action, name],
        cwd=ctx.workdir,
        env=env.environ({"BF_ADMIN_DSN": dsn}),
        timeout=60,
    )
    if not done.ok:
        raise CheckError(f"could not {action} the scratch database {name}\n{done.describe(8)}")
