"""How verify_project runs its checks: order, skips, errors, progress events and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from verify_miniproject import write_project

from backforge.report import BLOCKED, COMPLETE, ERROR
from backforge.verify import CHECKS, Check, verify_project
from backforge.verify.context import VerifyContext
from backforge.verify.result import CheckError, Outcome


def passing(ctx: VerifyContext) -> Outcome:
    return Outcome(True, {"answer": 42}, "fine")


def failing(ctx: VerifyContext) -> Outcome:
    return Outcome(False, {"answer": 0}, "broken", "first line of the trouble\nsecond line")


def refusing(ctx: VerifyContext) -> Outcome:
    raise CheckError("the machine said no", {"tried": 1})


def crashing(ctx: VerifyContext) -> Outcome:
    raise ZeroDivisionError("division by zero")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_project(tmp_path / "notes", openapi={"openapi": "3.1.0", "paths": {}})


def run(root: Path, *checks: Check) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    report = verify_project(root, checks=checks, progress=lambda e, d: events.append((e, d)))
    return report, events


def test_the_standard_checks_and_their_order() -> None:
    assert [c.name for c in CHECKS] == [
        "environment",
        "lint",
        "security",
        "tests",
        "migrations",
        "server",
        "contract",
        "load",
        "observability",
        "resilience",
    ]
    needs = {c.name: c.needs for c in CHECKS}
    assert needs["contract"] == needs["load"] == ("server",)
    assert needs["observability"] == ("load",)
    assert needs["resilience"] == ("environment",)


def test_all_passing_is_complete(root: Path) -> None:
    report, events = run(root, Check("a", passing), Check("b", passing, ("a",)))
    assert report.status == COMPLETE
    assert [(c["name"], c["status"], c["ok"]) for c in report.checks] == [
        ("a", "passed", True),
        ("b", "passed", True),
    ]
    assert report.checks[0]["figures"] == {"answer": 42}
    assert [e for e, _ in events] == [
        "check_started",
        "check_finished",
        "check_started",
        "check_finished",
        "verify_finished",
    ]
    finished = events[1][1]
    assert finished["name"] == "a" and finished["ok"] is True and finished["figure"] == "fine"
    assert finished["seconds"] >= 0
    assert events[-1][1] == {"status": COMPLETE, "report": str(root / "backforge-report.json")}


def test_a_failure_blocks_and_skips_what_needs_it(root: Path) -> None:
    report, _ = run(root, Check("a", failing), Check("b", passing, ("a",)), Check("c", passing))
    assert report.status == BLOCKED
    statuses = {c["name"]: c["status"] for c in report.checks}
    assert statuses == {"a": "failed", "b": "skipped", "c": "passed"}
    assert report.checks[1]["detail"] == "skipped: needs a, which did not pass"
    block = report.status_block().splitlines()
    assert block[0] == "STATUS: BLOCKED"
    assert block[-1] == "BLOCKER: a failed: first line of the trouble"


@pytest.mark.parametrize("check", [refusing, crashing])
def test_a_check_that_cannot_run_is_an_error(root: Path, check: Any) -> None:
    report, _ = run(root, Check("a", check), Check("b", passing, ("a",)))
    assert report.status == ERROR
    first = report.checks[0]
    assert first["status"] == "error" and first["ok"] is False
    assert ("the machine said no" in first["detail"]) or ("ZeroDivisionError" in first["detail"])
    assert report.checks[1]["status"] == "skipped"
    assert report.status_block().splitlines()[0] == "STATUS: ERROR"


def test_the_report_file_matches_the_report(root: Path) -> None:
    report, _ = run(root, Check("a", passing))
    written = (root / "backforge-report.json").read_text()
    assert json.loads(written) == report.data
    assert written == report.to_json()
    assert written.startswith('{\n  "status": "COMPLETE",\n  "summary": ')
