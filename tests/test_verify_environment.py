"""The shared project environment: keyed by the requirement files, built once even when two
processes ask at the same time, never left half-built."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from verify_miniproject import write_project

from backforge.report import BLOCKED, ERROR
from backforge.verify import CHECKS, verify_project
from backforge.verify.environment import (
    MARKER,
    Interpreter,
    _probe,
    env_key,
    env_root,
    interpreter,
)
from backforge.verify.result import CheckError

BUILD = """
import json, sys
from pathlib import Path
from backforge.verify.environment import ensure_env
env = ensure_env(Path(sys.argv[1]))
print(json.dumps({"path": str(env.path), "reused": env.reused}))
"""


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose requirements install nothing, with a private environment directory."""
    monkeypatch.setenv("BACKFORGE_ENV_DIR", str(tmp_path / "envs"))
    root = write_project(tmp_path / "notes")
    (root / "requirements.txt").write_text("# nothing\n")
    (root / "requirements-dev.txt").write_text("-r requirements.txt\n")
    return root


def test_the_key_is_the_requirements(tmp_path: Path) -> None:
    first = write_project(tmp_path / "a")
    second = write_project(tmp_path / "b")
    (second / "README.md").write_text("other project, same requirements\n")
    assert env_key(first) == env_key(second)
    assert len(env_key(first)) == 16
    with (second / "requirements-dev.txt").open("a") as handle:
        handle.write("pytest-timeout==2.4.0\n")
    assert env_key(first) != env_key(second)


def test_the_default_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKFORGE_ENV_DIR", raising=False)
    assert env_root() == Path.home() / ".cache" / "backforge" / "envs"
    monkeypatch.setenv("BACKFORGE_ENV_DIR", "/srv/envs")
    assert env_root() == Path("/srv/envs")


@pytest.mark.e2e
def test_two_processes_build_one_environment(bare: Path, tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD, str(bare)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    answers = [json.loads(proc.communicate(timeout=300)[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert sorted(a["reused"] for a in answers) == [False, True]
    assert answers[0]["path"] == answers[1]["path"] == str(tmp_path / "envs" / env_key(bare))
    env = Path(answers[0]["path"])
    assert env.is_symlink() and (env / MARKER).is_file()
    assert len(list((tmp_path / "envs").glob("*.env-*"))) == 1  # one build, published
    version = subprocess.run(
        [env / "bin" / "python", "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert version.stdout.strip() == str(env)


@pytest.mark.e2e
def test_missing_tools_block(bare: Path) -> None:
    report = verify_project(bare, checks=CHECKS[:2])
    environment, lint = report.checks
    assert report.status == BLOCKED
    assert environment["status"] == "failed"
    assert environment["figures"]["reused"] is False
    missing = "pytest, coverage, ruff, schemathesis, uvicorn, alembic"
    assert environment["detail"] == f"requirements-dev.txt does not install {missing}"
    assert lint["status"] == "skipped"


@pytest.mark.e2e
def test_an_environment_that_cannot_be_built_is_an_error(bare: Path, tmp_path: Path) -> None:
    (bare / "requirements-dev.txt").write_text("-r requirements.txt\n-r no-such-file.txt\n")
    report = verify_project(bare)
    assert report.status == ERROR
    statuses = [c["status"] for c in report.checks]
    applicable = [c for c in CHECKS if c.name != "events"]  # the project has no events
    assert statuses == ["error"] + ["skipped"] * (len(applicable) - 1)
    assert report.checks[0]["detail"].startswith("could not build the project environment")
    assert "no-such-file.txt" in report.checks[0]["detail"]
    assert report.status_block().splitlines()[0] == "STATUS: ERROR"
    envs = tmp_path / "envs"
    assert sorted(p.name for p in envs.iterdir()) == [f"{env_key(bare)}.lock"]  # nothing half-built


def fake_python(directory: Path, name: str, version: str) -> Path:
    """An executable that answers the interpreter probe as Python `version` would."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    major, minor = version.split(".")
    path.write_text(f"#!/bin/sh\necho {directory}/real-{name}\necho {major} {minor}\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def pythons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH and PYENV_ROOT that hold only the fake interpreters a test makes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.delenv("BACKFORGE_PYTHON", raising=False)
    _probe.cache_clear()
    return tmp_path


def test_the_newest_python_the_project_admits_builds_the_environment(
    pythons: Path, tmp_path: Path
) -> None:
    root = write_project(tmp_path / "notes")  # requires-python >=3.11
    fake_python(pythons / "bin", "python3.12", "3.12")
    fake_python(pythons / "pyenv" / "versions" / "3.13.0" / "bin", "python3.13", "3.13")
    chosen = interpreter(root)
    assert chosen.version == (3, 13)  # pyenv's, found although no shim runs it
    assert chosen.executable == f"{pythons}/pyenv/versions/3.13.0/bin/real-python3.13"
    assert env_key(root, chosen) != env_key(root, Interpreter(chosen.executable, (3, 12)))
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('">=3.11"', '">=3.14"'))
    current = interpreter(root)  # nothing found admits it: the Python running backforge
    assert current.executable == sys.executable and current.version == sys.version_info[:2]


def test_backforge_python_names_the_interpreter(
    pythons: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "notes")
    fake_python(pythons / "bin", "python3.13", "3.13")
    monkeypatch.setenv("BACKFORGE_PYTHON", str(fake_python(pythons / "x", "py", "3.12")))
    assert interpreter(root).version == (3, 12)
    monkeypatch.setenv("BACKFORGE_PYTHON", str(pythons / "nowhere"))
    with pytest.raises(CheckError, match="does not run"):
        interpreter(root)
