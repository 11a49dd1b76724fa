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
service/ORM ratio. The order of the sides rotates from round to round.

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
        [--no-rate-limit] [--orm] [--json OUT]

Without PROJECT it generates examples/bookstore.yaml into a temporary directory first. The
project must be a bookstore (it needs the book, author, tag and book_tags tables).
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

WRK_SCRIPT = """
local template, books, clients = "%s", %d, %d
math.randomseed(os.time())
request = function()
  local path = template:gsub("{id}", tostring(math.random(1, books)))
  local c = math.random(0, clients - 1)
  local client = string.format("10.%%d.%%d.%%d", math.floor(c / 65536) %% 256,
                               math.floor(c / 256) %% 256, c %% 256)
  return wrk.format("GET", path, {["X-Forwarded-For"] = client})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests":%%d,"duration_us":%%d,"non2xx":%%d,"socket_errors":%%d,' ..
    '"p50_us":%%d,"p95_us":%%d,"p99_us":%%d}\\n',
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


def generate(workdir: Path) -> Path:
    project = workdir / "bookstore-project"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "backforge",
            "generate",
            str(HERE.parent / "examples" / "bookstore.yaml"),
            "-o",
            str(project),
        ],
        check=True,
    )
    return project


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
    url: str,
    template: str,
    books: int,
    seconds: float,
    connections: int,
    scratch: Path,
    clients: int,
) -> dict[str, float]:
    script = scratch / "load.lua"
    script.write_text(WRK_SCRIPT % (template, books, clients))
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", nargs="?", type=Path)
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
        help="also load benchmarks/orm_app.py, the same reads as tutorials write them with "
        "FastAPI and the SQLAlchemy ORM, and print the service/ORM ratio",
    )
    parser.add_argument("--json", type=Path, help="also write the summary to this file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    try:
        server = SERVERS.get(engine_of(args.database))
    except DatabaseUrlError as error:
        raise SystemExit(f"--database: {error}") from None
    if server is None:
        raise SystemExit("--database: a postgresql://… or mysql://… server, not SQLite")

    cleanup = Cleanup()
    signal.signal(signal.SIGTERM, interrupt)
    scratch = Path(tempfile.mkdtemp(prefix="bf-bench-"))
    cleanup.call("scratch directory", lambda: shutil.rmtree(scratch, ignore_errors=True))
    try:
        project = (args.project or generate(scratch)).resolve()
        manifest = json.loads((project / ".backforge" / "manifest.json").read_text())
        package = manifest["package"]
        env = ensure_env(project)
        baseline_python = baseline_env(env, server.driver)

        parts = urlsplit(args.database)
        if server.driver == "asyncmy":  # as verify does: no query string on MySQL URLs
            parts = parts._replace(query="")
        admin_dsn = urlunsplit(parts._replace(scheme=server.admin_scheme))
        name = f"bench_{secrets.token_hex(5)}"
        admin(env, server.admin_script, admin_dsn, "create", name)
        cleanup.call(
            f"database {name}", lambda: admin(env, server.admin_script, admin_dsn, "drop", name)
        )
        dsn = urlunsplit(parts._replace(scheme=server.admin_scheme, path=f"/{name}"))
        app_url = urlunsplit(parts._replace(scheme=server.app_scheme, path=f"/{name}"))

        service_port, baseline_port = free_port(), free_port()
        environ = env.environ(
            {
                "DATABASE_URL": app_url,
                "ENVIRONMENT": "production",
                # production refuses to start without a cursor key and a guard on /metrics
                "CURSOR_SECRET": secrets.token_urlsafe(48),
                "METRICS_TOKEN": secrets.token_urlsafe(48),
                "LOG_LEVEL": "WARNING",
                "LOG_FORMAT": "json",
                "HOST": "127.0.0.1",
                "PORT": str(service_port),
                "RATE_LIMIT_ENABLED": "false" if args.no_rate_limit else "true",
            }
        )
        subprocess.run(
            [env.python, "-m", "alembic", "upgrade", "head"],
            cwd=project,
            env=environ,
            check=True,
            capture_output=True,
        )
        database = subprocess.run(
            [env.python, "-c", server.seed_script, str(args.books)],
            env=env.environ({"BF_DSN": dsn}),
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"database: {database} (scratch database {name})", flush=True)

        service_log, baseline_log = scratch / "service.log", scratch / "baseline.log"
        service = start(
            [env.python, "-m", f"{package}.serve"],
            project,
            environ,
            service_log,
            cleanup,
            "service",
        )
        baseline = start(
            [
                baseline_python,
                "-m",
                "uvicorn",
                f"{server.baseline}:app",
                "--app-dir",
                HERE,
                "--host",
                "127.0.0.1",
                "--port",
                baseline_port,
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            HERE,
            {"PATH": os.environ.get("PATH", ""), "BASELINE_DSN": dsn},
            baseline_log,
            cleanup,
            "baseline",
        )
        sides = {
            "service": f"http://127.0.0.1:{service_port}",
            "baseline": f"http://127.0.0.1:{baseline_port}",
        }
        wait_ready(sides["service"] + "/readyz", service, service_log)
        wait_ready(sides["baseline"] + "/api/v1/books/1", baseline, baseline_log)
        if args.orm:
            orm_port, orm_log = free_port(), scratch / "orm.log"
            orm = start(
                [
                    env.python,
                    "-m",
                    "uvicorn",
                    "orm_app:app",
                    "--app-dir",
                    HERE,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    orm_port,
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                HERE,
                env.environ({"ORM_DATABASE_URL": app_url}),
                orm_log,
                cleanup,
                "orm",
            )
            sides["orm"] = f"http://127.0.0.1:{orm_port}"
            wait_ready(sides["orm"] + "/readyz", orm, orm_log)

        for template in ENDPOINTS.values():  # warm-up: caches, pools, JIT-free Python
            for url in sides.values():
                wrk(url, template, args.books, 2, args.connections, scratch, args.clients)

        results: dict[str, dict[str, list[dict[str, float]]]] = {
            e: {s: [] for s in sides} for e in ENDPOINTS
        }
        for number in range(args.rounds):
            for endpoint, template in ENDPOINTS.items():
                order = list(sides)[number % len(sides) :] + list(sides)[: number % len(sides)]
                for side in order:
                    figures = wrk(
                        sides[side],
                        template,
                        args.books,
                        args.duration,
                        args.connections,
                        scratch,
                        args.clients,
                    )
                    results[endpoint][side].append(figures)
                    print(
                        f"round {number + 1} {endpoint:9} {side:8} "
                        f"{figures['rps']:8.0f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
                        f"p95 {figures['p95_ms']:6.1f} ms  p99 {figures['p99_ms']:6.1f} ms"
                        f"  errors {figures['errors']:.0f}",
                        flush=True,
                    )

        summary: dict[str, object] = {
            "database": database,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "books": args.books,
            "clients": args.clients,
            "rate_limit": not args.no_rate_limit,
            "endpoints": {},
        }
        print()
        for endpoint in ENDPOINTS:
            medians = {side: summarise(results[endpoint][side]) for side in sides}
            ratio = round(medians["service"]["rps"] / medians["baseline"]["rps"], 3)
            summary["endpoints"][endpoint] = {**medians, "ratio": ratio}  # type: ignore[index]
            for side in sides:
                m = medians[side]
                print(
                    f"median {endpoint:9} {side:8} {m['rps']:8.0f} req/s  "
                    f"p50 {m['p50_ms']:6.1f} ms  p95 {m['p95_ms']:6.1f} ms  "
                    f"p99 {m['p99_ms']:6.1f} ms"
                )
            print(f"ratio  {endpoint:9} service/baseline {ratio:.3f}")
            if "orm" in medians:
                over_orm = round(medians["service"]["rps"] / medians["orm"]["rps"], 3)
                summary["endpoints"][endpoint]["service_over_orm"] = over_orm  # type: ignore[index]
                print(f"ratio  {endpoint:9} service/orm      {over_orm:.3f}")
        print(json.dumps(summary))
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
        return 0
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
