"""Scratch databases: a fresh SQLite file by default, or a throw-away PostgreSQL or MySQL /
MariaDB database on the server --database names."""

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
_MYSQL_SCHEMES = ("mysql", "mysql+asyncmy", "mariadb", "mariadb+asyncmy")

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


# The same for MySQL / MariaDB, with asyncmy; BF_ADMIN_DSN is a mysql://user:pass@host:port URL.
# Scratch databases use utf8mb4 with the binary collation: unique strings and equality filters
# compare exactly (as on PostgreSQL and SQLite), not case- and accent-insensitively.
MYSQL_ADMIN_SCRIPT = """
import asyncio, os, sys
from urllib.parse import unquote, urlsplit
import asyncmy

async def main(dsn: str, action: str, name: str) -> None:
    url = urlsplit(dsn)
    conn = await asyncmy.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 3306,
        user=unquote(url.username or "root"),
        password=unquote(url.password or ""),
    )
    try:
        async with conn.cursor() as cursor:
            if action == "create":
                await cursor.execute(
                    f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                )
            else:
                await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()

asyncio.run(main(os.environ["BF_ADMIN_DSN"], *sys.argv[1:]))
"""


class DatabaseUrlError(BackforgeError):
    """A --database-url verify cannot use."""

    exit_code = 2


def engine_of(database_url: str | None) -> str:
    """'sqlite' (the default), 'postgresql' or 'mysql' (MySQL or MariaDB); DatabaseUrlError
    for anything else."""
    if not database_url:
        return "sqlite"
    scheme = urlsplit(database_url).scheme
    if scheme in _PG_SCHEMES:
        return "postgresql"
    if scheme in _MYSQL_SCHEMES:
        return "mysql"
    if scheme.startswith("sqlite"):
        return "sqlite"
    raise DatabaseUrlError(
        f"unsupported database URL scheme {scheme!r}: "
        "use postgresql+asyncpg://…, mysql+asyncmy://… (MySQL or MariaDB), "
        "or none for a scratch SQLite file"
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
    if engine_of(ctx.database_url) == "mysql":
        script, admin_dsn = MYSQL_ADMIN_SCRIPT, urlunsplit(parts._replace(scheme="mysql"))
        url = urlunsplit(parts._replace(scheme="mysql+asyncmy", path=f"/{name}", query=""))
    else:
        script, admin_dsn = ADMIN_SCRIPT, urlunsplit(parts._replace(scheme="postgresql"))
        url = urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{name}"))
    _admin(ctx, script, admin_dsn, "create", name)
    try:
        yield url
    finally:
        _admin(ctx, script, admin_dsn, "drop", name)


def _admin(ctx: VerifyContext, script: str, dsn: str, action: str, name: str) -> None:
    env = ctx.need_env()
    done = run(
        [env.python, "-c", script, action, name],
        cwd=ctx.workdir,
        env=env.environ({"BF_ADMIN_DSN": dsn}),
        timeout=60,
    )
    if not done.ok:
        raise CheckError(f"could not {action} the scratch database {name}\n{done.describe(8)}")
