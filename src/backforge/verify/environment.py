"""The project's own pinned environment: one venv per distinct set of requirements, shared.

The venv lives under $BACKFORGE_ENV_DIR (default ~/.cache/backforge/envs) at <hash16>, the first 16
hex digits of the sha256 of requirements.txt + requirements-dev.txt (and the Python minor version).
It is built on the newest Python >= 3.12 found (python3.14, python3.13, python3.12 on PATH or
installed by pyenv under $PYENV_ROOT/versions) that the project's requires-python admits, else on
the Python running backforge; $BACKFORGE_PYTHON names one explicitly. Newer is faster where it
counts: from 3.12 coverage measures through sys.monitoring (COVERAGE_CORE=sysmon), which halves
the time of a generated test suite.
Building is serialised by an fcntl lock on <hash16>.lock; the venv is built in a directory of its
own and published by atomically renaming a symlink onto <hash16>, so a reader never sees half an
environment. (A venv cannot be renamed itself: its scripts name their interpreter by absolute path.)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from backforge.verify.context import VerifyContext
from backforge.verify.proc import run
from backforge.verify.project import REQUIREMENTS
from backforge.verify.projectenv import DROPPED_VARIABLES, ProjectEnv
from backforge.verify.result import CheckError, Outcome

__all__ = ["ProjectEnv", "check", "ensure_env"]

MARKER = ".backforge-env.json"
PREFERRED = ("python3.14", "python3.13", "python3.12")
TOOLS = ("pytest", "coverage", "ruff", "schemathesis", "uvicorn", "alembic")
# Pins a project adds by choice (`service.server: granian`) without a venv of its own: they are
# left out of the key, so the project shares the venv of the same pins without them, and
# `ensure_env` installs them into that venv when it lacks them (harmless to the projects that do
# not import them). A venv built from such a project has them from the start.
ADDED_PINS = b"granian=="


def env_root() -> Path:
    configured = os.environ.get("BACKFORGE_ENV_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "backforge" / "envs"


@dataclass(frozen=True)
class Interpreter:
    """A Python to build a project environment on."""

    executable: str
    version: tuple[int, int]


@cache
def _probe(executable: str) -> Interpreter | None:
    """The interpreter's real path and version, None when it does not run."""
    code = "import sys; print(sys.executable); print(*sys.version_info[:2])"
    try:
        done = subprocess.run(
            [executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
        )
        path, version = done.stdout.strip().splitlines()[-2:]
        major, minor = version.split()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return Interpreter(path, (int(major), int(minor)))


def _minimum_python(project_root: Path) -> tuple[int, int]:
    """The lowest Python the project's `requires-python` admits ((3, 11) if unstated)."""
    try:
        with (project_root / "pyproject.toml").open("rb") as handle:
            project = tomllib.load(handle).get("project") or {}
        allowed = SpecifierSet(str(project.get("requires-python") or ""))
    except (OSError, tomllib.TOMLDecodeError, InvalidSpecifier):
        return (3, 11)
    for bound in allowed:
        if bound.operator in (">=", "~=", "=="):
            release = Version(bound.version.removesuffix(".*")).release
            return release[0], release[1] if len(release) > 1 else 0
    return (3, 11)


def interpreter(project_root: Path) -> Interpreter:
    """The Python the project's environment is built on (see the module docstring)."""
    current = Interpreter(sys.executable, (sys.version_info.major, sys.version_info.minor))
    explicit = os.environ.get("BACKFORGE_PYTHON")
    if explicit:
        found = _probe(explicit)
        if found is None:
            raise CheckError(f"BACKFORGE_PYTHON={explicit} does not run")
        return found
    minimum = max(_minimum_python(project_root), (3, 12))
    for name in PREFERRED:
        for path in _candidates(name):
            found = _probe(path)
            if found is not None and found.version >= minimum:
                return found
    return current


def _candidates(name: str) -> list[str]:
    """Executables called `name`: on PATH, then pyenv's (whose shims may refuse to run them)."""
    found = [path] if (path := shutil.which(name)) else []
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found += [str(p) for p in sorted(pyenv.glob(f"*/bin/{name}"), reverse=True)]
    return found


def _shared_lines(text: bytes) -> bytes:
    """A requirement file without the pins that `ADDED_PINS` leaves out of the key."""
    lines = text.splitlines(keepends=True)
    return b"".join(line for line in lines if not line.startswith(ADDED_PINS))


def added_pins(project_root: Path) -> list[str]:
    """The project's pins of packages installed into a shared venv on demand (`granian==…`)."""
    text = (project_root / "requirements.txt").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.startswith(ADDED_PINS.decode())]


def env_key(project_root: Path, python: Interpreter | None = None) -> str:
    """sha256 of the requirement files' contents (but `ADDED_PINS`) and the Python minor
    version, 16 hex digits."""
    major, minor = (python or interpreter(project_root)).version
    digest = hashlib.sha256()
    for name in REQUIREMENTS:
        text = _shared_lines((project_root / name).read_bytes())
        digest.update(name.encode() + b"\0" + text + b"\0")
    digest.update(f"python{major}.{minor}".encode())
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _complete(path: Path) -> bool:
    return (path / MARKER).is_file() and (path / "bin" / "python").exists()


def ensure_env(project_root: Path, *, root: Path | None = None, timeout: float = 900) -> ProjectEnv:
    """Reuse the venv for these requirements, or build it; CheckError when pip fails."""
    started = time.monotonic()
    base = root or env_root()
    base.mkdir(parents=True, exist_ok=True)
    python = interpreter(project_root)
    key = env_key(project_root, python)
    final = base / key
    with _locked(base / f"{key}.lock"):
        if _complete(final):
            _add_pins(final, project_root, timeout)
            return ProjectEnv(final, key, True, time.monotonic() - started)
        _remove_leftovers(base, key)
        build = Path(tempfile.mkdtemp(prefix=f"{key}.env-", dir=base))
        build.chmod(0o755)
        try:
            _build(build, project_root, timeout, python)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        (build / MARKER).write_text(json.dumps({"key": key, "python": python.executable}) + "\n")
        link = base / f"{key}.link-{os.getpid()}"
        link.unlink(missing_ok=True)
        link.symlink_to(build.name)
        os.replace(link, final)
    return ProjectEnv(final, key, False, time.monotonic() - started)


def _add_pins(venv: Path, project_root: Path, timeout: float) -> None:
    """Under the lock: install the project's `ADDED_PINS` the shared venv lacks."""
    pins = added_pins(project_root)
    if not pins:
        return
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    python = str(venv / "bin" / "python")
    done = run([python, "-m", "pip", "freeze"], cwd=project_root, env=env, timeout=120)
    frozen = {line.strip().lower() for line in done.output.splitlines()} if done.ok else set()
    missing = [pin for pin in pins if pin.lower() not in frozen]
    if not missing:
        return
    argv = [
        python,
        *("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"),
        *missing,
    ]
    installed = run(argv, cwd=project_root.resolve(), env=env, timeout=timeout)
    if not installed.ok:
        raise CheckError(
            f"could not add {', '.join(missing)} to the project environment\n{installed.describe()}"
        )


def _remove_leftovers(base: Path, key: str) -> None:
    """Under the lock: drop a dangling link and builds that never got published."""
    final = base / key
    if final.is_symlink() or final.exists():
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final, ignore_errors=True)
        else:
            final.unlink(missing_ok=True)
    for stale in base.glob(f"{key}.env-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _build(target: Path, project_root: Path, timeout: float, python: Interpreter) -> None:
    project_root = project_root.resolve()  # pip runs in it: a relative path would name another
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    steps = (
        [python.executable, "-m", "venv", "--clear", str(target)],
        [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
            str(project_root / "requirements-dev.txt"),
        ],
    )
    for argv in steps:
        done = run(argv, cwd=project_root, env=env, timeout=timeout)
        if not done.ok:
            raise CheckError(f"could not build the project environment\n{done.describe()}")


def check(ctx: VerifyContext) -> Outcome:
    """Build or reuse the venv and make sure it has the tools the other checks run."""
    env = ensure_env(ctx.project.root)
    ctx.env = env
    installed = env.installed()
    figures = {
        "reused": env.reused,
        "seconds": round(env.seconds, 2),
        "key": env.key,
        "path": str(env.path),
        "packages": len(installed),
        "python": ".".join(map(str, env.python_version)),
    }
    missing = [tool for tool in TOOLS if tool not in installed]
    if missing:
        detail = f"requirements-dev.txt does not install {', '.join(missing)}"
        return Outcome(False, figures, "missing tools", detail)
    how = "reused" if env.reused else f"built in {env.seconds:.0f} s"
    return Outcome(True, figures, f"{how}, {len(installed)} packages")
