"""Relations by natural key end to end (tests/specs/embed.yaml): questions tagged by tag name
(tags created on first use), written by a writer named by handle and embedded in the answer,
filtered by tag and by writer, with votes, events (naming the writer by handle) and camelCase on
the wire, and seed rows naming their targets by handle. Generated and verified in full (lint,
the generated tests with their coverage gate, migrations, the contract fuzzed by schemathesis,
load): COMPLETE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import verified_complete

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "embed.yaml"


def test_embed_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "embeds"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    assert (out / "embeds" / "core" / "relations.py").exists()

    openapi = json.loads((out / "openapi.json").read_text())
    schemas = openapi["components"]["schemas"]
    read = schemas["QuestionRead"]["properties"]
    assert read["tags"]["items"]["type"] == "string"
    assert read["writer"] == {"$ref": "#/components/schemas/WriterRead"}
    assert schemas["QuestionCreate"]["properties"]["writer"]["type"] == "string"
    listing = openapi["paths"]["/api/v1/questions"]["get"]["parameters"]
    assert {"tags", "tags__in", "writer", "writer__in"} <= {p["name"] for p in listing}

    tests = verified_complete(out)
    assert tests["modules"]["tests/test_question.py"]["passed"] >= 30
