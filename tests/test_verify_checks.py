"""Every verify check, for real, on the hand-written mini project: it passes whole, and each check
fails for the right reason when one thing in the project is broken. Each project runs in the
shared project environment, built once (or reused) for the session."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from verify_miniproject import FILES, edit, write_openapi, write_project

from backforge.report import BLOCKED, COMPLETE, Report
from backforge.verify import CHECKS, LOAD_REQUESTS, scratchdb, verify_project
from backforge.verify import server as server_check
from backforge.verify.environment import ProjectEnv, ensure_env

pytestmark = pytest.mark.e2e

Make = Callable[..., Path]
SCRATCH_DATABASES = """
import asyncio, asyncpg

async def main():
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'bf_verify_%'")
    print(" ".join(sorted(row["datname"] for row in rows)))
    await conn.close()

asyncio.run(main())
"""


@pytest.fixture(scope="session")
def project_env(tmp_path_factory: pytest.TempPathFactory) -> ProjectEnv:
    return ensure_env(write_project(tmp_path_factory.mktemp("template") / "notes"))


@pytest.fixture
def make(tmp_path: Path, project_env: ProjectEnv) -> Make:
    """A fresh mini project with `edits` (file, old, new) applied before openapi.json is made."""

    def build(*edits: tuple[str, str, str], files: dict[str, str] | None = None) -> Path:
        root = write_project(tmp_path / "notes")
        for name, old, new in edits:
            edit(root, name, old, new)
        for name, text in (files or {}).items():
            (root / name).write_text(text, encoding="utf-8")
        write_openapi(root, project_env.python)
        return root

    return build


# The mini project is a plain FastAPI app: no /metrics, no request-id logs, no graceful
# entrypoint. Those checks are shown to pass on generated projects (test_e2e_new.py) and to
# fail here, for the right reasons (the tests at the end of this module).
CORE = ("environment", "lint", "tests", "migrations", "server", "contract", "load")


def run(root: Path, *names: str, **options: Any) -> tuple[Report, dict[str, dict[str, Any]]]:
    checks = tuple(c for c in CHECKS if c.name in (names or CORE))
    report = verify_project(root, checks=checks, **options)
    return report, {c["name"]: c for c in report.checks}


def test_a_sound_project_passes_every_check(make: Make) -> None:
    root = make()
    events: list[tuple[str, dict[str, Any]]] = []
    report, checks = run(root, progress=lambda e, d: events.append((e, d)))

    assert report.status == COMPLETE, report.status_block()
    assert all(c["status"] == "passed" for c in checks.values())
    finished = [d["name"] for e, d in events if e == "check_finished"]
    assert sorted(finished) == sorted(CORE) and list(checks) == list(CORE)  # the report's order
    assert finished.index("server") < finished.index("contract") < finished.index("load")
    assert checks["environment"]["figures"]["reused"] is True  # shared, not installed again
    tests = checks["tests"]["figures"]
    assert (tests["passed"], tests["failed"], tests["errors"]) == (5, 0, 0)
    assert tests["coverage_percent"] >= 80
    assert set(tests["modules"]) == {"tests/test_notes.py", "tests/test_unit_problems.py"}
    migrations = checks["migrations"]["figures"]
    assert migrations["revisions"] == 1 and migrations["tables_after_downgrade"] == 0
    assert all(migrations[step]["ok"] for step in ("upgrade_head", "downgrade_base", "check"))
    server = checks["server"]["figures"]
    assert 0 < server["startup_seconds"] < 30 and server["stopped_by"] == "SIGTERM"
    contract = checks["contract"]["figures"]
    assert contract["openapi_matches_served"] is True
    assert contract["operations_tested"] == 6
    assert contract["requests"] > 100 and contract["server_errors"] == 0
    assert contract["failures"] == 0 and set(contract["statuses"]) >= {"200", "201", "404", "422"}
    load = checks["load"]["figures"]
    # the list, and the notes it answers by their ids (the contract check left some)
    assert load["endpoints"] == ["/api/v1/notes", "/api/v1/notes/{note_id}"]
    assert load["requests"] == LOAD_REQUESTS and load["statuses"] == {"200": LOAD_REQUESTS}
    per_endpoint = load["per_endpoint"]
    assert sum(figures["requests"] for figures in per_endpoint.values()) == LOAD_REQUESTS
    assert all(0 < figures["p95_ms"] <= load["max_ms"] for figures in per_endpoint.values())
    assert 0 < load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"] <= load["max_ms"]

    written = json.loads((root / "backforge-report.json").read_text())
    assert written == report.data
    assert written["files_count"] == len(FILES) + 2  # + openapi.json and the manifest
    assert report.status_block().startswith("STATUS: COMPLETE\nSUMMARY: notes 0.1.0: 6 endpoints")
    leftovers = {
        ".coverage",
        ".hypothesis",
        ".schemathesis",
        ".ruff_cache",
        ".pytest_cache",
        "notes.db",
        "schemathesis-report",
    }
    assert not leftovers & {p.name for p in root.rglob("*")}
    assert not list(root.rglob("__pycache__"))


def test_lint_findings_and_unformatted_code_block(make: Make) -> None:
    root = make(
        ("notes/db.py", "import os\n", "import os\nimport sys\n"),
        ("notes/models.py", '__tablename__ = "notes"', "__tablename__ = 'notes'"),
    )
    report, checks = run(root, "environment", "lint")
    lint = checks["lint"]
    assert report.status == BLOCKED
    assert lint["status"] == "failed"
    assert lint["figures"] == {"findings": 1, "unformatted_files": 1}
    assert "notes/db.py:4:8 F401" in lint["detail"]
    assert "would be reformatted\nnotes/models.py" in lint["detail"]
    assert (
        report.status_block().splitlines()[-1] == "BLOCKER: lint failed: ruff check: 1 finding(s)"
    )


def test_a_failing_test_fails_the_tests_check(make: Make) -> None:
    root = make(("tests/test_unit_problems.py", '"status": 404', '"status": 400'))
    report, checks = run(root, "environment", "tests")
    tests = checks["tests"]
    assert report.status == BLOCKED and tests["status"] == "failed"
    assert (tests["figures"]["passed"], tests["figures"]["failed"]) == (4, 1)
    assert tests["figures"]["modules"]["tests/test_unit_problems.py"]["failed"] == 1
    assert tests["detail"].startswith(
        "1 failed, 0 errors: tests.test_unit_problems::test_problem_body"
    )


def test_coverage_under_80_fails_the_tests_check(make: Make) -> None:
    untested = "\n\n".join(f"def f{i}(x):\n    y = x + {i}\n    return y * 2\n" for i in range(40))
    root = make(files={"notes/untested.py": untested})
    _, checks = run(root, "environment", "tests")
    tests = checks["tests"]
    assert tests["status"] == "failed"
    assert tests["figures"]["failed"] == 0 and tests["figures"]["coverage_percent"] < 80
    assert tests["detail"].startswith(f"line coverage {tests['figures']['coverage_percent']}% is")


def test_models_that_drift_from_the_migrations_fail(make: Make) -> None:
    root = make(
        (
            "notes/models.py",
            "    done: Mapped[bool] = mapped_column(default=False)\n",
            "    done: Mapped[bool] = mapped_column(default=False)\n"
            "    body: Mapped[str | None] = mapped_column(String(2000))\n",
        )
    )
    report, checks = run(root, "environment", "migrations")
    figures = checks["migrations"]["figures"]
    assert report.status == BLOCKED and checks["migrations"]["status"] == "failed"
    assert figures["upgrade_head"]["ok"] and figures["upgrade_head_again"]["ok"]
    assert figures["check"]["ok"] is False
    assert checks["migrations"]["detail"].startswith("alembic check failed")
    assert "New upgrade operations detected" in checks["migrations"]["detail"]


def test_a_downgrade_that_leaves_tables_fails(make: Make) -> None:
    root = make(("migrations/versions/0001_create_notes.py", 'op.drop_table("notes")', "pass"))
    _, checks = run(root, "environment", "migrations")
    assert checks["migrations"]["status"] == "failed"
    assert checks["migrations"]["detail"] == "downgrade base left tables behind: notes"
    assert "upgrade_head_again" not in checks["migrations"]["figures"]


def test_a_server_that_dies_skips_contract_and_load(make: Make) -> None:
    root = make()
    edit(
        root, "notes/main.py", "app = create_app()\n", 'app = create_app()\nraise SystemExit("no")'
    )
    report, checks = run(root, "environment", "server", "contract", "load")
    assert report.status == BLOCKED
    assert checks["server"]["status"] == "failed"
    assert checks["server"]["detail"].startswith("the server exited with code 1 during startup")
    assert "no" in checks["server"]["detail"].splitlines()[-1]
    assert checks["contract"]["status"] == checks["load"]["status"] == "skipped"


def test_a_server_that_is_never_ready_fails(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_check, "STARTUP_LIMIT", 4.0)
    root = make(("notes/api.py", 'text("SELECT 1")', 'text("SELECT * FROM nowhere")'))
    _, checks = run(root, "environment", "server")
    server = checks["server"]
    assert server["status"] == "failed"
    assert server["detail"].startswith("not ready after 4 s: /readyz answered 503")
    assert "healthz_seconds" in server["figures"] and "startup_seconds" not in server["figures"]


def test_lax_validation_fails_the_contract(make: Make) -> None:
    root = make(("notes/api.py", ", strict=True", ""))
    report, checks = run(root, "environment", "server", "contract")
    contract = checks["contract"]
    assert report.status == BLOCKED and contract["status"] == "failed"
    assert [f["code"] for f in contract["figures"]["failed"]] == ["ST201"]
    assert "Schema-violating request accepted" in contract["detail"]
    assert contract["figures"]["server_errors"] == 0


def test_server_errors_fail_the_contract(make: Make) -> None:
    root = make(
        ("notes/api.py", "    rows = await", '    assert offset < 1000, "boom"\n    rows = await')
    )
    _, checks = run(root, "environment", "server", "contract")
    contract = checks["contract"]
    assert contract["status"] == "failed"
    assert contract["figures"]["server_errors"] > 0
    assert contract["figures"]["statuses"]["500"] == contract["figures"]["server_errors"]
    assert "ST101" in {f["code"] for f in contract["figures"]["failed"]}
    assert "server log, last traceback:" in contract["detail"]
    assert contract["detail"].rstrip().endswith("AssertionError: boom")


def test_openapi_json_must_match_the_served_document(make: Make) -> None:
    root = make()
    edit(root, "openapi.json", '"summary": "List notes"', '"summary": "List all notes"')
    _, checks = run(root, "environment", "server", "contract")
    assert checks["contract"]["figures"]["openapi_matches_served"] is False
    assert checks["contract"]["detail"].startswith("openapi.json differs from the /openapi.json")


def test_the_projects_schemathesis_config_is_used_and_reported(make: Make) -> None:
    config = '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "404", "409", "422"]\n'
    root = make(files={"schemathesis.toml": config})
    _, checks = run(root, "environment", "server", "contract")
    contract = checks["contract"]
    assert contract["status"] == "passed", contract["detail"]
    assert contract["figures"]["config"] == {
        "file": "schemathesis.toml",
        "settings": {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}
            }
        },
    }


def test_server_errors_under_load_fail(make: Make) -> None:
    root = make(
        ("notes/api.py", "    rows = await", '    raise RuntimeError("boom")\n    rows = await')
    )
    _, checks = run(root, "environment", "server", "load", load_requests=40)
    load = checks["load"]
    assert load["status"] == "failed"
    assert load["figures"]["requests"] == 40
    figures = load["figures"]
    # uvicorn drops a keep-alive connection after an unhandled error: some requests see that
    assert figures["server_errors"] > 0
    assert figures["server_errors"] + figures["transport_errors"] == 40 == figures["errors"]
    assert load["detail"].startswith(f"{figures['server_errors']} response(s) with a 5xx status")
    assert load["detail"].rstrip().endswith("RuntimeError: boom")


@pytest.mark.postgres
def test_a_sound_project_passes_on_postgresql(
    make: Make, project_env: ProjectEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scratch_databases() -> set[str]:
        done = subprocess.run(
            [str(project_env.python), "-c", SCRATCH_DATABASES], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return set(done.stdout.split())

    # this run's scratch databases (other runs beside it, other test workers, make their own)
    actions: list[tuple[str, str]] = []
    admin = scratchdb._admin

    def recorded(ctx: Any, script: str, dsn: str, action: str, name: str) -> None:
        admin(ctx, script, dsn, action, name)
        actions.append((action, name))

    monkeypatch.setattr(scratchdb, "_admin", recorded)
    root = make()
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    report, checks = run(root, database_url=url)
    assert report.status == COMPLETE, report.status_block()
    assert checks["migrations"]["figures"]["database"] == "postgresql"
    assert report.data["database"]["verified_on"] == "postgresql"
    created = {name for action, name in actions if action == "create"}
    assert created, "verify on PostgreSQL works in scratch databases"
    assert created == {name for action, name in actions if action == "drop"}
    assert not created & scratch_databases()  # every scratch database of this run is gone


def test_a_project_without_metrics_or_request_ids_fails_observability(make: Make) -> None:
    report, checks = run(make(), "environment", "server", "load", "observability")
    assert report.status == BLOCKED
    observability = checks["observability"]
    assert observability["status"] == "failed"
    assert "/metrics answered 404" in observability["detail"]
    assert "does not echo X-Request-ID" in observability["detail"]


def test_a_server_killed_by_sigterm_fails_resilience(make: Make) -> None:
    # plain uvicorn drains, then re-raises SIGTERM: the process does not exit 0
    report, checks = run(make(), "environment", "resilience")
    resilience = checks["resilience"]
    assert resilience["status"] == "failed", report.status_block()
    assert resilience["figures"]["in_flight_status"] is not None
    assert resilience["figures"]["exit_code"] != 0
    assert "exited with status" in resilience["detail"]
