"""`backforge new` on specs outside `examples/` that once gave projects whose own tests failed:
every action of every resource needs a role (nobody may read anything anonymously), no `auth` at
all, and the representation a contract may ask for (lists as arrays, errors as {code, message},
no nulls), and records named by a field in their URLs (`lookup`). Each must be delivered
COMPLETE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPECS = Path(__file__).parent / "specs"


@pytest.mark.parametrize("name", ["clinic", "notes", "contract-shapes", "lookup"])
def test_new_delivers_a_spec_outside_the_examples(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    code = main(["new", str(SPECS / f"{name}.yaml"), "-o", str(out)])
    report = json.loads((out / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    assert report["status_block"].startswith("STATUS: COMPLETE"), report["status_block"]
    checks = {c["name"]: c for c in report["checks"]}
    tests = checks["tests"]["figures"]
    assert tests["failed"] == 0 and tests["passed"] > 50
    assert tests["skipped"] == 0  # nothing skipped and counted: what cannot run is not generated
    assert all(item["reason"] for item in report["tests"]["not_generated"])
