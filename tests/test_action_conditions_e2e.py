"""Action preconditions beyond equality and `allow: <ref>.owner` end to end
(tests/specs/actions2.yaml): `in`, `ne`, `ne: null`, null, an integer range and a date bound,
several fields AND-ed, in one conditional UPDATE; an answer accepted by its question's owner.
The generated tests put records in a state that meets each `when` (200) and one that breaks it
(409), and run the action as the referenced record's owner; `verify` delivers the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "actions2.yaml"


def test_conditional_actions_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "tickets"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    schemas = (out / "tickets" / "ticket" / "schemas.py").read_text()
    assert '"priority": {"lt": 5, "gte": 2},' in schemas
    code = main(["verify", str(out)])
    report = json.loads((out / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    assert report["status_block"].startswith("STATUS: COMPLETE"), report["status_block"]
    figures = {c["name"]: c for c in report["checks"]}["tests"]["figures"]
    assert figures["skipped"] == 0
    actions = figures["modules"]["tests/test_ticket_actions.py"]
    assert actions["failed"] == 0 and actions["passed"] > 20, actions
    accept = figures["modules"]["tests/test_answer_actions.py"]
    assert accept["failed"] == 0 and accept["passed"] >= 10, accept
    routes = (out / "tickets" / "answer" / "routes.py").read_text()
    assert 'parents=("question",)' in routes
    openapi = json.loads((out / "openapi.json").read_text())
    for name in ("close", "escalate", "reopen"):
        post = openapi["paths"][f"/api/v1/tickets/{{id}}/{name}"]["post"]
        assert "409" in post["responses"]
