"""Resilience: the service drains on SIGTERM and rides out its database going away.

SIGTERM while a request is in flight (its body still arriving) must let that request finish,
refuse new connections and end the process with status 0. On a network database (PostgreSQL)
the server reaches it through a proxy this check cuts: readiness must turn 503 within
READINESS_LIMIT seconds, API requests must get 503 problem+json without internals, and once the
proxy is restored the service must recover by itself. SQLite runs inside the server process and
cannot go away on its own, so there the outage part is reported as not simulated.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from backforge.report.facts import base_path
from backforge.verify import signin
from backforge.verify.context import VerifyContext
from backforge.verify.load import list_paths
from backforge.verify.proc import run
from backforge.verify.result import Outcome
from backforge.verify.scratchdb import engine_of, scratch_database
from backforge.verify.server import HOST, UNLIMITED, launch, wait_ready
from backforge.verify.tcpproxy import TcpProxy

READINESS_LIMIT = 2.0
RECOVERY_LIMIT = 30.0
DRAIN_LIMIT = 20.0
PROBLEM_JSON = "application/problem+json"


def check(ctx: VerifyContext) -> Outcome:
    env = ctx.need_env()
    engine = engine_of(ctx.database_url)
    url = ctx.stack.enter_context(scratch_database(ctx, "resilience"))
    migrate = run(
        [env.python, "-m", "alembic", "upgrade", "head"],
        cwd=ctx.project.root,
        env=env.environ({"DATABASE_URL": url}),
        timeout=300,
    )
    if not migrate.ok:
        return Outcome(False, {}, "not migrated", migrate.describe(15))
    project = ctx.project
    password = None  # the service checks accounts on every request: an admin of this database
    if signin.has_accounts(project.root, project.package):
        admin_environ = env.environ({"DATABASE_URL": url, **ctx.auth_environ})
        try:
            password = signin.bootstrap_admin(
                env.python, project.root, project.package, admin_environ
            )
        except RuntimeError as exc:
            return Outcome(False, {}, "no admin account", str(exc))
    figures: dict[str, Any] = {"database": engine}
    proxy = None
    if engine in ("postgresql", "mysql"):
        parts = urlsplit(url)
        default_port = 5432 if engine == "postgresql" else 3306
        proxy = TcpProxy((parts.hostname or HOST, parts.port or default_port))
        ctx.stack.callback(proxy.close)
        netloc = parts.netloc.rsplit("@", 1)[0] + f"@{HOST}:{proxy.start()}"
        url = urlunsplit(parts._replace(netloc=netloc))
    environ = {"DATABASE_URL": url, "DB_CONNECT_TIMEOUT": "1", **UNLIMITED, **ctx.auth_environ}
    server = launch(ctx, env.environ(environ), "resil")
    ctx.stack.callback(server.stop)
    problem = wait_ready(server, time.monotonic(), {})
    if problem:
        return Outcome(False, figures, "not ready", f"{problem}\n{server.log_tail()}")
    headers: dict[str, str] = {}
    if password is not None:
        token_path = base_path(project.manifest, project.openapi) + "/auth/token"
        try:
            headers = signin.sign_in(server.url, token_path, password)
        except httpx.HTTPError as exc:
            return Outcome(False, figures, "sign-in failed", f"{exc}\n{server.log_tail()}")
    collections = list_paths(project.openapi, base_path(project.manifest, project.openapi))
    problems: list[str] = []
    if proxy is None:
        figures["outage"] = "not simulated: SQLite runs inside the server process"
    elif collections:
        _outage(server.url, proxy, collections[0], figures, problems, headers)
    creates = _create_paths(project.openapi or {})
    _drain(server, creates[0] if creates else "/healthz", figures, problems)
    summary = f"drained in {figures.get('drain_seconds')} s, exit {figures.get('exit_code')}"
    if "readiness_flip_seconds" in figures:
        summary = (
            f"readiness 503 after {figures['readiness_flip_seconds']} s, recovered in "
            f"{figures.get('recovery_seconds')} s; " + summary
        )
    detail = "\n".join(problems)
    if problems:
        detail += "\n" + server.log_tail(15)
    return Outcome(not problems, figures, summary, detail.strip())


def _outage(
    url: str,
    proxy: TcpProxy,
    path: str,
    figures: dict[str, Any],
    problems: list[str],
    headers: dict[str, str] | None = None,
) -> None:
    """Cut the database away and back; as the verify admin when the service has accounts
    (its tokens are signed with the same key, so they hold on this server too)."""
    client = httpx.Client(base_url=url, timeout=5.0, trust_env=False, headers=headers)
    with client as http:
        cut = time.monotonic()
        proxy.cut()
        flip = _until(lambda: http.get("/readyz").status_code == 503, 10.0)
        figures["readiness_flip_seconds"] = None if flip is None else round(flip - cut, 3)
        if flip is None or flip - cut > READINESS_LIMIT:
            problems.append(
                f"/readyz did not answer 503 within {READINESS_LIMIT} s of the database outage"
            )
        during = http.get(path)
        figures["status_during_outage"] = during.status_code
        if during.status_code != 503 or not during.headers.get("content-type", "").startswith(
            PROBLEM_JSON
        ):
            problems.append(f"GET {path} during the outage answered {during.status_code}")
        if "Traceback" in during.text or "asyncpg" in during.text or "asyncmy" in during.text:
            problems.append(f"GET {path} during the outage leaked internals: {during.text[:200]}")
        restored = time.monotonic()
        proxy.restore()
        back = _until(
            lambda: http.get("/readyz").status_code == 200 and http.get(path).status_code == 200,
            RECOVERY_LIMIT,
        )
        figures["recovery_seconds"] = None if back is None else round(back - restored, 3)
        if back is None:
            problems.append(f"the service did not recover within {RECOVERY_LIMIT:.0f} s")


def _until(condition: Callable[[], bool], limit: float) -> float | None:
    """Poll ``condition`` every 50 ms; the time it first held, or None after ``limit`` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if condition():
                return time.monotonic()
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    return None


def _drain(server: Any, path: str, figures: dict[str, Any], problems: list[str]) -> None:
    """SIGTERM with a request in flight: it must finish, and nothing new may connect."""
    client = socket.create_connection((HOST, server.port), timeout=DRAIN_LIMIT)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n{"
    )
    client.sendall(head.encode())
    time.sleep(0.5)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    try:
        socket.create_connection((HOST, server.port), timeout=2).close()
        problems.append("the server still accepted new connections after SIGTERM")
    except OSError:
        figures["new_connections_refused"] = True
    client.sendall(b"}")
    response = b""
    try:
        while chunk := client.recv(65536):
            response += chunk
    except OSError as exc:
        problems.append(f"the in-flight request was cut off: {type(exc).__name__}")
    finally:
        client.close()
    status = int(response.split()[1]) if response.startswith(b"HTTP/1.1 ") else None
    figures["in_flight_status"] = status
    if status is None or status >= 500:
        problems.append(f"the in-flight request did not complete after SIGTERM: {response[:120]!r}")
    try:
        figures["exit_code"] = server.proc.wait(DRAIN_LIMIT)
    except Exception:
        figures["exit_code"] = None
        problems.append(f"the server did not exit within {DRAIN_LIMIT:.0f} s of SIGTERM")
        return
    figures["drain_seconds"] = round(time.monotonic() - signalled, 3)
    if figures["exit_code"] != 0:
        problems.append(f"the server exited with status {figures['exit_code']} after SIGTERM")


def _create_paths(openapi: dict[str, Any]) -> list[str]:
    return sorted(
        path
        for path, item in (openapi.get("paths") or {}).items()
        if "{" not in path and isinstance(item, dict) and "post" in item
    )
