"""Speed of a generated service's read path on PostgreSQL or MariaDB, against a raw baseline.

Creates a scratch database on the server --database names (PostgreSQL, or MySQL / MariaDB:
utf8mb4 with the binary collation, as verify makes them), migrates it with the project's own
migrations, inserts a few hundred books (with authors and tags), then starts side by side on
127.0.0.1:

- the generated service, as production runs it (`python -m <package>.serve`: one uvicorn worker,
  ENVIRONMENT=production, JSON logs at WARNING), in the project's pinned environment;
- a raw baseline (benchmarks/baseline_app.py: Starlette + asyncpg pool + orjson, one process,
  the same SQL statements; on MySQL / MariaDB its twin benchmarks/baseline_app_mysql.py over an
  asyncmy pool), served by the same uvicorn (with the project's uvloop and httptools, when it
  pins them), in a small venv of its own with the project's versions of those, starlette and
  the database's driver (orjson stays out of the generated project's pins).

With --orm, a third side: benchmarks/orm_app.py, the same two reads as the common FastAPI +
SQLAlchemy ORM tutorials write them (a session per request, `selectinload` for the tags,
Pydantic models read from the ORM objects), in the project's environment; the summary adds the
service/ORM ratio. With --cached, a fourth: the same spec with `api.cache: {ttl: 60s}`,
generated here, on the same database, with Redis as its L2 (--redis, under a key prefix of the
run's own, deleted at the end), warmed (every book by id and the page read once) before each of
its loads; the summary adds cached/baseline and cached/service. With --granian, the uncached
service again under Granian (benchmarks/granian_entry.py) instead of uvicorn: granian/service.
The order of the sides rotates from round to round.

Each request comes from one of --clients addresses (X-Forwarded-For, which the service trusts
from 127.0.0.1), as behind a load balancer: the rate limiter, on by default as in production,
then counts every request without refusing any (--no-rate-limit turns it off, to price it).
Both endpoints (GET one book by id, a random one each request; GET a page of books filtered by
status and sorted by price) are loaded with wrk (64 connections, fixed duration) in alternating
rounds, so that the noise of a shared machine hits both sides alike. Prints req/s and
p50/p95/p99 per round and their medians, the ratio service/baseline per endpoint, and a JSON
summary. Processes and the database are removed at the end, also on Ctrl-C. A benchmark, not a
test; wrk must be installed (`apt-get install wrk`), and wrk shares the cores with both servers.

    python benchmarks/read_path.py [PROJECT] [--database postgresql://postgres@127.0.0.1:5432/postgres
                                              | mysql://root@127.0.0.1:3306/x]
        [--rounds 3] [--duration 10] [--connections 64] [--books 500] [--clients 20000]
        [--no-rate-limit] [--orm] [--cached [--redis URL]] [--granian] [--spec YAML] [--json OUT]

Without PROJECT it generates --spec (examples/bookstore.yaml) into a temporary directory first.
The project must be a bookstore (it needs the book, author, tag and book_tags tables).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from backforge.verify.environment import ProjectEnv, ensure_env
from backforge.verify.scratchdb import (
    ADMIN_SCRIPT,
    MYSQL_ADMIN_SCRIPT,
    DatabaseUrlError,
    engine_of,
)
from backforge.verify.server import free_port

HERE = Path(__file__).resolve().parent
BOOKSTORE = HERE.parent / "examples" / "bookstore.yaml"
CACHE_TTL = "60s"
GRANIAN = "2.8.9"  # what --granian installs, beside the project's environment
BASELINE_VENV = Path.home() / ".cache" / "backforge" / "bench"
SHARED = ("starlette", "uvicorn", "uvloop", "httptools")  # those the project has, + the driver
ENDPOINTS = {
    "get_by_id": "/api/v1/books/{id}",
    "list": "/api/v1/books?status=published&sort=-price&limit=20",
}

SEED_SCRIPT = """
import asyncio, os, sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import asyncpg

async def main(books: int) -> None:
    conn = await asyncpg.connect(os.environ["BF_DSN"])
    now = datetime.now(UTC)
    try:
        await conn.copy_records_to_table("author", columns=[
            "id", "name", "bio", "born_on", "created_at", "updated_at", "version"],
            records=[(i, f"Author {i}", "A writer." * 20, None, now, now, 1)
                     for i in range(1, 51)])
        await conn.copy_records_to_table("tag", columns=[
            "id", "label", "created_at", "updated_at", "version"],
            records=[(i, f"tag-{i}", now, now, 1) for i in range(1, 11)])
        statuses = ("draft", "published", "retired")
        await conn.copy_records_to_table("book", columns=[
            "id", "title", "isbn", "price", "status", "published_at", "author_id",
            "created_at", "updated_at", "version"],
            records=[(i, f"Book number {i}", f"978{i:010d}", Decimal(i % 97) + Decimal("0.99"),
                      statuses[i % 3], now - timedelta(days=i), i % 50 + 1, now, now, 1)
                     for i in range(1, books + 1)])
        await conn.copy_records_to_table("book_tags", columns=["book_id", "tag_id"],
            records=[(i, t) for i in range(1, books + 1) for t in (i % 10 + 1, (i + 3) % 10 + 1)])
        for table in ("author", "tag", "book"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
        print("PostgreSQL", await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()

asyncio.run(main(int(sys.argv[1])))
"""

# The same rows on MySQL / MariaDB, with asyncmy (datetimes naive, in UTC, as the service stores
# them); AUTO_INCREMENT moves past the ids inserted by itself.
MYSQL_SEED_SCRIPT = """
import asyncio, os, sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import unquote, urlsplit
import asyncmy

async def insert(cursor, table, columns, records):
    marks = ", ".join(["%s"] * len(columns))
    await cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", records)

async def main(books: int) -> None:
    url = urlsplit(os.environ["BF_DSN"])
    conn = await asyncmy.connect(
        host=url.hostname or "127.0.0.1", port=url.port or 3306,
        user=unquote(url.username or "root"), password=unquote(url.password or ""),
        database=url.path.lstrip("/"), charset="utf8mb4", autocommit=True)
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        async with conn.cursor() as cursor:
            await insert(cursor, "author", [
                "id", "name", "bio", "born_on", "created_at", "updated_at", "version"],
                [(i, f"Author {i}", "A writer." * 20, None, now, now, 1) for i in range(1, 51)])
            await insert(cursor, "tag", ["id", "label", "created_at", "updated_at", "version"],
                [(i, f"tag-{i}", now, now, 1) for i in range(1, 11)])
            statuses = ("draft", "published", "retired")
            await insert(cursor, "book", [
                "id", "title", "isbn", "price", "status", "published_at", "author_id",
                "created_at", "updated_at", "version"],
                [(i, f"Book number {i}", f"978{i:010d}", Decimal(i % 97) + Decimal("0.99"),
                  statuses[i % 3], now - timedelta(days=i), i % 50 + 1, now, now, 1)
                 for i in range(1, books + 1)])
            await insert(cursor, "book_tags", ["book_id", "tag_id"],
                [(i, t) for i in range(1, books + 1) for t in (i % 10 + 1, (i + 3) % 10 + 1)])
            await cursor.execute("ANALYZE TABLE author, tag, book, book_tags")
            await cursor.fetchall()
            await cursor.execute("SELECT version()")
            (version,) = await cursor.fetchone()
        print("MariaDB" if "mariadb" in version.lower() else "MySQL", version)
    finally:
        conn.close()

asyncio.run(main(int(sys.argv[1])))
"""


@dataclass(frozen=True)
class Server:
    """What differs between database servers: how the scratch database is made and seeded, the
    URL schemes of its admin and of the service, and the baseline's driver and module."""

    admin_script: str
    seed_script: str
    admin_scheme: str
    app_scheme: str
    driver: str
    baseline: str


SERVERS = {  # by backforge.verify.scratchdb.engine_of
    "postgresql": Server(
        ADMIN_SCRIPT, SEED_SCRIPT, "postgresql", "postgresql+asyncpg", "asyncpg", "baseline_app"
    ),
    "mysql": Server(
        MYSQL_ADMIN_SCRIPT,
        MYSQL_SEED_SCRIPT,
        "mysql",
        "mysql+asyncmy",
        "asyncmy",
        "baseline_app_mysql",
    ),
}

# wrk's Lua: a `request` function per load (READ_REQUEST %-formatted with the path template,
# the number of books and of client addresses), then WRK_DONE, which prints the RESULT line.
READ_REQUEST = """
local template, books, clients = "%s", %d, %d
math.randomseed(os.time())
request = function()
  local path = template:gsub("{id}", tostring(math.random(1, books)))
  local c = math.random(0, clients - 1)
  local client = string.format("10.%%d.%%d.%%d", math.floor(c / 65536) %% 256,
                               math.floor(c / 256) %% 256, c %% 256)
  return wrk.format("GET", path, {["X-Forwarded-For"] = client})
end
"""
WRK_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,' ..
    '"p50_us":%d,"p95_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


class Cleanup:
    """Processes started and a database created here, undone in reverse order at the end."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, object]] = []

    def process(self, label: str, process: subprocess.Popen[bytes]) -> None:
        self.steps.append((label, process))

    def call(self, label: str, function: object) -> None:
        self.steps.append((label, function))

    def run(self) -> None:
        for _label, step in reversed(self.steps):
            try:
                if isinstance(step, subprocess.Popen):
                    stop(step)
                else:
                    step()  # type: ignore[operator]
            except Exception as exc:  # keep cleaning up
                print(f"cleanup: {_label}: {exc}", file=sys.stderr)
        self.steps.clear()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # its own session: the server and nothing else
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def generate(workdir: Path, spec: Path = BOOKSTORE, name: str = "bookstore-project") -> Path:
    project = workdir / name
    subprocess.run(
        [sys.executable, "-m", "backforge", "generate", str(spec), "-o", str(project)],
        check=True,
    )
    return project


def cached_spec(spec: Path, workdir: Path) -> Path:
    """A copy of the spec with `api.cache: {ttl: 60s}`: every resource read through the cache."""
    lines = spec.read_text().splitlines()
    if "api:" in lines:
        lines.insert(lines.index("api:") + 1, f"  cache: {{ttl: {CACHE_TTL}}}")
    else:
        lines += ["api:", f"  cache: {{ttl: {CACHE_TTL}}}"]
    copy = workdir / "cached.yaml"
    copy.write_text("\n".join(lines) + "\n")
    return copy


def baseline_env(project_env: ProjectEnv, driver: str) -> Path:
    """A venv with the project's versions of the server (uvicorn, with its event loop and HTTP
    parser), starlette and the database driver (asyncpg or asyncmy), and orjson."""
    versions = subprocess.run(
        [
            project_env.python,
            "-c",
            "import importlib.metadata as m; print(' '.join("
            f"f'{{n}}=={{m.version(n)}}' for n in {(*SHARED, driver)!r} "
            "if n in {d.metadata['Name'].lower() for d in m.distributions()}))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    venv = BASELINE_VENV / ("baseline-" + "-".join(v.replace("==", "") for v in versions))
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", *versions, "orjson"], check=True)
        (venv / ".ready").touch()
    return python


def admin(env: ProjectEnv, script: str, admin_dsn: str, action: str, name: str) -> None:
    subprocess.run(
        [env.python, "-c", script, action, name],
        env=env.environ({"BF_ADMIN_DSN": admin_dsn}),
        check=True,
        timeout=60,
    )


def start(
    command: list[object],
    cwd: Path,
    environ: dict[str, str],
    log: Path,
    cleanup: Cleanup,
    label: str,
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(part) for part in command],
            cwd=cwd,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cleanup.process(label, process)
    return process


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within 60 s:\n{log.read_text()[-3000:]}")


def wrk(
    url: str, script_text: str, seconds: float, connections: int, scratch: Path
) -> dict[str, float]:
    """One wrk run with a Lua script that ends by printing a RESULT line (WRK_DONE's)."""
    script = scratch / "load.lua"
    script.write_text(script_text)
    done = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{round(seconds)}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("RESULT "))
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["non2xx"] + raw["socket_errors"],
    }


def interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def summarise(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in rounds), 2) for key in rounds[0]}


@dataclass
class Bench:
    """What every side shares: the project, its environment and the scratch database."""

    args: argparse.Namespace
    server: Server
    scratch: Path
    cleanup: Cleanup
    project: Path
    package: str
    env: ProjectEnv
    dsn: str = ""  # the admin scheme (asyncpg / asyncmy), for the baseline and the seed
    app_url: str = ""  # SQLAlchemy's scheme, for the service and the ORM app
    database: str = ""  # the server's name and version


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("project", nargs="?", type=Path)
    parser.add_argument(
        "--spec",
        type=Path,
        default=BOOKSTORE,
        help="the spec generated when no PROJECT is given, and the one --cached derives from",
    )
    parser.add_argument(
        "--database",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="the PostgreSQL or MySQL / MariaDB server (e.g. mysql://root@127.0.0.1:3306/x) "
        "to make the scratch database on",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--books", type=int, default=500)
    parser.add_argument(
        "--clients",
        type=int,
        default=20000,
        help="client addresses the load comes from (X-Forwarded-For)",
    )
    parser.add_argument(
        "--no-rate-limit", action="store_true", help="run the service with RATE_LIMIT_ENABLED=false"
    )
    parser.add_argument(
        "--orm",
        action="store_true",
        help="also load benchmarks/orm_app.py, the same endpoints as tutorials write them with "
        "FastAPI and the SQLAlchemy ORM, and print the service/ORM ratio",
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help=f"also load the same project generated with api.cache {{ttl: {CACHE_TTL}}}, "
        "with Redis at --redis, and print the cached/baseline ratio",
    )
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/11",
        help="the cached side's REDIS_URL (its keys under a prefix of this run's own)",
    )
    parser.add_argument(
        "--granian",
        action="store_true",
        help=f"also run the generated service under Granian {GRANIAN} (benchmarks/"
        "granian_entry.py) and print the granian/service ratio (service: uvicorn)",
    )
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    return parser.parse_args(argv)


def prepare(args: argparse.Namespace, scratch: Path, cleanup: Cleanup) -> Bench:
    """The project (generated when not given) and its environment; a seeded scratch database."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    try:
        server = SERVERS.get(engine_of(args.database))
    except DatabaseUrlError as error:
        raise SystemExit(f"--database: {error}") from None
    if server is None:
        raise SystemExit("--database: a postgresql://… or mysql://… server, not SQLite")
    project = (args.project or generate(scratch, args.spec)).resolve()
    manifest = json.loads((project / ".backforge" / "manifest.json").read_text())
    bench = Bench(args, server, scratch, cleanup, project, manifest["package"], ensure_env(project))
    parts = urlsplit(args.database)
    if server.driver == "asyncmy":  # as verify does: no query string on MySQL URLs
        parts = parts._replace(query="")
    admin_dsn = urlunsplit(parts._replace(scheme=server.admin_scheme))
    name = f"bench_{secrets.token_hex(5)}"
    admin(bench.env, server.admin_script, admin_dsn, "create", name)
    cleanup.call(
        f"database {name}", lambda: admin(bench.env, server.admin_script, admin_dsn, "drop", name)
    )
    bench.dsn = urlunsplit(parts._replace(scheme=server.admin_scheme, path=f"/{name}"))
    bench.app_url = urlunsplit(parts._replace(scheme=server.app_scheme, path=f"/{name}"))
    subprocess.run(
        [bench.env.python, "-m", "alembic", "upgrade", "head"],
        cwd=project,
        env=service_environ(bench, bench.env, free_port()),
        check=True,
        capture_output=True,
    )
    bench.database = subprocess.run(
        [bench.env.python, "-c", server.seed_script, str(args.books)],
        env=bench.env.environ({"BF_DSN": bench.dsn}),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"database: {bench.database} (scratch database {name})", flush=True)
    return bench


def service_environ(
    bench: Bench, env: ProjectEnv, port: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The generated service as production runs it: ENVIRONMENT=production, JSON logs."""
    return env.environ(
        {
            "DATABASE_URL": bench.app_url,
            "ENVIRONMENT": "production",
            # production refuses to start without a cursor key and a guard on /metrics
            "CURSOR_SECRET": secrets.token_urlsafe(48),
            "METRICS_TOKEN": secrets.token_urlsafe(48),
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "json",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "RATE_LIMIT_ENABLED": "false" if bench.args.no_rate_limit else "true",
            **(extra or {}),
        }
    )


def uvicorn_command(python: object, app: str, port: int) -> list[object]:
    return [
        python,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        HERE,
        "--host",
        "127.0.0.1",
        "--port",
        port,
        "--log-level",
        "warning",
        "--no-access-log",
    ]


def launch(
    bench: Bench,
    label: str,
    command: list[object],
    cwd: Path,
    environ: dict[str, str],
    ready: str,
) -> str:
    """Starts one side on a port of its own, waits until `ready` answers; its base URL."""
    port = free_port()
    log = bench.scratch / f"{label}.log"
    process = start(
        [str(part).replace("{port}", str(port)) for part in command],
        cwd,
        {k: v.replace("{port}", str(port)) for k, v in environ.items()},
        log,
        bench.cleanup,
        label,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(url + ready, process, log)
    return url


def start_service(bench: Bench) -> str:
    environ = service_environ(bench, bench.env, 0, {"PORT": "{port}"})
    return launch(
        bench, "service", [bench.env.python, "-m", f"{bench.package}.serve"], bench.project,
        environ, "/readyz",
    )  # fmt: skip


def start_baseline(bench: Bench) -> str:
    python = baseline_env(bench.env, bench.server.driver)
    command = uvicorn_command(python, f"{bench.server.baseline}:app", "{port}")
    environ = {"PATH": os.environ.get("PATH", ""), "BASELINE_DSN": bench.dsn}
    return launch(bench, "baseline", command, HERE, environ, "/api/v1/books/1")


def start_orm(bench: Bench) -> str:
    command = uvicorn_command(bench.env.python, "orm_app:app", "{port}")
    environ = bench.env.environ({"ORM_DATABASE_URL": bench.app_url})
    return launch(bench, "orm", command, HERE, environ, "/readyz")


def start_cached(bench: Bench) -> str:
    """The same spec with api.cache, generated here, on the same database, with Redis as L2."""
    project = generate(bench.scratch, cached_spec(bench.args.spec, bench.scratch), "cached")
    env = ensure_env(project)
    prefix = f"bench_{secrets.token_hex(5)}"  # nothing else's keys: a prefix of this run's own
    extra = {
        "PORT": "{port}",
        "REDIS_URL": bench.args.redis,
        "CACHE_PREFIX": prefix,
        "RATE_LIMIT_PREFIX": prefix + "_limits",
    }
    bench.cleanup.call("redis keys", lambda: forget_keys(env, bench.args.redis, prefix))
    environ = service_environ(bench, env, 0, extra)
    command = [env.python, "-m", f"{bench.package}.serve"]
    return launch(bench, "cached", command, project, environ, "/readyz")


FORGET_SCRIPT = """
import sys, redis
client = redis.Redis.from_url(sys.argv[1])
for key in client.scan_iter(match=sys.argv[2] + "*", count=1000):
    client.delete(key)
"""


def forget_keys(env: ProjectEnv, url: str, prefix: str) -> None:
    subprocess.run([env.python, "-c", FORGET_SCRIPT, url, prefix], check=True, timeout=60)


def granian_path(env: ProjectEnv) -> Path:
    """Granian installed for the project's interpreter, beside (not in) its shared venv."""
    target = BASELINE_VENV / f"granian-{GRANIAN}-{Path(env.python).resolve().name}"
    if not (target / ".ready").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(
            [env.python, "-m", "pip", "install", "-q", "--target", target, f"granian=={GRANIAN}"],
            check=True,
        )
        (target / ".ready").touch()
    return target


def granian_command(python: object, port: str) -> list[object]:
    """One worker on one thread of uvloop, HTTP/1 only: as the service's uvicorn runs."""
    return [
        python, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", port,
        "--workers", "1", "--runtime-threads", "1", "--loop", "uvloop", "--http", "1",
        "--no-ws", "--log-level", "warning", "granian_entry:app",
    ]  # fmt: skip


def start_granian(bench: Bench) -> str:
    """The generated service (the uncached project) served by Granian instead of uvicorn."""
    path = granian_path(bench.env)
    extra = {"PORT": "{port}", "BENCH_APP": f"{bench.package}.main:app"}
    environ = service_environ(bench, bench.env, 0, extra)
    environ["PYTHONPATH"] = os.pathsep.join([str(path), str(HERE), str(bench.project)])
    command = granian_command(bench.env.python, "{port}")
    return launch(bench, "granian", command, bench.project, environ, "/readyz")


def client_header(number: int) -> dict[str, str]:
    """An X-Forwarded-For address of its own, outside the range the load comes from."""
    return {"X-Forwarded-For": f"10.255.{number // 256 % 256}.{number % 256}"}


def warm(url: str, books: int) -> None:
    """Every book by id and the page once, so that the cached side's rounds start warm."""
    paths = [ENDPOINTS["get_by_id"].format(id=i) for i in range(1, books + 1)]
    for number, path in enumerate([*paths, ENDPOINTS["list"]]):
        request = urllib.request.Request(url + path, headers=client_header(number))
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


Load = dict[str, Callable[[str], str]]  # endpoint → (side's url → wrk Lua script)


def read_loads(args: argparse.Namespace) -> Load:
    return {
        endpoint: lambda _url, t=template: READ_REQUEST % (t, args.books, args.clients) + WRK_DONE
        for endpoint, template in ENDPOINTS.items()
    }


def measure(
    args: argparse.Namespace,
    sides: dict[str, str],
    loads: Load,
    scratch: Path,
    before: dict[str, Callable[[str], None]] | None = None,
) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Alternating rounds: every endpoint on every side per round, the order rotating; `before`
    runs for a side before each of its loads (the cached side's warm-up)."""
    before = before or {}
    for script in loads.values():  # warm-up: caches, pools, JIT-free Python
        for side, url in sides.items():
            before.get(side, lambda _url: None)(url)
            wrk(url, script(url), 2, args.connections, scratch)
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        e: {s: [] for s in sides} for e in loads
    }
    for number in range(args.rounds):
        for endpoint, script in loads.items():
            order = list(sides)[number % len(sides) :] + list(sides)[: number % len(sides)]
            for side in order:
                before.get(side, lambda _url: None)(sides[side])
                figures = wrk(sides[side], script(sides[side]), args.duration, args.connections,
                              scratch)  # fmt: skip
                results[endpoint][side].append(figures)
                if figures["errors"]:
                    complain(scratch / f"{side}.log", side)
                print(
                    f"round {number + 1} {endpoint:9} {side:8} "
                    f"{figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
                    f"p95 {figures['p95_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms"
                    f"  errors {figures['errors']:.0f}",
                    flush=True,
                )
    return results


def complain(log: Path, side: str) -> None:
    """The end of a side's log when wrk counted errors (non-2xx answers or socket errors)."""
    tail = log.read_text(errors="replace")[-1500:] if log.exists() else "(no log)"
    print(f"--- {side} answered with errors; the end of its log:\n{tail}\n---", flush=True)


RATIOS = (  # (label, numerator side, denominator side), printed when both sides ran
    ("service/baseline", "service", "baseline"),
    ("service/orm", "service", "orm"),
    ("cached/baseline", "cached", "baseline"),
    ("cached/service", "cached", "service"),
    ("granian/service", "granian", "service"),
    ("granian/baseline", "granian", "baseline"),
)


def report(
    bench: Bench, sides: dict[str, str], results: dict[str, dict[str, list[dict[str, float]]]]
) -> dict[str, object]:
    """Prints the medians and ratios per endpoint; the JSON summary."""
    args = bench.args
    endpoints: dict[str, dict[str, object]] = {}
    summary: dict[str, object] = {
        "database": bench.database,
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "books": args.books,
        "clients": args.clients,
        "rate_limit": not args.no_rate_limit,
        "endpoints": endpoints,
    }
    print()
    for endpoint, by_side in results.items():
        medians = {side: summarise(by_side[side]) for side in sides}
        endpoints[endpoint] = dict(medians)
        for side, m in medians.items():
            print(
                f"median {endpoint:9} {side:8} {m['rps']:8.0f} req/s  "
                f"p50 {m['p50_ms']:6.1f} ms  p95 {m['p95_ms']:6.1f} ms  "
                f"p99 {m['p99_ms']:6.1f} ms"
            )
        for label, top, bottom in RATIOS:
            if top in medians and bottom in medians:
                ratio = round(medians[top]["rps"] / medians[bottom]["rps"], 3)
                endpoints[endpoint][label] = ratio
                print(f"ratio  {endpoint:9} {label:16} {ratio:.3f}")
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def run(
    description: str,
    sides_of: Callable[[Bench], dict[str, str]],
    loads_of: Callable[[Bench], Load],
    before_of: Callable[[Bench], dict[str, Callable[[str], None]]] = lambda _bench: {},
) -> int:
    """The frame of a benchmark: prepare, start the sides, measure, report, clean up."""
    args = parse_args(description)
    cleanup = Cleanup()
    signal.signal(signal.SIGTERM, interrupt)
    scratch = Path(tempfile.mkdtemp(prefix="bf-bench-"))
    cleanup.call("scratch directory", lambda: shutil.rmtree(scratch, ignore_errors=True))
    try:
        bench = prepare(args, scratch, cleanup)
        sides = sides_of(bench)
        results = measure(args, sides, loads_of(bench), scratch, before_of(bench))
        report(bench, sides, results)
        return 0
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        cleanup.run()


def read_sides(bench: Bench) -> dict[str, str]:
    sides = {"service": start_service(bench), "baseline": start_baseline(bench)}
    if bench.args.orm:
        sides["orm"] = start_orm(bench)
    if bench.args.cached:
        sides["cached"] = start_cached(bench)
    if bench.args.granian:
        sides["granian"] = start_granian(bench)
    return sides


def main() -> int:
    return run(
        __doc__.split("\n\n")[0],
        read_sides,
        lambda bench: read_loads(bench.args),
        lambda bench: {"cached": lambda url: warm(url, bench.args.books)},
    )


if __name__ == "__main__":
    sys.exit(main())
