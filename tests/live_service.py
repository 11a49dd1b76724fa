"""A generated service running for real on loopback, for tests that talk to it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from backforge.verify.environment import ensure_env


@dataclass
class Live:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def project_python(project: Path) -> Path:
    return Path(ensure_env(project).python)


def run_in(project: Path, argv: list[str], environ: dict[str, str]) -> str:
    env = {**os.environ, **environ}
    done = subprocess.run(
        [str(project_python(project)), *argv],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@contextmanager
def serve(project: Path, package: str, environ: dict[str, str], log: Path) -> Iterator[Live]:
    """Start `python -m <package>.serve` on a free port; stop it (SIGTERM) afterwards."""
    port = free_port()
    env = {**os.environ, **environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_FORMAT": "json"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(project_python(project)), "-m", f"{package}.serve"],
            cwd=project,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    live = Live(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, live.log_text()
            try:
                if httpx.get(f"{live.url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, live.log_text()
            time.sleep(0.1)
        yield live
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
