"""Ownership through a parent (tests/specs/owned-through.yaml: Order owned, OrderItem owned
through its order, Tracking through its item, a public Product, an owned Review of an order):
the generated project's own suite — whose access tests cover another account's children
(listed, read, changed, deleted, created under another's parent, moved there) — passes, with
lint and migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "owned-through.yaml"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"

# Generated tests this spec must give (derived from the IR: one per guarded reference and action)
EXPECTED = [
    "test_order_item_order_of_others_on_create",
    "test_order_item_order_of_others_on_update",
    "test_tracking_item_of_others_on_create",
    "test_tracking_item_of_others_on_update",
    "test_review_order_of_others_on_create",
    "test_review_order_of_others_on_update",
]


def quick(tmp_path: Path, *database: str) -> dict:  # type: ignore[type-arg]
    out = tmp_path / "shop"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    access = (out / "tests" / "test_access.py").read_text(encoding="utf-8")
    assert all(f"def {name}(" in access for name in EXPECTED)
    code = main(["verify", "--quick", str(out), *database])
    report = json.loads((out / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["lint"]["status"] == "passed", checks["lint"]
    assert checks["migrations"]["status"] == "passed", checks["migrations"]
    tests = checks["tests"]["figures"]
    assert tests["failed"] == 0 and tests["passed"] > 100, tests
    return report


def test_owned_through_suite_passes_on_sqlite(tmp_path: Path) -> None:
    quick(tmp_path)


@pytest.mark.postgres
def test_owned_through_suite_passes_on_postgresql(tmp_path: Path) -> None:
    report = quick(tmp_path, "--database", POSTGRES)
    assert report["database"]["verified_on"] == "postgresql"
