"""The JSON shapes the MCP tools return (their output schemas), version 1.

Documented in docs/json-output.md. The field names and meanings are the CLI's `--json` output
where that exists (`validate`, `plan`, `generate`, `verify`): the tools build them from the same
functions (`Problem.as_dict`, `Plan.as_dict`, the report). A change that removes or renames a
field, or changes its meaning, bumps SCHEMA_VERSION; adding a field does not.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION, description="version of this JSON shape (docs/json-output.md)"
    )


class Problem(BaseModel):
    """One thing wrong with a spec (backforge.errors.Problem)."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="the spec file, relative to the workspace root")
    line: int | None = Field(description="1-based line in that file, when known")
    path: str = Field(description="where in the spec, e.g. resources.Book.fields.price")
    message: str
    fix: str = Field(description="what to change; empty when there is nothing specific")


class SpecSchema(Shape):
    json_schema: dict[str, Any] = Field(
        description="the JSON Schema (draft 2020-12) of the spec language"
    )
    guide: str = Field(description="how to write a spec, in a few paragraphs of Markdown")


class Validation(Shape):
    ok: bool = Field(description="true when the spec has no problems")
    file: str
    service: str | None = Field(description="the service name, when the spec is valid")
    resources: int = Field(description="resources in a valid spec (0 when it is not)")
    fields: int = Field(description="fields over every resource (0 when it is not valid)")
    problems: list[Problem]
    notes: list[str] = Field(description="accepted but not generated yet")


class PlanFiles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    added: list[str]
    changed: list[str] = Field(description="changed beyond their generated-by header")
    header_only: list[str] = Field(description="only the spec hash in their header changes")
    removed: list[str]
    blocked: list[str] = Field(description="changed by hand: generating needs force")


class Migration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str
    down_revision: str | None


class DatabaseStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: str
    table: str
    summary: str
    destructive: bool
    loses: str | None = Field(description="the data the step loses, when destructive")


class ApiChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resource: str
    field: str
    summary: str
    breaking: bool


class Plan(Shape):
    """`backforge plan --json`: what regenerating a project from a spec would change."""

    ok: bool
    spec: str
    directory: str
    service: str
    new_project: bool
    spec_changed: bool
    files: PlanFiles
    migration: Migration | None
    database: list[DatabaseStep]
    api: list[ApiChange]
    notes: list[str] = Field(description="where the migration stops, changing nothing, on bad rows")
    breaking: int = Field(description="how many API changes are breaking")
    destructive: int = Field(description="how many database steps lose data")
    generate_needs: list[str] = Field(
        description="options generating needs: --allow-destructive (tool: allow_destructive), "
        "--force (tool: force)"
    )
    refused: list[str] = Field(description="changes generate refuses whatever the options")


class Destructive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    summary: str
    loses: str


class Written(BaseModel):
    """`backforge generate --json`: what was written."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    directory: str
    files: list[str] = Field(description="every generated file of the project")
    changed: list[str] = Field(description="the files this run wrote or changed")
    seconds: float
    notes: list[str]
    migration: str | None = Field(description="the migration revision file this run added")
    breaking: list[ApiChange]
    destructive: list[Destructive]


class Generation(Shape):
    applied: bool = Field(description="false for a dry run: nothing was written")
    directory: str
    plan: Plan = Field(description="what the run would change (dry run) or changed (applied)")
    written: Written | None = Field(description="set when applied")
    message: str


class CheckSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    status: Literal["passed", "failed", "error", "skipped"]
    seconds: float
    headline: str


class Verification(Shape):
    status: Literal["COMPLETE", "BLOCKED", "ERROR"]
    status_block: str = Field(description="the STATUS / SUMMARY / FILES / NEXT / BLOCKER block")
    summary: str
    report_path: str | None = Field(description="backforge-report.json, relative to the root")
    checks: list[CheckSummary]
    report: dict[str, Any] = Field(description="the whole backforge-report.json")


class Finding(BaseModel):
    model_config = ConfigDict(extra="forbid")

    check: str
    status: Literal["failed", "error"]
    headline: str
    detail: str = Field(description="the first lines of the check's detail")
    likely_fix: str
    files: list[str] = Field(description="project files the detail names (path:line)")


class Explanation(Shape):
    status: Literal["COMPLETE", "BLOCKED", "ERROR"]
    summary: str
    report_path: str
    status_block: str
    findings: list[Finding] = Field(description="what failed, first cause first")
    skipped: list[str] = Field(description="checks skipped because a check they need failed")
    next: str
