"""A ready virtual environment holding a generated project's pinned requirements, and the
process environment commands run with in it (``environment.ensure_env`` builds or finds it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DROPPED_VARIABLES = (  # never passed on to the project's processes
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
    "DATABASE_URL",
    "TEST_DATABASE_URL",
    "COVERAGE_FILE",
)


@dataclass(frozen=True)
class ProjectEnv:
    """A ready virtual environment holding the project's pinned requirements."""

    path: Path
    key: str
    reused: bool
    seconds: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.path / "bin" / name

    def environ(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment for commands run in this venv."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in DROPPED_VARIABLES and not k.startswith(("PYTEST_", "COV_CORE_"))
        }
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = f"{self.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        env["NO_COLOR"] = "1"
        for name in ("NO_PROXY", "no_proxy"):  # verify only talks to its own loopback servers
            env[name] = ",".join(filter(None, ["127.0.0.1,localhost", env.get(name)]))
        env.update(extra or {})
        return env

    def run_python(
        self, project: Path, *args: str, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """``python ARGS`` in the project's directory, with its package importable."""
        return subprocess.run(
            [str(self.python), *args],
            cwd=project,
            env=self.environ({"PYTHONPATH": str(project)}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def python_version(self) -> tuple[int, int]:
        """The venv's Python (major, minor), read from its lib/pythonX.Y directory."""
        for lib in sorted((self.path / "lib").glob("python*")):
            major, _, minor = lib.name.removeprefix("python").partition(".")
            if major.isdigit() and minor.isdigit():
                return int(major), int(minor)
        return sys.version_info[:2]

    def installed(self) -> set[str]:
        """Normalised names of the distributions installed in the venv."""
        names: set[str] = set()
        for site in (self.path / "lib").glob("python*/site-packages"):
            for info in site.glob("*.dist-info"):
                name = info.name[: -len(".dist-info")].rsplit("-", 1)[0]
                names.add(name.lower().replace("-", "_").replace(".", "_"))
        return names
