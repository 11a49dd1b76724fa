"""Marks end to end (tests/specs/marks.yaml): votes and bookmarks on questions named by a slug,
upvotes on answers owned through their question, stars on drafts only their owner reads, with
camelCase on the wire and a service cache that leaves the marked resources out. Generated and
verified in full (lint, the generated tests with their coverage gate, migrations, the contract
fuzzed by schemathesis, load): COMPLETE, in about two minutes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "marks.yaml"


def test_marks_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "forum"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    assert (out / "forum" / "core" / "marks.py").exists()
    migration = next((out / "migrations" / "versions").glob("0001_*.py")).read_text()
    for table in ("question_votes", "question_bookmarks", "answer_upvotes", "draft_stars"):
        assert f'"{table}"' in migration

    openapi = json.loads((out / "openapi.json").read_text())
    vote = openapi["paths"]["/api/v1/questions/{slug}/vote"]
    assert vote["put"]["operationId"] == "mark_question_vote"
    assert vote["delete"]["operationId"] == "unmark_question_vote"
    assert {"200", "401", "404"} <= set(vote["put"]["responses"])
    read = openapi["components"]["schemas"]["QuestionRead"]["properties"]
    assert read["votesCount"]["type"] == "integer" and read["voted"]["type"] == "boolean"
    listing = openapi["paths"]["/api/v1/questions"]["get"]["parameters"]
    assert {"bookmarked", "voted"} <= {p["name"] for p in listing}

    code = main(["verify", str(out)])
    report = json.loads((out / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    assert report["status_block"].startswith("STATUS: COMPLETE"), report["status_block"]
    tests = {c["name"]: c for c in report["checks"]}["tests"]["figures"]
    assert tests["failed"] == 0 and tests["skipped"] == 0
    modules = tests["modules"]
    for resource in ("question", "answer", "draft"):
        assert modules[f"tests/test_{resource}_marks.py"]["passed"] >= 6
