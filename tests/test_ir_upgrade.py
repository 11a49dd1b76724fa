"""`.backforge/ir.json` format 1 (fields as Python and SQL text, written before format 2) is
read back as values: a project generated before keeps evolving. The data is the inventory
example's file as the generator of format 1 wrote it, with the spec it was built from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.errors import ProjectError
from backforge.evolve.diff import diff
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import IR_SCHEMA_VERSION, build_ir
from backforge.spec import load_spec_text

DATA = Path(__file__).parent / "data" / "ir_v1"


def test_format_1_reads_back_as_the_values_of_its_spec() -> None:
    old_text, spec_text = (DATA / "ir.json").read_text(), (DATA / "spec.yaml").read_text()
    assert "schema_version" not in json.loads(old_text) and '"constraints"' in old_text
    upgraded = ir_from_json(old_text, spec_text)
    fresh = build_ir(load_spec_text(spec_text, "spec.yaml"), spec_text)
    assert upgraded.schema_version == IR_SCHEMA_VERSION
    assert upgraded.resources == fresh.resources
    price = next(f for f in upgraded.resource("Item").fields if f.name == "unit_price")
    assert (price.precision, price.scale, price.minimum) == (12, 4, 0)
    # the database it stands for is the one the spec gives: nothing to migrate
    changes = diff(upgraded, fresh)
    assert changes.operations == [] and changes.api == []
    assert schema_of(upgraded) == schema_of(fresh)


def test_format_1_without_its_spec_is_a_clear_error() -> None:
    with pytest.raises(ProjectError, match=r"predates format 2 and \.backforge/spec\.yaml"):
        ir_from_json((DATA / "ir.json").read_text(), None)


def test_a_newer_format_asks_for_a_newer_backforge() -> None:
    data = json.loads((DATA / "ir.json").read_text()) | {"schema_version": IR_SCHEMA_VERSION + 1}
    with pytest.raises(ProjectError, match="upgrade backforge"):
        ir_from_json(json.dumps(data), None)
