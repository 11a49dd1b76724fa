"""What `backforge import openapi` found: each operation of the contract (mapped, changed
with the differences, or not mapped with the reason), the resources it makes, and the report
and summary of the whole import."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backforge.errors import ProjectError
from backforge.importers.contract import Schema


@dataclass
class Operation:
    method: str
    path: str  # as the contract writes it
    body: dict[str, Any]
    file: Path
    pointer: str
    status: str = "mapped"
    reasons: list[str] = field(default_factory=list)
    resource: str | None = None
    action: str | None = None

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def change(self, reason: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        if self.status == "mapped":
            self.status = "changed"

    def refuse(self, reason: str) -> None:
        self.status, self.reasons = "not_mapped", [reason]

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"operation": self.key, "status": self.status}
        if self.resource:
            entry.update(resource=self.resource, action=self.action)
        if self.reasons:
            entry["reasons"] = self.reasons
        return entry


@dataclass
class Resource:
    name: str
    plural: str
    collection: str
    item: str | None
    operations: list[Operation]
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)  # field → why it differs
    filters: list[str] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)
    schema: Schema | None = None  # the record as the contract reads it
    lookup: str | None = None  # the field an item path names records by, if not the id


@dataclass
class Imported:
    """What an import produced: the spec text and the report of every operation."""

    contract: Path
    version: str
    title: str
    spec_text: str
    operations: list[Operation]
    notes: list[str]

    def report(self) -> dict[str, Any]:
        counts = {s: 0 for s in ("mapped", "changed", "not_mapped")}
        for op in self.operations:
            counts[op.status] += 1
        return {
            "contract": str(self.contract),
            "openapi": self.version,
            "title": self.title,
            "operations": [op.as_dict() for op in self.operations],
            "counts": counts,
            "notes": self.notes,
        }

    def summary(self, output: Path) -> str:
        counts = self.report()["counts"]
        lines = [
            f"imported {self.contract.name} (OpenAPI {self.version}) into {output}: "
            f"{counts['mapped']} operations mapped, {counts['changed']} mapped with changes, "
            f"{counts['not_mapped']} not mapped"
        ]
        for op in self.operations:
            mark = {"mapped": "ok     ", "changed": "changed", "not_mapped": "not    "}[op.status]
            lines.append(f"  {mark} {op.key}" + (f": {'; '.join(op.reasons)}" * bool(op.reasons)))
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)

    def write(self, output: Path, *, report: Path | None = None, force: bool = False) -> None:
        for target in (output, report):
            if target is None:
                continue
            if target.exists() and not force:
                raise ProjectError(f"{target} already exists; choose another path or --force")
            if not target.parent.is_dir():
                raise ProjectError(f"{target.parent} is not a directory; create it first")
        output.write_text(self.spec_text, encoding="utf-8")
        if report is not None:
            report.write_text(json.dumps(self.report(), indent=2) + "\n", encoding="utf-8")
