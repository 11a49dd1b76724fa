"""Recognising a generated project, and refusing what is not one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from verify_miniproject import write_project

from backforge.errors import ProjectError
from backforge.verify import DatabaseUrlError, verify_project
from backforge.verify.project import load_project
from backforge.verify.scratchdb import engine_of


def test_reads_a_project(tmp_path: Path) -> None:
    project = load_project(write_project(tmp_path / "notes", openapi={"openapi": "3.1.0"}))
    assert project.package == "notes"
    assert (project.service_name, project.service_version) == ("notes", "0.1.0")
    assert project.openapi == {"openapi": "3.1.0"}


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="not a directory"):
        verify_project(tmp_path / "nowhere")


def test_no_manifest(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("")
    with pytest.raises(ProjectError, match=r"not a backforge project \(no .backforge/manifest"):
        verify_project(tmp_path)


def test_manifest_without_package(tmp_path: Path) -> None:
    root = write_project(tmp_path / "notes")
    (root / ".backforge" / "manifest.json").write_text(json.dumps({"generator": "x"}))
    with pytest.raises(ProjectError, match="names no package"):
        verify_project(root)


def test_package_without_main(tmp_path: Path) -> None:
    root = write_project(tmp_path / "notes")
    (root / "notes" / "main.py").unlink()
    with pytest.raises(ProjectError, match=r"'notes' has no main\.py"):
        verify_project(root)


def test_missing_requirements(tmp_path: Path) -> None:
    root = write_project(tmp_path / "notes")
    (root / "requirements-dev.txt").unlink()
    with pytest.raises(ProjectError, match=r"missing requirements-dev\.txt"):
        verify_project(root)


def test_project_error_leaves_no_report(tmp_path: Path) -> None:
    root = write_project(tmp_path / "notes")
    (root / "notes" / "main.py").unlink()
    with pytest.raises(ProjectError):
        verify_project(root)
    assert not (root / "backforge-report.json").exists()


@pytest.mark.parametrize(
    ("url", "engine"),
    [
        (None, "sqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite"),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", "postgresql"),
        ("postgresql://postgres@127.0.0.1/test", "postgresql"),
        ("mysql://root@127.0.0.1:3306/x", "mysql"),
        ("mysql+asyncmy://root@127.0.0.1:3306/x", "mysql"),
        ("mariadb://root@127.0.0.1:3306/x", "mysql"),
        ("mariadb+asyncmy://root@127.0.0.1/x", "mysql"),
    ],
)
def test_database_engines(url: str | None, engine: str) -> None:
    assert engine_of(url) == engine


def test_unsupported_database_url(tmp_path: Path) -> None:
    root = write_project(tmp_path / "notes")
    with pytest.raises(DatabaseUrlError, match="unsupported database URL scheme 'oracle'"):
        verify_project(root, database_url="oracle://scott@127.0.0.1/x")
