"""The `slug` field type, added as one entry of backforge.fieldtypes.FIELD_TYPES: what the
spec accepts and refuses, what it generates, and a service with slugs delivered COMPLETE."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from backforge.cli import main
from backforge.errors import SpecError
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.fieldtypes import SLUG_PATTERN
from backforge.ir import build_ir
from backforge.render import render_project
from backforge.spec import load_spec_text
from backforge.sqltypes import SqlType
from backforge.targets.factories import factory

SPEC = Path(__file__).parent / "specs" / "articles.yaml"


def _ir(text: str):  # type: ignore[no-untyped-def]
    return build_ir(load_spec_text(text, "articles.yaml"), text)


def test_a_slug_is_a_patterned_string_stored_in_a_sized_column() -> None:
    ir = _ir(SPEC.read_text())
    fields = {f.name: f for f in ir.resource("Article").fields}
    slug, section, code = fields["slug"], fields["section"], fields["code"]
    assert (slug.kind, slug.base, slug.pattern) == ("slug", "string", SLUG_PATTERN)
    assert slug.storage == SqlType("String", length=255)
    assert section.storage == SqlType("String", length=40) and section.default == "front-page"
    # the test factories give distinct values that are slugs, within the lengths, as many as
    # the tests create (not only the pattern's samples)
    for f in (slug, section, code):
        values = {eval(factory(f), {"n": n}) for n in range(400)}
        assert len(values) == 400, f.name
        assert all(re.fullmatch(SLUG_PATTERN, v) for v in values), values
        assert all((f.min_length or 0) <= len(v) <= f.longest for v in values)
    # the request schema matches the whole value, and the table has its unique constraint
    schemas = render_project(ir)["articles/article/schemas.py"]
    assert f"whole_match({SLUG_PATTERN!r})" in schemas
    table = next(t for t in schema_of(ir).tables if t.name == "article")
    assert [u.columns for u in table.uniques] == [("slug",)]
    # ir.json keeps the values and reads back to the same field
    again = ir_from_json(ir.to_json())
    assert again.resource("Article").fields == ir.resource("Article").fields


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("{type: slug, default: Front Page}", "'Front Page' is not a valid slug"),
        ("{type: slug, pattern: '^a'}", "pattern"),
        ("{type: slug, min: 1}", "min"),
    ],
)
def test_a_slug_refuses_what_does_not_apply(field: str, message: str) -> None:
    text = f"service: {{name: shop}}\nresources:\n  Page:\n    fields:\n      path: {field}\n"
    with pytest.raises(SpecError) as caught:
        _ir(text)
    problems = caught.value.problems
    assert any(message in p.message and p.line == 5 for p in problems), problems


@pytest.mark.e2e
def test_a_service_with_slugs_is_delivered_complete(tmp_path: Path) -> None:
    out = tmp_path / "articles"
    code = main(["new", str(SPEC), "-o", str(out)])
    report = json.loads((out / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    assert report["status_block"].startswith("STATUS: COMPLETE"), report["status_block"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["tests"]["figures"]["failed"] == 0
    assert checks["contract"]["status"] == "passed"
    openapi = json.loads((out / "openapi.json").read_text())
    body = openapi["components"]["schemas"]["ArticleCreate"]["properties"]["slug"]
    assert body["pattern"] == SLUG_PATTERN and body["maxLength"] == 255
