"""How verify_project runs its checks: order, skips, errors, progress events and the report."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from verify_miniproject import write_project

from backforge.report import BLOCKED, COMPLETE, ERROR, QUICK
from backforge.verify import CHECKS, Check, proc, verify_project
from backforge.verify.context import VerifyContext
from backforge.verify.result import CheckError, Outcome
from backforge.verify.runner import CONFORMANCE, QUICK_CHECKS, with_conformance


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


def run(root: Path, *checks: Check, **options: Any) -> tuple[Any, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    report = verify_project(
        root, checks=checks, progress=lambda e, d: events.append((e, d)), **options
    )
    return report, events


class Timeline:
    """Checks that record when they ran, and wait for each other at a barrier when asked."""

    def __init__(self, parties: int = 2) -> None:
        self.spans: dict[str, tuple[float, float]] = {}
        self.barrier = threading.Barrier(parties, timeout=10)

    def check(self, name: str, *, seconds: float = 0.0, meet: bool = False, ok: bool = True):
        def run(ctx: VerifyContext) -> Outcome:
            started = time.monotonic()
            if meet:  # returns only once the other party is running too
                self.barrier.wait()
            time.sleep(seconds)
            self.spans[name] = (started, time.monotonic())
            return Outcome(ok, {"seen": sorted(ctx.results)}, name)

        return run

    def overlap(self, a: str, b: str) -> bool:
        (a0, a1), (b0, b1) = self.spans[a], self.spans[b]
        return a0 < b1 and b0 < a1


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
        "events",  # only for a spec with events
    ]
    needs = {c.name: c.needs for c in CHECKS}
    assert needs["contract"] == needs["load"] == ("server",)
    assert needs["observability"] == ("load",)
    assert needs["resilience"] == ("environment",)
    after = {c.name: c.after for c in CHECKS if c.after}
    # events reads what the fuzzing and the load changed
    assert set(after.pop("events")) == {"contract", "conformance", "load"}
    # latencies are measured with nothing else running: every check but the ones after the load
    assert set(after) == {"load"}
    assert set(after["load"]) == {c.name for c in CHECKS} - {
        "environment",
        "server",
        "load",
        "observability",
        "events",
    } | {"conformance"}  # with --contract: the load does not run beside that fuzzer either
    assert [c.name for c in QUICK_CHECKS] == ["environment", "lint", "tests", "migrations"]


def test_a_contract_adds_the_conformance_check_after_the_contract_check() -> None:
    names = [c.name for c in with_conformance(CHECKS)]
    assert names[names.index("contract") + 1] == "conformance"
    assert len(names) == len(CHECKS) + 1
    assert CONFORMANCE.needs == ("server",)
    only = tuple(c for c in CHECKS if c.name in ("environment", "server"))
    assert [c.name for c in with_conformance(only)] == ["environment", "server", "conformance"]
    assert with_conformance(with_conformance(only)) == with_conformance(only)


def test_independent_checks_run_at_the_same_time(root: Path) -> None:
    line = Timeline()
    report, events = run(
        root,
        Check("a", line.check("a")),
        Check("b", line.check("b", seconds=0.3, meet=True), ("a",)),
        Check("c", line.check("c", meet=True), ("a",)),
        Check("d", line.check("d"), ("c",)),
    )
    assert report.status == COMPLETE  # b and c met at the barrier: they ran concurrently
    assert line.overlap("b", "c") and not line.overlap("a", "b")
    # d needed only c: it ran while b was still sleeping, and saw c's result
    assert line.spans["d"][0] < line.spans["b"][1]
    assert "c" in report.checks[3]["figures"]["seen"]
    # the report keeps the declared order, whatever the order of finishing
    assert [c["name"] for c in report.checks] == ["a", "b", "c", "d"]
    finished = [d["name"] for e, d in events if e == "check_finished"]
    assert finished.index("d") < finished.index("b")
    started = [d["index"] for e, d in events if e == "check_started"]
    assert started == [0, 1, 2, 3]
    assert events[-1][0] == "verify_finished" and events[-1][1]["seconds"] >= 0


def test_one_job_runs_the_checks_one_after_another(root: Path) -> None:
    line = Timeline(parties=1)
    checks = [Check(n, line.check(n, seconds=0.05), ("a",) if n != "a" else ()) for n in "abc"]
    report, _ = run(root, *checks, jobs=1)
    assert report.status == COMPLETE
    assert not line.overlap("b", "c")


def test_the_long_checks_start_first(root: Path) -> None:
    line = Timeline(parties=1)
    names = ["lint", "migrations", "server", "tests"]
    report, events = run(root, *(Check(n, line.check(n)) for n in names), jobs=1)
    started = [d["name"] for e, d in events if e == "check_started"]
    assert started == ["server", "tests", "lint", "migrations"]
    assert [c["name"] for c in report.checks] == names


def test_after_orders_without_needing_a_pass(root: Path) -> None:
    line = Timeline(parties=1)
    report, _ = run(
        root,
        Check("a", line.check("a", seconds=0.2, ok=False)),
        Check("b", line.check("b"), after=("a",)),
        Check("c", line.check("c"), ("a",)),
    )
    statuses = {c["name"]: c["status"] for c in report.checks}
    assert statuses == {"a": "failed", "b": "passed", "c": "skipped"}
    assert line.spans["b"][0] >= line.spans["a"][1]


def test_quick_runs_the_quick_checks_and_is_never_complete(root: Path) -> None:
    line = Timeline(parties=1)
    names = ["environment", "lint", "security", "tests", "migrations", "server", "contract"]
    report, _ = run(root, *(Check(n, line.check(n)) for n in names), quick=True)
    assert sorted(line.spans) == ["environment", "lint", "migrations", "tests"]
    assert [c["name"] for c in report.checks] == ["environment", "lint", "tests", "migrations"]
    assert report.status == QUICK and report.data["mode"] == "quick"
    block = report.status_block().splitlines()
    assert block[0] == "STATUS: QUICK"
    assert block[-2].startswith("NEXT: run the full `backforge verify ")


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
    last = events[-1][1]
    assert last["status"] == COMPLETE and last["report"] == str(root / "backforge-report.json")


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


def test_an_interrupted_run_ends_the_commands_its_checks_started(root: Path) -> None:
    def sleeper(ctx: VerifyContext) -> Outcome:
        done = proc.run(["sleep", "120"], cwd=root, env=dict(os.environ), timeout=300)
        return Outcome(done.ok, {}, "slept")

    def interrupted(ctx: VerifyContext) -> Outcome:
        time.sleep(0.5)  # the sleeper's command is running by now
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run(root, Check("a", sleeper), Check("b", interrupted))
    assert time.monotonic() - started < 60  # not the 120 s of the sleeper's command
    assert proc.kill_running() == 0  # nothing left going
