"""Custom actions end to end (tests/specs/actions.yaml): a declarative action on a resource named
by a lookup key, another on a resource owned through its parent with a typed input, and a handler
action. Until the handler is written the service is not delivered (its tests pass, the handler
answers 501, and the tests check fails naming the method); once the user writes the method in
the user-owned actions.py, the 501 turns into the user's answer and the service is COMPLETE."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "actions.yaml"

HANDLER = '''\
"""The custom actions of Answer: written by the user (here, by backforge's e2e test)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from forum.core.hooks import Caller
from forum.models import Answer


class AnswerActions:
    def __init__(self, session: AsyncSession, principal: Caller | None = None):
        self.session = session
        self.principal = principal

    async def flag(self, record: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """Count the flags in the answer's body, in the request's transaction."""
        table = Answer.__table__
        marked = f"{record['body']} [flagged: {values['reason']}]"
        await self.session.execute(
            sa.update(table).where(table.c.id == record["id"]).values(body=marked)
        )
        return {"flag_count": marked.count("[flagged:")}
'''

USER_TEST = '''\
"""The user's own test of the flag handler."""

import pytest
from httpx import AsyncClient

from tests.factories import API, create_answer

pytestmark = pytest.mark.anyio


async def test_flag_answers_what_the_handler_returns(client: AsyncClient) -> None:
    answer = await create_answer(client)
    url = f"{API}/answers/{answer['id']}/flag"
    first = await client.post(url, json={"reason": "spam"})
    assert first.status_code == 200, first.text
    assert first.json() == {"flagCount": 1}
    second = await client.post(url, json={"reason": "rude"})
    assert second.json() == {"flagCount": 2}
    body = (await client.get(f"{API}/answers/{answer['id']}")).json()["body"]
    assert body.endswith("[flagged: spam] [flagged: rude]")  # committed by the wrapper
'''


def report_of(out: Path) -> dict:
    return json.loads((out / "backforge-report.json").read_text())


def test_actions_generate_verify_and_the_handler_replaces_the_501(tmp_path: Path) -> None:
    out = tmp_path / "forum"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    actions = out / "forum" / "answer" / "actions.py"
    assert "class AnswerActions" in actions.read_text()

    # the handler is not written: its generated tests pass (it answers 501), verify refuses
    code = main(["verify", "--quick", str(out)])
    report = report_of(out)
    tests = {c["name"]: c for c in report["checks"]}["tests"]
    assert code == 1 and report["status"] == "BLOCKED", report["status_block"]
    assert tests["figures"]["failed"] == 0 and tests["figures"]["errors"] == 0
    assert tests["figures"]["unwritten_handlers"] == [
        {"action": "Answer.flag", "method": "flag", "file": "forum/answer/actions.py"}
    ]
    assert "add `flag` to forum/answer/actions.py" in tests["detail"]
    openapi = json.loads((out / "openapi.json").read_text())
    flag = openapi["paths"]["/api/v1/answers/{id}/flag"]["post"]
    assert flag["operationId"] == "flag_answer"
    assert {"404", "409", "412", "422", "501"} <= set(flag["responses"])
    accept = openapi["paths"]["/api/v1/answers/{id}/accept"]["post"]
    assert "requestBody" in accept and "501" not in accept["responses"]
    assert "/api/v1/questions/{slug}/close" in openapi["paths"]

    # the user writes the method (and a test of it); regenerating keeps the file
    actions.write_text(HANDLER)
    (out / "tests" / "test_my_flag.py").write_text(textwrap.dedent(USER_TEST))
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    assert actions.read_text() == HANDLER
    code = main(["verify", str(out)])
    report = report_of(out)
    assert code == 0, report["status_block"]
    assert report["status_block"].startswith("STATUS: COMPLETE"), report["status_block"]
    tests = {c["name"]: c for c in report["checks"]}["tests"]["figures"]
    assert "unwritten_handlers" not in tests and tests["skipped"] == 0
    modules = tests["modules"]
    assert modules["tests/test_my_flag.py"]["passed"] == 1
    assert modules["tests/test_answer_actions.py"]["failed"] == 0
    assert modules["tests/test_question_actions.py"]["passed"] > 5
