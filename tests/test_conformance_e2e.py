"""verify --contract for real: the generated bookstore, its server and schemathesis in the shared
project environment, against (1) its own openapi.json, which it conforms to, and (2) a copy
changed in three operations, which verify must report, and nothing else. Only the checks
conformance needs run (environment, server), with few fuzzing examples."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from backforge.generate import generate
from backforge.report import BLOCKED, COMPLETE
from backforge.verify import CHECKS, verify_project

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NEEDED = tuple(c for c in CHECKS if c.name in ("environment", "server"))
EXAMPLES_PER_OPERATION = 3


def conformance(project: Path, contract: Path) -> tuple[Any, dict[str, Any]]:
    report = verify_project(
        project, checks=NEEDED, contract=contract, fuzz_examples=EXAMPLES_PER_OPERATION
    )
    checks = {c["name"]: c for c in report.checks}
    assert list(checks) == ["environment", "server", "conformance"]
    return report, checks["conformance"]


def changed(openapi: dict[str, Any]) -> dict[str, Any]:
    """The service's contract with an operation it lacks, a response property it never returns
    and a create that answers 200 (no `default` response to fall back on)."""
    contract = copy.deepcopy(openapi)
    paths = contract["paths"]
    paths["/api/v1/publishers"] = {"get": {"responses": {"200": {"description": "publishers"}}}}
    read = paths["/api/v1/authors/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    extra = {"type": "object", "required": ["nickname"], "properties": {"nickname": {}}}
    read["schema"] = {"allOf": [read["schema"], extra]}
    create = paths["/api/v1/tags"]["post"]["responses"]
    assert "default" not in create
    create["200"] = create.pop("201")
    return contract


def test_conformance_to_the_services_own_contract_and_to_a_changed_one(tmp_path: Path) -> None:
    project = generate(EXAMPLES / "bookstore.yaml", tmp_path / "bookstore").directory
    openapi = json.loads((project / "openapi.json").read_text())
    operations = sum(
        1 for item in openapi["paths"].values() for m in item if m not in ("parameters",)
    )
    same = tmp_path / "agreed.json"
    same.write_text(json.dumps(openapi))

    report, check = conformance(project, same)
    figures = check["figures"]
    assert report.status == COMPLETE, (report.status_block(), check["detail"])
    assert (figures["operations"], figures["conformant"]) == (operations, operations)
    assert {r["status"] for r in figures["per_operation"]} == {"conformant"}
    assert figures["requests"] > operations and figures["base_url"].count("/") == 2
    assert "GET /api/v1/books/{id}/tags" in {r["operation"] for r in figures["per_operation"]}

    other = tmp_path / "contracts" / "agreed-v2.yaml"  # YAML this time
    other.parent.mkdir()
    other.write_text(yaml.safe_dump(changed(openapi), sort_keys=False))
    report, check = conformance(project, other)
    figures = check["figures"]
    assert report.status == BLOCKED and check["status"] == "failed"
    assert (figures["operations"], figures["missing"], figures["different"]) == (
        operations + 1,
        1,
        2,
    )
    assert figures["conformant"] == operations - 2
    differing = {
        r["operation"]: [d["kind"] for d in r["differences"]]
        for r in figures["per_operation"]
        if r["status"] != "conformant"
    }
    assert differing == {
        "GET /api/v1/authors/{id}": ["shape"],
        "POST /api/v1/tags": ["status"],
        "GET /api/v1/publishers": ["missing"],
    }
    status = next(r for r in figures["per_operation"] if r["operation"] == "POST /api/v1/tags")
    example = status["differences"][0]
    assert example["check"] == "status_code_conformance"
    assert example["request"] == {"method": "POST", "path": "/api/v1/tags", "status": 201}
    block = report.status_block()
    for name in differing:
        assert name in block  # BLOCKER and NEXT name every operation that differs
    assert f"--contract {other}" in report.data["next"]
    written = json.loads((project / "backforge-report.json").read_text())
    assert written["checks"][-1]["figures"]["per_operation"] == figures["per_operation"]
    assert not list(project.rglob("agreed*")) and not (project / "schemathesis-report").exists()
