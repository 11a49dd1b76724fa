"""Envelopes end to end (tests/specs/envelopes.yaml): records wrapped in their member both ways,
list pages with their records' member and count, a detail-only field, with camelCase, a lookup
key, ownership, marks, an action and cursor pagination. Generated and verified in full (lint,
the generated tests with their coverage gate, migrations, the contract fuzzed by schemathesis,
load): COMPLETE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import verified_complete

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "envelopes.yaml"


def test_envelopes_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "envelopes"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    assert (out / "envelopes" / "core" / "envelopes.py").exists()

    openapi = json.loads((out / "openapi.json").read_text())
    schemas = openapi["components"]["schemas"]
    assert list(schemas["QuestionEnvelope"]["properties"]) == ["question"]
    assert list(schemas["BookReviewEnvelope"]["properties"]) == ["review"]
    page = schemas["QuestionPage"]["properties"]
    assert {"questions", "questionsCount", "nextCursor", "limit"} == set(page)
    assert page["questions"]["items"] == {"$ref": "#/components/schemas/QuestionListItem"}
    assert "body" not in schemas["QuestionListItem"]["properties"]
    assert "body" in schemas["QuestionRead"]["properties"]
    assert {"reviews", "reviewsCount"} <= set(schemas["BookReviewPage"]["properties"])
    create = openapi["paths"]["/api/v1/questions"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/QuestionCreateEnvelope"}
    vote = openapi["paths"]["/api/v1/questions/{slug}/vote"]["put"]["responses"]["200"]
    answer = vote["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/QuestionEnvelope"}

    tests = verified_complete(out)
    assert tests["modules"]["tests/test_envelopes.py"]["passed"] >= 10
