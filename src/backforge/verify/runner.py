"""The list of checks and `verify_project`, which runs them and writes the report.

To add a check: write a module with `check(ctx: VerifyContext) -> Outcome` and add it to CHECKS,
naming the checks it needs (they must pass first; if one did not, it is recorded as skipped) and
the checks it must come after whatever their outcome. Checks run concurrently as soon as what
they need and follow has finished, up to `jobs` at a time (one per core by default), the long
ones (FIRST) before the others; the report lists them in CHECKS order, however they interleaved.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backforge.contractfile import load_contract
from backforge.errors import ProjectError
from backforge.report import Report, build_report, write_report
from backforge.verify import (
    LOAD_REQUESTS,
    conformance,
    contract,
    environment,
    events,
    lint,
    load,
    migrations,
    observability,
    resilience,
    security,
    server,
    signin,
    testsuite,
)
from backforge.verify.context import VerifyContext
from backforge.verify.proc import kill_running, tail
from backforge.verify.project import load_project
from backforge.verify.result import CheckError, CheckResult, Outcome
from backforge.verify.scratchdb import engine_of

Progress = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[VerifyContext], Outcome]
    needs: tuple[str, ...] = ()  # must have passed
    after: tuple[str, ...] = ()  # must have finished, whatever the outcome


ALONE = ("lint", "security", "tests", "migrations", "contract", "conformance", "resilience")
CHECKS: tuple[Check, ...] = (
    Check("environment", environment.check),
    Check("lint", lint.check, ("environment",)),
    Check("security", security.check, ("environment",)),
    Check("tests", testsuite.check, ("environment",)),
    Check("migrations", migrations.check, ("environment",)),
    Check("server", server.check, ("environment",)),
    Check("contract", contract.check, ("server",)),
    # the load's latencies are measured alone: on a server nobody else is fuzzing, with no other
    # check using the CPU (observability, which reads what the load left, comes after it)
    Check("load", load.check, ("server",), after=ALONE),
    Check("observability", observability.check, ("load",)),
    Check("resilience", resilience.check, ("environment",)),
    # only for a spec with events (see `verify_project`): what the changes above wrote
    Check("events", events.check, ("server",), after=("contract", "conformance", "load")),
)
# `verify --contract FILE` only: the running service against the user's OpenAPI document.
CONFORMANCE = Check("conformance", conformance.check, ("server",))
# The long ones start first (the server is the head of the longest chain); the short ones fill in
# the gaps, so that they do not slow the critical path down at the start.
FIRST = ("environment", "server", "tests", "contract", "conformance")
# `verify --quick`, for the edit loop: what a code change most often breaks. Never COMPLETE.
QUICK = ("environment", "lint", "tests", "migrations")
QUICK_CHECKS: tuple[Check, ...] = tuple(c for c in CHECKS if c.name in QUICK)
QUICK_REFUSES_CONTRACT = (
    "--contract needs the running service, which --quick does not start: "
    "run `backforge verify DIR --contract FILE` without --quick"
)


def verify_project(
    project_dir: Path,
    *,
    database_url: str | None = None,
    progress: Progress | None = None,
    seed: int = 20261122,
    fuzz_examples: int = 30,
    load_requests: int = LOAD_REQUESTS,
    checks: tuple[Check, ...] = CHECKS,
    quick: bool = False,
    jobs: int | None = None,
    contract: Path | None = None,
) -> Report:
    """Run every check on the generated project at `project_dir`; write backforge-report.json.

    `quick` runs QUICK_CHECKS only (the report's status is then QUICK at best, never COMPLETE);
    `jobs` caps how many checks run at once (1: one after another; default: one per CPU core).
    `contract` (an OpenAPI file) adds the conformance check, after the contract check.
    Raises ProjectError when `project_dir` is not a generated project (or `contract` comes with
    `quick`), ContractError for a contract that cannot be used, DatabaseUrlError for a
    database URL verify cannot use; nothing is written then. `progress(event, data)` hears
    "check_started" ({name, index, total}), "check_finished" ({name, status, ok, seconds,
    figure, figures, detail}) and "verify_finished" ({status, report, seconds}).
    """
    project = load_project(Path(project_dir))
    engine_of(database_url)
    if contract is not None and quick:
        raise ProjectError(QUICK_REFUSES_CONTRACT)
    user_contract = load_contract(contract) if contract is not None else None
    if quick:
        checks = tuple(c for c in checks if c.name in QUICK)
    if not events.events_of(project):
        checks = tuple(c for c in checks if c.name != "events")
    if user_contract is not None:
        checks = with_conformance(checks)
    emit = progress or (lambda event, data: None)
    started = dt.datetime.now(dt.UTC)
    clock, cpu = time.monotonic(), _children_cpu()
    load_before = os.getloadavg()[0]
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
            contract=user_contract,
            auth_environ=signin.auth_environ(project.root, project.package),
        )
        try:
            results = run_checks(checks, ctx, emit, jobs or os.cpu_count() or 2)
            ctx.results.clear()
            ctx.results.update((check.name, results[check.name]) for check in checks)
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
        quick=quick,
        environment=ctx.env.path if ctx.env else None,
        machine={
            "cpus": os.cpu_count(),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "cpu_seconds": round(_children_cpu() - cpu, 1),  # of every command the checks ran
        },
    )
    write_report(report, project.root)
    seconds = round(time.monotonic() - clock, 1)
    emit(
        "verify_finished", {"status": report.status, "report": str(report.path), "seconds": seconds}
    )
    return report


def with_conformance(checks: tuple[Check, ...]) -> tuple[Check, ...]:
    """`checks` with the conformance check, after the contract check (or the server)."""
    names = [c.name for c in checks]
    if CONFORMANCE.name in names:
        return checks
    anchor = next((names.index(n) + 1 for n in ("contract", "server") if n in names), len(names))
    return (*checks[:anchor], CONFORMANCE, *checks[anchor:])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_checks(
    checks: tuple[Check, ...], ctx: VerifyContext, emit: Progress, jobs: int
) -> dict[str, CheckResult]:
    """Run `checks`, each once what it needs and follows has finished, up to `jobs` at a time
    (FIRST ones first, then in the order given).

    Results land in ctx.results as they come (from this thread only), so a check sees the
    results of everything it needs or follows; the progress events are emitted from here too.
    """
    jobs = max(1, jobs)
    names = {check.name for check in checks}
    rank = {name: index for index, name in enumerate(FIRST)}
    waiting = sorted(checks, key=lambda c: (rank.get(c.name, len(FIRST)), checks.index(c)))
    running: dict[Future[CheckResult], Check] = {}
    started = 0

    def ready(check: Check) -> bool:
        return all(n in ctx.results for n in (*check.needs, *check.after) if n in names)

    def finish(check: Check, result: CheckResult) -> None:
        ctx.results[check.name] = result
        emit("check_finished", _event(result))

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="verify") as pool:
        try:
            while waiting or running:
                for check in [c for c in waiting if ready(c)][: jobs - len(running)]:
                    waiting.remove(check)
                    total = len(checks)
                    emit("check_started", {"name": check.name, "index": started, "total": total})
                    started += 1
                    running[pool.submit(run_check, check, ctx)] = check
                if not running:  # only a misdeclared order (a cycle) leaves checks waiting here
                    for check in waiting:
                        finish(check, run_check(check, ctx))
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: checks.index(running[f])):
                    finish(running.pop(future), future.result())
        except BaseException:  # Ctrl-C: end the checks' commands, so that their threads return
            kill_running()
            raise
    return dict(ctx.results)


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
