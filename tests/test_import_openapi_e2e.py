"""From a public contract to a service that honours it: `backforge import openapi`, generate,
start the service and fuzz it against the contract itself (`verify --contract`, the conformance
check). Every operation the import report calls `mapped` must conform; every one it did not
map is missing from the service; the ones it mapped with changes are answered, and what differs
is in the report. The figures of each document are printed for the record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backforge.cli import main
from backforge.generate import generate
from backforge.verify import CHECKS, verify_project

pytestmark = pytest.mark.e2e

CONTRACTS = Path(__file__).parent / "data" / "contracts"
NEEDED = tuple(c for c in CHECKS if c.name in ("environment", "server"))
EXAMPLES_PER_OPERATION = 5


def conformance(tmp_path: Path, contract: Path) -> tuple[dict[str, str], dict[str, Any]]:
    spec, report = tmp_path / "spec.yaml", tmp_path / "import.json"
    assert main(["import", "openapi", str(contract), "-o", str(spec), "--report", str(report)]) == 0
    imported = {
        op["operation"]: op["status"] for op in json.loads(report.read_text())["operations"]
    }
    project = generate(spec, tmp_path / "service").directory
    verified = verify_project(
        project, checks=NEEDED, contract=contract, fuzz_examples=EXAMPLES_PER_OPERATION
    )
    checks = {c["name"]: c for c in verified.checks}
    assert checks["server"]["status"] == "passed", checks["server"]
    figures = checks["conformance"]["figures"]
    found = {op["operation"]: op for op in figures["per_operation"]}
    print(
        contract.name,
        json.dumps(
            {
                k: figures[k]
                for k in ("operations", "conformant", "different", "missing", "requests")
            }
        ),
    )
    return imported, found


def assert_honoured(imported: dict[str, str], found: dict[str, Any]) -> None:
    operations = {op for op in imported if not op.startswith("WEBHOOK ")}
    assert set(found) == operations
    for operation, status in imported.items():
        if status == "mapped":
            assert found[operation]["status"] == "conformant", found[operation]
        elif status == "not_mapped" and operation in found:
            assert found[operation]["status"] == "missing", found[operation]
        elif status == "changed":
            assert found[operation]["status"] in ("conformant", "different"), found[operation]


@pytest.mark.parametrize(
    ("contract", "mapped"),
    [
        ("oai-examples/petstore.yaml", {"GET /pets"}),
        ("oai-examples/petstore-expanded.yaml", {"GET /pets/{id}", "DELETE /pets/{id}"}),
        ("swagger-petstore/openapi.yaml", set()),
    ],
)
def test_an_imported_contract_is_honoured(tmp_path: Path, contract: str, mapped: set[str]) -> None:
    imported, found = conformance(tmp_path, CONTRACTS / contract)
    assert {op for op, status in imported.items() if status == "mapped"} == mapped
    assert_honoured(imported, found)
