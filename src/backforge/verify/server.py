"""server: the real server process (uvicorn, or Granian with `service.server: granian`: whatever
the project's serve.py runs) on a migrated scratch database, up until verify ends.

It must answer GET /healthz and GET /readyz with 200 within STARTUP_LIMIT seconds. The contract and
load checks use it; it is stopped with SIGTERM (SIGKILL after STOP_LIMIT seconds) at the end of the
run, and how it stopped is added to this check's figures.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from backforge.report.facts import base_path
from backforge.verify import signin
from backforge.verify.context import VerifyContext
from backforge.verify.proc import kill_group, run, tail
from backforge.verify.result import Outcome
from backforge.verify.scratchdb import engine_of, scratch_database

HOST = "127.0.0.1"
# The contract fuzzer, the load run and the resilience probes send bursts from one address:
# verify turns the service's rate limits off for them, explicitly (tests/test_transport.py in the
# generated test suite checks the limits themselves).
UNLIMITED = {"RATE_LIMIT_ENABLED": "false"}
# The fuzzer registers webhook subscribers with made-up URLs: with this allowlist of a name that
# cannot exist, every one is refused before any DNS lookup, and nothing is ever sent.
NO_WEBHOOK_TARGETS = {"WEBHOOK_ALLOWED_HOSTS": "verify.invalid"}
RATE_LIMITS_NOTE = "off (RATE_LIMIT_ENABLED=false) for contract, load and resilience runs"
STARTUP_LIMIT = 30.0
STOP_LIMIT = 15.0


@dataclass
class RunningServer:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    port: int = 0

    def log_tail(self, lines: int = 25) -> str:
        try:
            return tail(self.log.read_text("utf-8", errors="replace"), lines)
        except OSError:
            return ""

    def stop(self) -> dict[str, Any]:
        """SIGTERM, then SIGKILL if it lingers; how long it took and how it ended."""
        started = time.monotonic()
        stopped_by = "exited"
        if self.proc.poll() is None:
            stopped_by = "SIGTERM"
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_LIMIT)
            except subprocess.TimeoutExpired:
                stopped_by = "SIGKILL"
                kill_group(self.proc)
                self.proc.wait()
        return {
            "stop_seconds": round(time.monotonic() - started, 3),
            "stopped_by": stopped_by,
            "exit_code": self.proc.returncode,
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def check(ctx: VerifyContext) -> Outcome:
    env = ctx.need_env()
    root = ctx.project.root
    url = ctx.stack.enter_context(scratch_database(ctx, "server"))
    package = ctx.project.package
    if not ctx.auth_environ:  # verify_project makes it up front, for the resilience run too
        ctx.auth_environ = signin.auth_environ(root, package)
    metrics = {"METRICS_TOKEN": ctx.metrics_token}
    environ = env.environ(
        {"DATABASE_URL": url, **UNLIMITED, **NO_WEBHOOK_TARGETS, **ctx.auth_environ, **metrics}
    )
    figures: dict[str, Any] = {
        "database": engine_of(ctx.database_url),
        "http_server": http_server(root),
        "rate_limits": RATE_LIMITS_NOTE,
    }
    migrate = run(
        [env.python, "-m", "alembic", "upgrade", "head"], cwd=root, env=environ, timeout=300
    )
    if not migrate.ok:
        detail = f"alembic upgrade head failed\n{migrate.describe(15)}"
        return Outcome(False, figures, "not migrated", detail)
    password = None
    if signin.has_accounts(root, package):
        try:
            password = signin.bootstrap_admin(env.python, root, package, environ)
        except RuntimeError as exc:
            return Outcome(False, figures, "no admin account", str(exc))
    started = time.monotonic()
    server = launch(ctx, environ, "server")
    log = server.log
    ctx.server_log = log
    ctx.stack.callback(_stop, ctx, server)
    figures["port"] = server.port
    problem = wait_ready(server, started, figures)
    if problem:
        return Outcome(False, figures, "not ready", f"{problem}\n{server.log_tail()}".strip())
    ctx.server_url = server.url
    if password is not None:
        token_path = base_path(ctx.project.manifest, ctx.project.openapi) + "/auth/token"
        try:
            ctx.auth_headers = signin.sign_in(server.url, token_path, password)
        except httpx.HTTPError as exc:
            return Outcome(False, figures, "admin cannot sign in", f"{exc}\n{server.log_tail()}")
        figures["signed_in_as"] = signin.ADMIN_EMAIL
    return Outcome(True, figures, f"ready in {figures['startup_seconds']} s")


def http_server(root: Path) -> str:
    """What the project's serve.py runs: "granian" when it pins Granian, else "uvicorn"."""
    try:
        text = (root / "requirements.txt").read_text("utf-8")
    except OSError:
        return "uvicorn"
    pinned = any(line.startswith("granian==") for line in text.splitlines())
    return "granian" if pinned else "uvicorn"


def launch(ctx: VerifyContext, environ: dict[str, str], label: str) -> RunningServer:
    """Start the project's server on a free loopback port, its output in a log file.

    It runs through the project's own entrypoint (`python -m <package>.serve`, graceful on
    SIGTERM) when the project has one, else plain uvicorn; logs are JSON lines either way.
    """
    env = ctx.need_env()
    root = ctx.project.root
    port = free_port()
    log = ctx.scratch(label) / "server.log"
    package = ctx.project.package
    if (root / package / "serve.py").is_file():
        argv = [str(env.python), "-m", f"{package}.serve"]
    else:
        app = f"{package}.main:app"
        argv = [str(env.python), "-m", "uvicorn", app, "--host", HOST, "--port", str(port)]
    environ = {**environ, "HOST": HOST, "PORT": str(port), "LOG_FORMAT": "json"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=root,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return RunningServer(proc, f"http://{HOST}:{port}", log, port)


def wait_ready(server: RunningServer, started: float, figures: dict[str, Any]) -> str:
    """Poll /healthz, then /readyz, until both answer 200; an empty string when they did."""
    deadline = started + STARTUP_LIMIT
    last = "no answer"
    with httpx.Client(base_url=server.url, timeout=2.0, trust_env=False) as client:
        for probe in ("/healthz", "/readyz"):
            while True:
                code = server.proc.poll()
                if code is not None:
                    return f"the server exited with code {code} during startup"
                try:
                    response = client.get(probe)
                    if response.status_code == 200:
                        break
                    last = f"{probe} answered {response.status_code}"
                except httpx.TransportError as exc:
                    last = f"{probe}: {type(exc).__name__}"
                if time.monotonic() > deadline:
                    return f"not ready after {STARTUP_LIMIT:.0f} s: {last}"
                time.sleep(0.1)
            key = probe.strip("/") + "_seconds"
            figures[key] = round(time.monotonic() - started, 3)
    figures["startup_seconds"] = figures["readyz_seconds"]
    return ""


def _stop(ctx: VerifyContext, server: RunningServer) -> None:
    figures = server.stop()
    ctx.server_url = None
    result = ctx.results.get("server")
    if result is not None:
        result.figures.update(figures)
