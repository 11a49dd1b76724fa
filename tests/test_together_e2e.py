"""Every construct in one spec (tests/specs/together.yaml): camelCase, accounts, a slug lookup,
ownership direct and through a parent, custom actions, per-caller marks, domain events with
their live feed and AsyncAPI document, webhooks, a subscription to the service's own events and
a cached resource. Generated, the subscription's handler written as its user would, then
verified in full (lint, the generated tests with their coverage gate, migrations, the contract
fuzzed by schemathesis, load, events): COMPLETE. The fuzzer's fixed seed moves a question to
another slug and then follows a link from its create to its bookmark, the case the contract
hooks excuse (verify/contract_hooks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "together.yaml"
HANDLER = """
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


async def handle(event: dict[str, Any], session: AsyncSession) -> None:
    log.info("answer event %s of answer %s", event["type"], event["subject"])
"""


def test_every_construct_together_is_delivered_complete(tmp_path: Path) -> None:
    out = tmp_path / "agora"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    core = out / "agora" / "core"
    for module in ("actions", "marks", "outbox", "relay", "feed", "webhooks", "inbox", "cache"):
        assert (core / f"{module}.py").is_file(), module
    paths = json.loads((out / "openapi.json").read_text())["paths"]
    for path in (
        "/api/v1/questions/{slug}/close",
        "/api/v1/questions/{slug}/vote",
        "/api/v1/questions/events",
        "/api/v1/answers/{id}/accept",
        "/api/v1/webhooks",
    ):
        assert path in paths, path
    assert json.loads((out / "asyncapi.json").read_text())["asyncapi"].startswith("3.")

    handler = out / "agora" / "consumers" / "answer_digest.py"
    handler.write_text(handler.read_text() + HANDLER)
    code = main(["verify", str(out), "--json"])
    report = json.loads((out / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    assert report["status_block"].startswith("STATUS: COMPLETE"), report["status_block"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["tests"]["figures"]["failed"] == 0
    assert checks["tests"]["figures"]["skipped"] == 0
    assert checks["contract"]["figures"]["failures"] == 0
    events = checks["events"]["figures"]
    assert events["events_lost"] == 0 and events["events_written"] > 0
