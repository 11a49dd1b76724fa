"""The delivery report (R1) and its status block (R2), built from a project and its check results.

`backforge-report.json` is written with a fixed key order and 2-space indent. Everything in it is
read from the project (manifest, openapi.json, requirements, migrations, tests) or measured by a
check; nothing is estimated.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from backforge import __version__
from backforge.report.facts import (
    api_endpoints,
    configuration,
    database,
    documentation,
    files_count,
    import_graph,
    models,
    resources,
    services,
    tests_summary,
)
from backforge.report.operations import operations
from backforge.report.owasp import owasp_top10

if TYPE_CHECKING:
    from backforge.verify.project import Project
    from backforge.verify.result import CheckResult

REPORT_FILE = "backforge-report.json"
COMPLETE, BLOCKED, ERROR = "COMPLETE", "BLOCKED", "ERROR"
# `verify --quick` passed: lint, tests and migrations are fine, the rest was not run (no delivery)
QUICK = "QUICK"
FULL_ONLY = ("security", "server", "contract", "load", "observability", "resilience")
BLOCKER_WIDTH = 240
NAMED = 6  # operations NEXT names when the conformance check fails


@dataclass(frozen=True)
class Report:
    """A built report: its JSON data and, once written, where it is."""

    data: dict[str, Any]
    path: Path | None = None

    @property
    def status(self) -> str:
        return str(self.data["status"])

    @property
    def checks(self) -> list[dict[str, Any]]:
        return list(self.data.get("checks", []))

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False) + "\n"

    def status_block(self) -> str:
        return render_status_block(self)


def overall_status(checks: Sequence[Mapping[str, Any]], *, quick: bool = False) -> str:
    """ERROR if verify could not run a check, BLOCKED if one failed, COMPLETE if all passed
    (QUICK instead when only the --quick checks ran)."""
    statuses = [c["status"] for c in checks]
    if not statuses or "error" in statuses:
        return ERROR
    if all(s == "passed" for s in statuses):
        return QUICK if quick else COMPLETE
    return BLOCKED


def _first_problem(checks: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for wanted in ("error", "failed"):
        for check in checks:
            if check["status"] == wanted:
                return check
    return None


def _summary(
    name: str,
    version: str,
    facts: dict[str, Any],
    checks: list[dict[str, Any]],
    quick: bool,
    database: str = "sqlite",
) -> str:
    head = f"{name} {version}".strip()
    shape = f"{facts['endpoints']} endpoints, {facts['resources']} resources"
    passed = [c for c in checks if c["status"] == "passed"]
    if len(passed) == len(checks) and quick:
        verdict = f"all {len(checks)} --quick checks passed, {', '.join(FULL_ONLY)} not run"
    elif len(passed) == len(checks):
        verdict = f"all {len(checks)} checks passed"
    else:
        others = [f"{c['name']} {c['status']}" for c in checks if c["status"] != "passed"]
        verdict = f"{len(passed)}/{len(checks)} checks passed; {', '.join(others)}"
    verdict += f" on {database}"
    by_name = {c["name"]: c["figures"] for c in checks}
    measured = []
    tests = by_name.get("tests") or {}
    if "passed" in tests:
        measured.append(f"tests {tests['passed']} passed")
    if tests.get("coverage_percent") is not None:
        measured.append(f"coverage {tests['coverage_percent']}%")
    if "p95_ms" in (by_name.get("load") or {}):
        measured.append(f"p95 {by_name['load']['p95_ms']} ms")
    return f"{head}: {shape}; {verdict}" + (f" ({', '.join(measured)})" if measured else "")


def _next(
    status: str,
    root: Path,
    package: str,
    problem: Mapping[str, Any] | None,
    quick: bool,
    checks: Sequence[Mapping[str, Any]] = (),
) -> str:
    if status == COMPLETE:
        return f"run it: cd {root} && uvicorn {package}.main:app"
    if status == QUICK:
        return f"run the full `backforge verify {root}` before delivering it"
    assert problem is not None
    again = f"backforge verify --quick {root}" if quick else f"backforge verify {root}"
    contract = next(
        (c["figures"].get("contract") for c in checks if c["name"] == "conformance"), None
    )
    if contract:
        again += f" --contract {contract}"
    if status == BLOCKED:
        return f"{_fix(problem)}, then run `{again}` again"
    return f"fix what stopped the {problem['name']} check, then run `{again}` again"


def _fix(problem: Mapping[str, Any]) -> str:
    """What to do about a failed check; conformance names the operations that differ."""
    per_operation = problem["figures"].get("per_operation") or []
    differ = [r["operation"] for r in per_operation if r.get("status") != "conformant"]
    if problem["name"] != "conformance" or not differ:
        return f"fix the {problem['name']} failure"
    named = ", ".join(differ[:NAMED]) + (
        f" and {len(differ) - NAMED} more" if len(differ) > NAMED else ""
    )
    return f"make {named} answer as the contract says (or correct the contract)"


def build_report(
    project: Project,
    results: Sequence[CheckResult],
    *,
    started: dt.datetime,
    finished: dt.datetime,
    database: str = "sqlite",
    notes: Sequence[str] = (),
    quick: bool = False,
    machine: Mapping[str, Any] | None = None,
    environment: Path | None = None,
) -> Report:
    """The full report for `project` after its checks ran (`quick`: only verify --quick's)."""
    root, manifest, openapi = project.root, project.manifest, project.openapi or {}
    checks = [r.as_dict() for r in results]
    status = overall_status(checks, quick=quick)
    endpoints = api_endpoints(root, openapi, manifest)
    graph = import_graph(root, project.package, environment)  # ruff, once: services and OWASP
    facts = {"endpoints": len(endpoints), "resources": len(resources(openapi, manifest))}
    summary = _summary(
        project.service_name, project.service_version, facts, checks, quick, database
    )
    problem = _first_problem(checks)
    blocker = _blocker(problem)
    if status == QUICK:
        blocker = f"not verified in full: --quick does not run {', '.join(FULL_ONLY)}"
    data: dict[str, Any] = {
        "status": status,
        "summary": summary,
        "status_block": "",
        "next": _next(status, root, project.package, problem, quick, checks),
        "blocker": blocker,
        "project_dir": str(root),
        "service": {"name": project.service_name, "version": project.service_version},
        "generator": project.generator,
        "verifier": {"name": "backforge", "version": __version__},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "seconds": round((finished - started).total_seconds(), 1),
        "mode": "quick" if quick else "full",
        # the checks' own durations added up: more than `seconds` when they ran concurrently
        "checks_seconds": round(sum(r.seconds for r in results), 1),
        # the machine verify ran on: its cores, load average (start, end), CPU time of the checks
        "machine": dict(machine or {}),
        "api_endpoints": endpoints,
        "services": services(root, project.package, manifest, graph),
        "models": models(openapi),
        "database": database_facts(manifest, checks, database),
        "middleware": list(manifest.get("middleware") or []),
        "configuration": configuration(root, manifest),
        "tests": tests_summary(root, checks, manifest),
        "documentation": documentation(root, openapi),
        "files_count": files_count(root),
        "checks": checks,
        "operations": operations(root, manifest, checks),
        "owasp_api_top10": owasp_top10(root, manifest, openapi, checks, graph),
        "notes": list(notes),
    }
    report = Report(data)
    data["status_block"] = render_status_block(report)
    return report


def database_facts(
    manifest: Mapping[str, Any], checks: Sequence[Mapping[str, Any]], engine: str
) -> dict[str, Any]:
    return {"verified_on": engine, **database(manifest, checks)}


def _blocker(problem: Mapping[str, Any] | None) -> str | None:
    if problem is None:
        return None
    first = next((line for line in str(problem["detail"]).splitlines() if line.strip()), "")
    if len(first) > BLOCKER_WIDTH:
        first = first[: BLOCKER_WIDTH - 1] + "…"
    return f"{problem['name']} {problem['status']}: {first}".rstrip(": ")


def error_report(project_dir: Path, message: str) -> Report:
    """The report for a run that could not start (not a project, unusable options)."""
    first = message.strip().splitlines()[0] if message.strip() else "verify could not run"
    data: dict[str, Any] = {
        "status": ERROR,
        "summary": f"verify could not run: {first}",
        "status_block": "",
        "next": "point `backforge verify` at a directory made by `backforge generate`",
        "blocker": f"verify: {first}",
        "project_dir": str(project_dir),
        "files_count": files_count(project_dir) if Path(project_dir).is_dir() else 0,
        "checks": [],
    }
    report = Report(data)
    data["status_block"] = render_status_block(report)
    return report


def render_status_block(report: Report | Mapping[str, Any]) -> str:
    """The R2 status block: STATUS, SUMMARY, FILES, NEXT and (unless COMPLETE) BLOCKER."""
    data = report.data if isinstance(report, Report) else report
    lines = [
        f"STATUS: {data['status']}",
        f"SUMMARY: {data['summary']}",
        f"FILES: {data.get('files_count', 0)} files in {data.get('project_dir', '?')}",
    ]
    if data.get("next"):
        lines.append(f"NEXT: {data['next']}")
    if data["status"] != COMPLETE:
        lines.append(f"BLOCKER: {data.get('blocker') or 'unknown'}")
    return "\n".join(lines)


def write_report(report: Report, project_dir: Path) -> Report:
    """Write backforge-report.json into `project_dir` (atomically); the report with its path."""
    path = Path(project_dir) / REPORT_FILE
    partial = path.with_name(f".{REPORT_FILE}.partial")
    partial.write_text(report.to_json(), encoding="utf-8")
    partial.replace(path)
    object.__setattr__(report, "path", path)
    return report
