"""The published JSON Schema: up to date, valid, and in agreement with the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from backforge.fieldtypes import FIELD_TYPES
from backforge.spec import load_spec_text
from backforge.spec.jsonschema import SCHEMA_ID, schema_text, spec_json_schema
from backforge.starter import starter_spec

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "docs" / "spec.schema.json"
SPECS = [*sorted((ROOT / "examples").glob("*.yaml")), Path(__file__).parent / "specs/sketch.yaml"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(spec_json_schema())


def as_json(text: str) -> Any:
    """What an editor sees: the YAML as JSON (dates and times as text)."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def errors(validator: jsonschema.Draft202012Validator, text: str) -> list[str]:
    return [e.message for e in validator.iter_errors(as_json(text))]


def test_the_published_schema_is_up_to_date() -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == schema_text(), (
        "docs/spec.schema.json is out of date with the spec model; "
        "refresh it with: backforge schema > docs/spec.schema.json"
    )


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = spec_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"] and schema["required"] == ["service", "resources"]


def test_every_option_is_described() -> None:
    defs = spec_json_schema()["$defs"]
    for model in ("FieldSpec", "ResourceSpec", "ServiceInfo", "Pagination", "ApiSpec"):
        for name, prop in defs[model]["properties"].items():
            assert prop.get("description"), f"{model}.{name} has no description"


def test_the_shorthand_names_every_field_type() -> None:
    fields = spec_json_schema()["$defs"]["ResourceSpec"]["properties"]["fields"]
    shorthand, full = fields["additionalProperties"]["anyOf"]
    assert sorted(shorthand["enum"]) == sorted(FIELD_TYPES)
    assert full == {"$ref": "#/$defs/FieldSpec"}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_example_validates(validator: jsonschema.Draft202012Validator, path: Path) -> None:
    assert errors(validator, path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("name", ["shop", "yes"])
def test_the_starter_validates(validator: jsonschema.Draft202012Validator, name: str) -> None:
    assert errors(validator, starter_spec(name)) == []


BAD = {
    "unknown type": "Book: {fields: {title: strng}}",
    "unknown option": "Book: {fields: {title: {type: string, max_lenght: 3}}}",
    "unknown resource option": "Book: {fields: {title: string}, filtr: [title]}",
    "resource not PascalCase": "book: {fields: {title: string}}",
    "field not snake_case": "Book: {fields: {Title: string}}",
    "automatic field": "Book: {fields: {id: int}}",
    "no fields": "Book: {fields: {}}",
    "bad on_delete": "Book: {fields: {b: {type: ref, to: Book, on_delete: nullify}}}",
}


@pytest.mark.parametrize("resources", BAD.values(), ids=BAD.keys())
def test_the_schema_refuses_what_the_loader_refuses(
    validator: jsonschema.Draft202012Validator, resources: str
) -> None:
    text = f"service: {{name: shop}}\nresources:\n  {resources}\n"
    assert errors(validator, text)
    with pytest.raises(Exception, match="spec"):
        load_spec_text(text, "spec.yaml")
