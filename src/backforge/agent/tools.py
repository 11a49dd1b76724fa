"""What each MCP tool does, without the MCP SDK: plain functions from arguments to the shapes of
`shapes.py`, every path confined to a `Workspace`. `server.py` wraps them as tools."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

from backforge.agent import shapes
from backforge.agent.workspace import Workspace
from backforge.errors import BackforgeError, Problem, SpecError
from backforge.report import REPORT_FILE
from backforge.verify import LOAD_REQUESTS

Progress = Callable[[str, dict[str, Any]], None]

GUIDE = """\
# Writing a backforge spec

A spec is one YAML file: `service` (a `name`: lowercase letters, digits, `_`) and `resources`
(at least one, by PascalCase name), each with `fields`. A field is a type name (`bio: text`)
or a mapping with `type` and its options (`title: {type: string, max_length: 200, required: true}`).

Field types: {types}; `enum` takes `values`, `ref` and `many` take `to`,
`decimal` takes `precision` and `scale`. `id`, `created_at` and `updated_at` are automatic.
Per resource: `filter`, `sort`, `indexes`, `unique_together`; `searchable: true` on a string
field. Optional sections: `api` (base_path, pagination), `auth`, `limits`, `flags`, `seed`.

Work in this order: write the spec, call `validate_spec` and fix every problem it lists (each has
file, line, path and a fix) until `ok` is true; `plan` shows what generating would write;
`generate` with `apply: true` writes the project; `verify` runs every check and returns the
STATUS block. Business rules go only in the user-owned files `<package>/<resource>/hooks.py` and
`<package>/custom.py`: backforge writes them once and never overwrites them. The complete
reference is the resource `backforge://docs/spec.md`; working specs are `backforge://examples/...`.
"""


def spec_schema() -> shapes.SpecSchema:
    from backforge.spec.jsonschema import spec_json_schema
    from backforge.spec.model import FieldTypeName

    guide = GUIDE.replace("{types}", ", ".join(get_args(FieldTypeName)))
    return shapes.SpecSchema(json_schema=spec_json_schema(), guide=guide)


def validate_spec(ws: Workspace, spec: str, text: str | None = None) -> shapes.Validation:
    """Validate the spec file `spec` (or `text`, reported under the name `spec`)."""
    from backforge.spec import load_spec, load_spec_text

    path = ws.path(spec, what="spec")
    name = ws.relative(path)
    try:
        loaded = load_spec_text(text, str(path)) if text is not None else load_spec(path)
    except SpecError as exc:
        return shapes.Validation(
            ok=False,
            file=name,
            service=None,
            resources=0,
            fields=0,
            problems=[_problem(ws, p) for p in exc.problems],
            notes=[],
        )
    return shapes.Validation(
        ok=True,
        file=name,
        service=loaded.service.name,
        resources=len(loaded.resources),
        fields=sum(len(r.fields) for r in loaded.resources.values()),
        problems=[],
        notes=loaded.accepted_but_not_generated(),
    )


def plan(ws: Workspace, spec: str, directory: str) -> shapes.Plan:
    from backforge.plan import make_plan

    spec_path = ws.path(spec, what="spec")
    out = ws.path(directory, what="directory")
    return _plan_shape(ws, make_plan(spec_path, out).as_dict())


def generate(
    ws: Workspace,
    spec: str,
    directory: str,
    *,
    apply: bool = False,
    allow_destructive: bool = False,
    force: bool = False,
) -> shapes.Generation:
    """A dry run (the plan) unless `apply`; applying refuses what `backforge generate` refuses."""
    from backforge.generate import generate as write_project
    from backforge.plan import make_plan

    spec_path = ws.path(spec, what="spec")
    out = ws.path(directory, what="directory")
    planned = _plan_shape(ws, make_plan(spec_path, out).as_dict())
    where = ws.relative(out)
    if not apply:
        files = planned.files
        count = len(files.added) + len(files.changed) + len(files.header_only)
        needs = [_tool_option(n) for n in planned.generate_needs]
        message = (
            f"dry run, nothing written: {count} file(s) would be written in {where}"
            + (f", {len(files.removed)} removed" if files.removed else "")
            + (f"; applying needs {' and '.join(needs)}" if needs else "")
            + (f"; refused: {'; '.join(planned.refused)}" if planned.refused else "")
            + "; call generate again with apply: true to write them"
        )
        return shapes.Generation(
            applied=False, directory=where, plan=planned, written=None, message=message
        )
    generated = write_project(spec_path, out, force=force, allow_destructive=allow_destructive)
    written = shapes.Written.model_validate(_written(ws, generated))
    message = f"wrote {len(written.changed)} changed file(s) of {len(written.files)} in {where}"
    if written.migration:
        message += f"; new migration {written.migration}"
    return shapes.Generation(
        applied=True, directory=where, plan=planned, written=written, message=message
    )


def verify(
    ws: Workspace,
    directory: str,
    *,
    progress: Progress | None = None,
    database_url: str | None = None,
    seed: int = 20261122,
    fuzz_examples: int = 30,
    load_requests: int = LOAD_REQUESTS,
    contract: str | None = None,
) -> shapes.Verification:
    from backforge.verify import verify_project

    project = ws.path(directory, what="directory")
    report = verify_project(
        project,
        database_url=database_url,
        progress=progress,
        seed=seed,
        fuzz_examples=fuzz_examples,
        load_requests=load_requests,
        contract=ws.path(contract, what="contract") if contract else None,
    )
    data = json.loads(report.to_json())
    return shapes.Verification(
        status=report.status,  # type: ignore[arg-type]
        status_block=report.status_block(),
        summary=str(data.get("summary", "")),
        report_path=ws.relative(report.path) if report.path else None,
        checks=[
            shapes.CheckSummary(
                name=c["name"], status=c["status"], seconds=c["seconds"], headline=c["headline"]
            )
            for c in report.checks
        ],
        report=data,
    )


def explain_report(ws: Workspace, path: str) -> shapes.Explanation:
    """Read a backforge-report.json (or the project directory holding one) and say what failed."""
    from backforge.report import render_status_block

    target = ws.path(path, what="report")
    if target.is_dir():
        target = target / REPORT_FILE
    if not target.is_file():
        raise BackforgeError(f"no report at {ws.relative(target)}: run verify first")
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackforgeError(f"{ws.relative(target)} is not a backforge report: {exc}") from None
    if not isinstance(data, dict) or "status" not in data:
        raise BackforgeError(f"{ws.relative(target)} is not a backforge report (no status)")
    checks = [c for c in data.get("checks", []) if isinstance(c, dict)]
    findings = [
        _finding(c, str(data.get("project_dir", "")))
        for wanted in ("error", "failed")
        for c in checks
        if c.get("status") == wanted
    ]
    if not checks and data["status"] == "ERROR":
        findings.append(
            shapes.Finding(
                check="verify",
                status="error",
                headline="could not run",
                detail=str(data.get("blocker") or data.get("summary") or ""),
                likely_fix="point verify at a directory written by generate (it holds "
                ".backforge/manifest.json), then verify again",
                files=[],
            )
        )
    return shapes.Explanation(
        status=data["status"],
        summary=str(data.get("summary", "")),
        report_path=ws.relative(target),
        status_block=str(data.get("status_block") or render_status_block(data)),
        findings=findings,
        skipped=[str(c.get("name")) for c in checks if c.get("status") == "skipped"],
        next=str(data.get("next", "")),
    )


# --- helpers -----------------------------------------------------------------------------------

LIKELY_FIX = {
    "environment": "the project's pinned environment could not be built or imported: read the "
    "pip output in the detail (a requirement that does not resolve, no network); nothing in the "
    "project code is at fault until this passes",
    "lint": "ruff found problems, almost always in a hand-written file (hooks.py, custom.py): run "
    "`ruff check --fix` and `ruff format` in the project, then fix what remains by hand",
    "security": "bandit found a medium or high severity issue at the file:line in the detail; "
    "fix it in your own code (hooks.py, custom.py), never by editing generated files",
    "tests": "a generated test failed or coverage fell under the minimum: most often a business "
    "rule in <package>/<resource>/hooks.py rejects data the generated tests send; run the "
    "failing test named in the detail with pytest and adjust the rule or the spec",
    "migrations": "models and migrations disagree or a revision does not apply/revert: regenerate "
    "with generate (never edit migrations/versions by hand) and check plan's database steps",
    "server": "the service did not start or answer /healthz and /readyz: an import error or "
    "exception at start-up, usually in hooks.py or custom.py; the detail has the server's log",
    "contract": "schemathesis found a response that breaks openapi.json, or a 5xx: a hook that "
    "raises instead of answering 4xx, or a custom endpoint whose response model is wrong; the "
    "detail names the operation and the request that reproduces it",
    "load": "requests failed (5xx or transport errors) under the smoke load: look for slow or "
    "failing hooks on list endpoints and for database errors in the detail",
    "observability": "/metrics or the request id did not show the traffic: custom middleware or "
    "endpoints that bypass the generated app's handlers",
    "resilience": "the service did not drain on SIGTERM or recover from a database outage: "
    "blocking work in a hook, or a custom endpoint that swallows database errors",
}

_FILE_LINE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.py):(\d+)")


def _finding(check: dict[str, Any], project_dir: str) -> shapes.Finding:
    detail = str(check.get("detail") or "")
    lines = [line for line in detail.splitlines() if line.strip()]
    files = sorted({f"{m.group(1)}:{m.group(2)}" for m in _FILE_LINE.finditer(detail)})
    if project_dir:
        prefix = project_dir.rstrip("/") + "/"
        files = sorted({f.removeprefix(prefix) for f in files})
    name = str(check.get("name"))
    fix = LIKELY_FIX.get(name, "read the detail, fix the cause, then verify again")
    if check.get("status") == "error":
        fix = "verify could not run this check (not a fault of the project): " + fix
    return shapes.Finding(
        check=name,
        status=check["status"],
        headline=str(check.get("headline") or ""),
        detail="\n".join(lines[:12]),
        likely_fix=fix,
        files=files[:20],
    )


def _problem(ws: Workspace, problem: Problem) -> shapes.Problem:
    data = problem.as_dict()
    data["file"] = ws.relative(Path(str(data["file"]))) if data["file"] else ""
    return shapes.Problem.model_validate(data)


def _plan_shape(ws: Workspace, data: dict[str, Any]) -> shapes.Plan:
    data["spec"] = ws.relative(Path(data["spec"]))
    data["directory"] = ws.relative(Path(data["directory"]))
    return shapes.Plan.model_validate(data)


def _written(ws: Workspace, generated: Any) -> dict[str, Any]:
    """The `backforge generate --json` document for `generated`."""
    data: dict[str, Any] = generated.as_json()
    data["directory"] = ws.relative(Path(data["directory"]))
    return data


def _tool_option(cli_option: str) -> str:
    return {"--allow-destructive": "allow_destructive: true", "--force": "force: true"}.get(
        cli_option, cli_option
    )
