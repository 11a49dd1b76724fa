"""The list of checks and `verify_project`, which runs them in order and writes the report.

To add a check: write a module with `check(ctx: VerifyContext) -> Outcome` and add it to CHECKS,
naming the checks it needs; a check whose needs did not pass is recorded as skipped.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backforge.report import Report, build_report, write_report
from backforge.verify import (
    contract,
    environment,
    lint,
    load,
    migrations,
    observability,
    resilience,
    security,
    server,
    testsuite,
)
from backforge.verify.context import VerifyContext
from backforge.verify.proc import tail
from backforge.verify.project import load_project
from backforge.verify.result import CheckError, CheckResult, Outcome
from backforge.verify.scratchdb import engine_of

Progress = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[VerifyContext], Outcome]
    needs: tuple[str, ...] = ()


CHECKS: tuple[Check, ...] = (
    Check("environment", environment.check),
    Check("lint", lint.check, ("environment",)),
    Check("security", security.check, ("environment",)),
    Check("tests", testsuite.check, ("environment",)),
    Check("migrations", migrations.check, ("environment",)),
    Check("server", server.check, ("environment",)),
    Check("contract", contract.check, ("server",)),
    Check("load", load.check, ("server",)),
    Check("observability", observability.check, ("load",)),
    Check("resilience", resilience.check, ("environment",)),
)


def verify_project(
    project_dir: Path,
    *,
    database_url: str | None = None,
    progress: Progress | None = None,
    seed: int = 20261122,
    fuzz_examples: int = 30,
    load_requests: int = 300,
    checks: tuple[Check, ...] = CHECKS,
) -> Report:
    """Run every check on the generated project at `project_dir`; write backforge-report.json.

    Raises ProjectError when `project_dir` is not a generated project, DatabaseUrlError for a
    database URL verify cannot use. `progress(event, data)` hears "check_started" ({name, index,
    total}), "check_finished" ({name, status, ok, seconds, figure, figures, detail}) and
    "verify_finished" ({status, report}).
    """
    project = load_project(Path(project_dir))
    engine_of(database_url)
    emit = progress or (lambda event, data: None)
    started = dt.datetime.now(dt.UTC)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="backforge-verify-") as tmp:
        stack = ExitStack()
        ctx = VerifyContext(
            project=project,
            workdir=Path(tmp),
            stack=stack,
            database_url=database_url,
            seed=seed,
            fuzz_examples=fuzz_examples,
            load_requests=load_requests,
        )
        try:
            for index, check in enumerate(checks):
                emit("check_started", {"name": check.name, "index": index, "total": len(checks)})
                result = run_check(check, ctx)
                ctx.results[check.name] = result
                emit("check_finished", _event(result))
        finally:
            try:
                stack.close()
            except Exception as exc:  # cleanup must not hide the results
                notes.append(f"cleanup failed: {type(exc).__name__}: {exc}")
    report = build_report(
        project,
        list(ctx.results.values()),
        started=started,
        finished=dt.datetime.now(dt.UTC),
        database=engine_of(database_url),
        notes=notes,
    )
    write_report(report, project.root)
    emit("verify_finished", {"status": report.status, "report": str(report.path)})
    return report


def run_check(check: Check, ctx: VerifyContext) -> CheckResult:
    """Run one check, turning what it raises into an "error" result."""
    unmet = [need for need in check.needs if not (ctx.results.get(need) and ctx.results[need].ok)]
    if unmet:
        reason = f"skipped: needs {unmet[0]}, which did not pass"
        return CheckResult(check.name, "skipped", detail=reason, headline="skipped")
    started = time.monotonic()
    try:
        outcome = check.run(ctx)
    except CheckError as exc:
        seconds = time.monotonic() - started
        return CheckResult(check.name, "error", seconds, exc.figures, str(exc), "could not run")
    except Exception as exc:  # verify's own fault: reported, not raised
        seconds = time.monotonic() - started
        detail = f"{type(exc).__name__}: {exc}\n{tail(traceback.format_exc(), 12)}"
        return CheckResult(check.name, "error", seconds, {}, detail, "verify fault")
    status = "passed" if outcome.ok else "failed"
    seconds = time.monotonic() - started
    return CheckResult(
        check.name, status, seconds, outcome.figures, outcome.detail, outcome.headline
    )


def _event(result: CheckResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "status": result.status,
        "ok": result.ok,
        "seconds": round(result.seconds, 3),
        "figure": result.headline,
        "figures": result.figures,
        "detail": result.detail,
    }
