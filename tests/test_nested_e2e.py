"""Nested collections end to end (tests/specs/nested.yaml): answers under their question named
by a slug, comments under their answer, notes under drafts only their owner reads, item URLs
flat, with camelCase on the wire, a cache, events and marks. Generated and verified in full
(lint, the generated tests with their coverage gate, migrations, the contract fuzzed by
schemathesis, load): COMPLETE."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import verified_complete

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "nested.yaml"


def test_nested_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "forum"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0

    openapi = json.loads((out / "openapi.json").read_text())
    paths = openapi["paths"]
    answers = paths["/api/v1/questions/{slug}/answers"]
    assert answers["get"]["operationId"] == "list_answers"
    assert answers["post"]["operationId"] == "create_answer"
    assert {"404", "422"} <= set(answers["get"]["responses"])
    assert {"201", "404", "422"} <= set(answers["post"]["responses"])
    slug = next(p for p in answers["get"]["parameters"] if p["in"] == "path")
    assert slug["name"] == "slug" and slug["required"]
    comments = paths["/api/v1/answers/{id}/comments"]
    assert {"get", "post"} <= set(comments)
    assert "/api/v1/drafts/{id}/notes" in paths
    for flat in ("/api/v1/answers", "/api/v1/comments", "/api/v1/notes"):
        assert flat not in paths  # served only under their parents
    assert "/api/v1/answers/{id}" in paths and "/api/v1/answers/events" in paths
    created = openapi["components"]["schemas"]["AnswerCreate"]["properties"]
    assert "question" not in created and "body" in created  # the parent comes from the path

    tests = verified_complete(out)
    modules = tests["modules"]
    for resource in ("answer", "comment", "note"):
        assert modules[f"tests/test_{resource}_nested.py"]["passed"] >= 7
