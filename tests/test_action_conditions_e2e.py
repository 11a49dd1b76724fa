"""Action preconditions beyond equality and `allow: <ref>.owner` end to end
(tests/specs/actions2.yaml): `in`, `ne`, `ne: null`, null, an integer range and a date bound,
several fields AND-ed, in one conditional UPDATE; an answer accepted by its question's owner.
The generated tests put records in a state that meets each `when` (200) and one that breaks it
(409), and run the action as the referenced record's owner; a handler action on the collection
(`POST /tickets/close-overdue`) whose method the test writes; `verify` delivers the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import verified_complete

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "actions2.yaml"

HANDLER = '''\
"""The custom actions of Ticket: written by the user (here, by backforge's e2e test)."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.core.hooks import Caller
from tickets.models import Ticket


class TicketActions:
    def __init__(self, session: AsyncSession, principal: Caller | None = None):
        self.session = session
        self.principal = principal

    async def close_overdue(self, values: dict[str, Any]) -> dict[str, Any]:
        """Close every open ticket due before the given day, in the request's transaction."""
        table = Ticket.__table__
        result = await self.session.execute(
            sa.update(table)
            .where(table.c.due_on < values["before"], table.c.status != "closed")
            .values(status="closed", version=table.c.version + 1)
        )
        return {"closed": result.rowcount}  # type: ignore[attr-defined]
'''


def test_conditional_actions_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "tickets"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    schemas = (out / "tickets" / "ticket" / "schemas.py").read_text()
    assert '"priority": {"lt": 5, "gte": 2},' in schemas
    # the collection action's handler, as the user writes it (until then: 501, BLOCKED)
    actions = out / "tickets" / "ticket" / "actions.py"
    assert "async def close_overdue(self, values" in actions.read_text()
    actions.write_text(HANDLER)
    figures = verified_complete(out)
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
    overdue = openapi["paths"]["/api/v1/tickets/close-overdue"]["post"]
    assert overdue["operationId"] == "close_overdue_tickets"
    assert {"200", "422", "501"} <= set(overdue["responses"])
