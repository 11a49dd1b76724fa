"""The report's operations section (R3) on a generated project."""

from __future__ import annotations

from pathlib import Path

from backforge.generate import generate
from backforge.report.operations import operations

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_operations_describe_the_kit_and_the_measured_figures(tmp_path: Path) -> None:
    root = generate(EXAMPLES / "inventory.yaml", tmp_path / "inventory").directory
    manifest = {"package": "inventory", "notes": ["auth: accepted and checked; not generated"]}
    measured = {
        "name": "resilience",
        "figures": {"outage": "not simulated: SQLite", "drain_seconds": 1.2, "exit_code": 0},
    }
    section = operations(root, manifest, [measured])
    assert "Dockerfile" in section["deployment"]["files"]
    assert "deploy/k8s/migration-job.yaml" in section["deployment"]["files"]
    assert any("python -m inventory.serve" in c for c in section["deployment"]["considerations"])
    assert any("/metrics" in n for n in section["observability"])
    assert any("drained in 1.2 s" in n for n in section["observability"])
    assert section["follow_up"][0].startswith("auth:")
    assert "--database postgresql" in section["follow_up"][1]


def test_operations_of_a_bare_project_claim_nothing(tmp_path: Path) -> None:
    section = operations(tmp_path, {"package": "x"}, [])
    assert section["deployment"]["files"] == []
    assert not any("metrics" in n for n in section["observability"])
