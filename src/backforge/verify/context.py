"""What the checks of one verify run share."""

from __future__ import annotations

import secrets
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from backforge.contractfile import UserContract
from backforge.verify import LOAD_REQUESTS
from backforge.verify.proc import tail
from backforge.verify.project import Project
from backforge.verify.projectenv import ProjectEnv
from backforge.verify.result import CheckError, CheckResult


@dataclass
class VerifyContext:
    """The project, the options, a scratch directory and what earlier checks left behind."""

    project: Project
    workdir: Path
    stack: ExitStack
    database_url: str | None = None
    seed: int = 20261122
    fuzz_examples: int = 30
    load_requests: int = LOAD_REQUESTS
    contract: UserContract | None = None  # verify --contract FILE: the conformance check's
    results: dict[str, CheckResult] = field(default_factory=dict)
    env: ProjectEnv | None = None
    server_url: str | None = None
    server_log: Path | None = None
    auth_headers: dict[str, str] = field(default_factory=dict)  # an admin's, with accounts
    auth_environ: dict[str, str] = field(default_factory=dict)  # the key that signed them
    # The bearer token /metrics asks for: the server runs with METRICS_TOKEN set to it.
    metrics_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def need_env(self) -> ProjectEnv:
        if self.env is None:
            raise CheckError("the project environment is not ready")
        return self.env

    def need_server(self) -> str:
        if self.server_url is None:
            raise CheckError("the server is not running")
        return self.server_url

    def server_log_tail(self, lines: int = 20) -> str:
        """The end of the running server's log (stdout and stderr), for a failure's detail."""
        if self.server_log is None or not self.server_log.is_file():
            return ""
        text = self.server_log.read_text("utf-8", errors="replace")
        start = text.rfind("Traceback (most recent call last)")
        if start >= 0:  # the last error's traceback, without the access lines logged after it
            block = text[start:].splitlines()
            end = next((i for i, line in enumerate(block) if line.startswith("INFO:")), len(block))
            return "server log, last traceback:\n" + tail("\n".join(block[:end]), lines)
        return "server log (tail):\n" + tail(text, lines) if text.strip() else ""

    def scratch(self, name: str) -> Path:
        """A fresh directory for one check's files, removed with the rest of the run."""
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path
