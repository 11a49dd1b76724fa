"""The delivery report (R1) and the status block (R2), from a hand-written project."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from verify_miniproject import write_project

from backforge.report import (
    BLOCKED,
    COMPLETE,
    ERROR,
    QUICK,
    build_report,
    error_report,
    overall_status,
    render_status_block,
    write_report,
)
from backforge.report.facts import base_path, files_count, requirements, resources
from backforge.verify.project import load_project
from backforge.verify.result import CheckResult

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "notes", "version": "0.1.0"},
    "paths": {
        "/healthz": {"get": {"operationId": "healthz", "responses": {"200": {}}}},
        "/api/v1/notes": {
            "get": {
                "operationId": "list_notes",
                "summary": "List notes",
                "responses": {"200": {}, "422": {"content": PROBLEM}},
            },
            "post": {"operationId": "create_note", "responses": {"201": {}, "422": {}}},
        },
        "/api/v1/notes/{note_id}": {
            "get": {"operationId": "get_note", "responses": {"200": {}, "404": {}}},
            "delete": {"operationId": "delete_note", "responses": {"204": {}, "404": {}}},
        },
        "/api/v1/tags": {"get": {"operationId": "list_tags", "responses": {"200": {}}}},
    },
    "components": {
        "schemas": {
            "NoteIn": {
                "type": "object",
                "additionalProperties": False,
                "required": ["title"],
                "properties": {
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "done": {"type": "boolean"},
                    "due": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
                    "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                },
            },
        }
    },
}

MIGRATION = {  # as the migrations check reads it with Alembic
    "file": "migrations/versions/0001_create_notes.py",
    "revision": "0001",
    "down_revision": None,
    "message": "create notes",
}
START = dt.datetime(2026, 11, 22, 10, 0, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(seconds=42)


def results(**statuses: str) -> list[CheckResult]:
    figures: dict[str, dict[str, Any]] = {
        "tests": {
            "passed": 5,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "coverage_percent": 87.7,
            "modules": {
                "tests/test_notes.py": {"passed": 4, "failed": 0, "errors": 0, "skipped": 0},
                "tests/test_unit_problems.py": {
                    "passed": 1,
                    "failed": 0,
                    "errors": 0,
                    "skipped": 0,
                },
            },
        },
        "load": {"requests": 300, "p95_ms": 12.3},
        "migrations": {"revisions": 1, "history": [MIGRATION]},
    }
    names = ["environment", "lint", "tests", "migrations", "server", "contract", "load"]
    return [
        CheckResult(
            name,
            statuses.get(name, "passed"),  # type: ignore[arg-type]
            1.0,
            figures.get(name, {}),
            "ruff check: 1 finding(s)\nnotes/db.py:1:1 F401" if name in statuses else "",
        )
        for name in names
    ]


@pytest.fixture
def project(tmp_path: Path) -> Any:
    root = write_project(tmp_path / "notes", openapi=OPENAPI)
    return load_project(root)


def test_overall_status() -> None:
    assert overall_status([{"status": "passed"}] * 3) == COMPLETE
    assert overall_status([{"status": "passed"}, {"status": "failed"}]) == BLOCKED
    assert overall_status([{"status": "failed"}, {"status": "skipped"}]) == BLOCKED
    assert overall_status([{"status": "failed"}, {"status": "error"}]) == ERROR
    assert overall_status([]) == ERROR
    assert overall_status([{"status": "passed"}] * 3, quick=True) == QUICK
    assert overall_status([{"status": "passed"}, {"status": "failed"}], quick=True) == BLOCKED


def test_a_quick_report_is_never_complete(project: Any) -> None:
    quick = [r for r in results() if r.name in ("environment", "lint", "tests", "migrations")]
    report = build_report(project, quick, started=START, finished=END, quick=True)
    data = report.data
    assert report.status == QUICK
    assert data["mode"] == "quick"
    assert data["checks_seconds"] == 4.0 and data["seconds"] == 42.0
    assert "all 4 --quick checks passed, security, server, contract" in data["summary"]
    lines = report.status_block().splitlines()
    assert lines[0] == "STATUS: QUICK"
    assert lines[-2] == f"NEXT: run the full `backforge verify {project.root}` before delivering it"
    assert lines[-1].startswith("BLOCKER: not verified in full: --quick does not run security,")
    failed = build_report(
        project,
        [r for r in results(lint="failed") if r.name in ("environment", "lint")],
        started=START,
        finished=END,
        quick=True,
    )
    assert failed.status == BLOCKED
    assert failed.data["next"] == (
        f"fix the lint failure, then run `backforge verify --quick {project.root}` again"
    )


def test_complete_report(project: Any) -> None:
    report = build_report(project, results(), started=START, finished=END)
    data = report.data
    assert report.status == COMPLETE
    assert list(data)[:5] == ["status", "summary", "status_block", "next", "blocker"]
    assert data["summary"] == (
        "notes 0.1.0: 6 endpoints, 2 resources; all 7 checks passed on sqlite "
        "(tests 5 passed, coverage 87.7%, p95 12.3 ms)"
    )
    assert data["service"] == {"name": "notes", "version": "0.1.0"}
    assert data["generator"] == {"name": "backforge", "version": "0.1.0"}
    assert data["seconds"] == 42.0
    assert data["mode"] == "full" and data["checks_seconds"] == 7.0
    assert data["blocker"] is None
    assert render_status_block(report) == "\n".join(
        [
            "STATUS: COMPLETE",
            f"SUMMARY: {data['summary']}",
            f"FILES: 20 files in {project.root}",
            f"NEXT: run it: cd {project.root} && uvicorn notes.main:app",
        ]
    )
    assert data["status_block"] == render_status_block(data)


def test_blocked_report_names_the_blocker(project: Any) -> None:
    report = build_report(project, results(lint="failed"), started=START, finished=END)
    assert report.status == BLOCKED
    assert "6/7 checks passed; lint failed" in report.data["summary"]
    lines = report.status_block().splitlines()
    assert lines[0] == "STATUS: BLOCKED"
    assert lines[-1] == "BLOCKER: lint failed: ruff check: 1 finding(s)"
    assert lines[-2].startswith("NEXT: fix the lint failure")


def test_endpoints(project: Any) -> None:
    endpoints = build_report(project, results(), started=START, finished=END).data["api_endpoints"]
    by_key = {(e["method"], e["path"]): e for e in endpoints}
    assert len(endpoints) == 6
    listing = by_key[("GET", "/api/v1/notes")]
    assert listing == {
        "path": "/api/v1/notes",
        "method": "GET",
        "handler": "list_notes",
        "summary": "List notes",
        "responses": ["200", "422"],
        "middleware": ["problem-details"],
        "tests": ["tests/test_notes.py"],
    }
    assert by_key[("DELETE", "/api/v1/notes/{note_id}")]["tests"] == ["tests/test_notes.py"]
    assert by_key[("GET", "/api/v1/tags")]["tests"] == []  # no test mentions it


def test_models_and_validations(project: Any) -> None:
    (model,) = build_report(project, results(), started=START, finished=END).data["models"]
    assert model["name"] == "NoteIn"
    assert model["schema"] == "openapi.json#/components/schemas/NoteIn"
    fields = {f["name"]: f for f in model["fields"]}
    assert fields["title"] == {
        "name": "title",
        "type": "string",
        "required": True,
        "constraints": {"minLength": 1, "maxLength": 200},
    }
    assert fields["due"]["type"] == "string | null"
    assert fields["due"]["constraints"] == {"format": "date"}
    assert fields["tags"]["type"] == "array[Tag]"
    assert model["validations"] == [
        "required: title",
        "title: minLength 1",
        "title: maxLength 200",
        "due: format date",
        "unknown fields rejected",
    ]


def test_database_configuration_tests_documentation(project: Any) -> None:
    data = build_report(
        project, results(), started=START, finished=END, environment=fake_env(project.root)
    ).data
    assert data["database"] == {"verified_on": "sqlite", "migrations": [MIGRATION], "seeds": []}
    unchecked = [r for r in results() if r.name != "migrations"]
    data_without = build_report(project, unchecked, started=START, finished=END).data
    assert data_without["database"]["migrations"] == []  # the manifest records none
    assert data["middleware"] == ["problem-details"]
    config = data["configuration"]
    assert config["environment"] == [
        {"name": "DATABASE_URL", "default": "sqlite+aiosqlite:///./notes.db"}
    ]
    assert {"name": "sqlalchemy[asyncio]", "version": "==2.1.9"} in config["dependencies"]
    assert [d["name"] for d in config["dev_dependencies"]] == [
        "httpx",
        "pytest",
        "coverage",
        "ruff",
        "schemathesis",
    ]
    tests = data["tests"]
    assert tests["measured"] is True
    assert tests["coverage_percent"] == 87.7
    assert [m["module"] for m in tests["unit"]["modules"]] == ["tests/test_unit_problems.py"]
    assert tests["unit"]["passed"] == 1
    assert tests["integration"]["passed"] == 4
    assert data["documentation"] == {
        "openapi": "openapi.json",
        "openapi_version": "3.1.0",
        "readme": "README.md",
        "other": [],
    }
    services = {s["name"]: s for s in data["services"]}
    assert services["api"]["dependencies"] == ["db", "models", "problems"]
    assert services["api"]["libraries"] == ["fastapi", "pydantic", "sqlalchemy"]


def fake_env(root: Path) -> Path:
    """A virtualenv where the mini project's imports of libraries resolve (files only)."""
    env = root.parent / "env"
    site = env / "lib" / "python3.11" / "site-packages"
    for module in ("fastapi", "pydantic", "sqlalchemy", "sqlalchemy/ext/asyncio", "sqlalchemy/orm"):
        (site / module).mkdir(parents=True, exist_ok=True)
        (site / module / "__init__.py").write_text("")
    (env / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\nversion = 3.11.7\n")
    return env


def test_files_count_leaves_out_caches_and_the_report(project: Any) -> None:
    root = project.root
    before = files_count(root)
    for junk in (
        "notes/__pycache__/api.cpython-311.pyc",
        ".pytest_cache/v/x",
        ".venv/bin/python",
        "notes.db",
        ".coverage",
        ".ruff_cache/x",
        "backforge-report.json",
    ):
        path = root / junk
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    assert files_count(root) == before == 20
    (root / "docs").mkdir()
    (root / "docs" / "runbook.md").write_text("# runbook\n")
    assert files_count(root) == 21


def test_requirements_parsing(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("# pinned\n-r base.txt\nfastapi==0.163.2  # web\nuvicorn[standard]>=0.3\n\n")
    assert requirements(path) == [
        {"name": "fastapi", "version": "==0.163.2"},
        {"name": "uvicorn[standard]", "version": ">=0.3"},
    ]


def test_written_report_is_deterministic(project: Any) -> None:
    first = build_report(project, results(), started=START, finished=END)
    second = build_report(project, results(), started=START, finished=END)
    write_report(first, project.root)
    assert first.path == project.root / "backforge-report.json"
    text = first.path.read_text()
    assert text == second.to_json()
    assert json.loads(text)["checks"][0] == {
        "name": "environment",
        "ok": True,
        "status": "passed",
        "seconds": 1.0,
        "headline": "",
        "figures": {},
        "detail": "",
    }
    assert text.endswith("}\n") and '\n  "summary"' in text


def test_error_report(tmp_path: Path) -> None:
    report = error_report(tmp_path, "not a backforge project (no .backforge/manifest.json)")
    assert report.status_block().splitlines() == [
        "STATUS: ERROR",
        "SUMMARY: verify could not run: not a backforge project (no .backforge/manifest.json)",
        f"FILES: 0 files in {tmp_path}",
        "NEXT: point `backforge verify` at a directory made by `backforge generate`",
        "BLOCKER: verify: not a backforge project (no .backforge/manifest.json)",
    ]


def test_base_path_from_the_manifest_or_the_paths() -> None:
    def doc(*paths: str) -> dict[str, Any]:
        return {"paths": {p: {"get": {}} for p in ("/healthz", *paths)}}

    assert base_path({"base_path": "/v2/"}, doc("/api/v1/notes")) == "/v2"
    assert base_path({}, doc("/api/v1/notes", "/api/v1/notes/{id}")) == "/api/v1"
    assert base_path({}, doc("/api/v1/books", "/api/v1/authors/{id}")) == "/api/v1"
    assert base_path({}, doc("/notes", "/tags")) == ""
    assert resources(doc("/api/v1/books", "/api/v1/books/{id}", "/api/v1/authors"), {}) == [
        "authors",
        "books",
    ]


def test_the_generators_manifest_shape(tmp_path: Path) -> None:
    root = write_project(tmp_path / "notes", openapi=OPENAPI)
    manifest = {
        "generator": "backforge",
        "generator_version": "0.1.0",
        "service": "notes",
        "version": "2.0.0",
        "package": "notes",
        "settings": ["DATABASE_URL", "LOG_LEVEL"],
        "middleware": ["problem+json exception handlers"],
    }
    (root / ".backforge" / "manifest.json").write_text(json.dumps(manifest))
    data = build_report(load_project(root), results(), started=START, finished=END).data
    assert data["service"] == {"name": "notes", "version": "2.0.0"}
    assert data["generator"] == {"name": "backforge", "version": "0.1.0"}
    assert data["configuration"]["environment"] == [{"name": "DATABASE_URL"}, {"name": "LOG_LEVEL"}]
    assert data["summary"].startswith("notes 2.0.0: 6 endpoints, 2 resources;")


def test_the_tests_a_spec_cannot_exercise_are_in_the_report(tmp_path: Path) -> None:
    root = write_project(tmp_path / "notes", openapi=OPENAPI)
    left_out = [{"test": "tests/test_seed.py::test_x", "reason": "no seed row to edit"}]
    path = root / ".backforge" / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "tests_not_generated": left_out}))
    data = build_report(load_project(root), results(), started=START, finished=END).data
    assert data["tests"]["not_generated"] == left_out


def test_a_project_without_the_list_has_nothing_left_out(project: Any) -> None:
    data = build_report(project, results(), started=START, finished=END).data
    assert data["tests"]["not_generated"] == []


def test_the_report_imports_nothing_of_verify() -> None:
    """verify runs the checks and hands their results to the report: the report never reaches
    back into verify (the cycle verify/runner -> report -> verify/facts is gone)."""
    code = (
        "import sys, backforge.report\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('backforge.verify'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
