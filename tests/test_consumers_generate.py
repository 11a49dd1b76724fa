"""Event consumers (`consumes:`): what a spec with them generates, the checks of a bad one, the
handler stub that is the user's, the inbox table in a live project's evolution, and that a
spec without them generates none of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from live_service import project_python

from backforge.cli import main
from backforge.errors import SpecError
from backforge.evolve.diff import diff
from backforge.evolve.operations import CreateTable, DropTable
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project, user_owned
from backforge.spec import load_spec_text
from backforge.verify.testsuite import unwritten_consumers

SPEC = """\
service: {name: shelf}
resources:
  Book:
    fields:
      title: {type: string, required: true}
    events: [created, updated]
consumes:
  index_books:
    events: [book.*]
  payments:
    events: [payment.settled, payment.refunded]
    from: billing
    max_attempts: 3
"""
CONSUMER_FILES = {
    "shelf/consumers/__init__.py",
    "shelf/consumers/index_books.py",
    "shelf/consumers/payments.py",
    "shelf/core/inbox.py",
    "shelf/core/consuming.py",
    "shelf/events/consume.py",
    "tests/test_consumers.py",
    "deploy/k8s/consumer-deployment.yaml",
}


def ir(text: str) -> ServiceIR:
    return build_ir(load_spec_text(text), text)


def without_consumers(text: str) -> str:
    return text[: text.index("consumes:")]


def test_subscriptions_in_the_ir() -> None:
    service = ir(SPEC)
    assert service.consumers == [
        {"name": "index_books", "events": ["book.*"], "source": "shelf", "max_attempts": 5},
        {
            "name": "payments",
            "events": ["payment.settled", "payment.refunded"],
            "source": "billing",
            "max_attempts": 3,
        },
    ]
    assert "inbox_events" in service.system_tables
    assert ir_from_json(service.to_json()).consumers == service.consumers


def test_a_spec_with_consumers_gets_the_inbox_the_subscribers_and_tests() -> None:
    service = ir(SPEC)
    files = render_project(service)
    assert set(files) >= CONSUMER_FILES
    assert {"shelf/consumers/index_books.py", "shelf/consumers/payments.py"} <= user_owned(service)
    stub = files["shelf/consumers/payments.py"]
    assert "async def handle(event: dict[str, Any], session: AsyncSession)" in stub
    assert "\nasync def handle" not in stub  # written by the user: until then, BLOCKED
    registry = files["shelf/consumers/__init__.py"]
    assert "source='billing'" in registry or 'source="billing"' in registry
    assert "INBOX_WORKER=true" in files[".env.example"]
    assert "open_source(settings, app.state.database.sessions)" in files["shelf/main.py"]
    assert "new_relay(settings, app.state.database.sessions, sink)" in files["shelf/main.py"]
    assert "## Consuming events (the inbox)" in files["RUNBOOK.md"]
    assert "InboxEventsDead" in files["deploy/prometheus/alerts.yaml"]
    assert "consumer-deployment.yaml" in files["deploy/k8s/kustomization.yaml"]
    assert 'INBOX_WORKER: "false"' in files["deploy/k8s/configmap.yaml"]
    assert "faststream[rabbit,nats]==" in files["requirements.txt"]
    assert "inbox_events" in files["shelf/models.py"]


def test_consumers_without_events_of_their_own() -> None:
    text = SPEC.replace("    events: [created, updated]\n", "").replace("[book.*]", "[x.y]")
    text = text.replace("  index_books:\n    events: [x.y]\n", "")
    service = ir(text)
    assert not service.events and service.brokered
    files = render_project(service)
    assert "shelf/core/brokers.py" in files and "shelf/events/consume.py" in files
    assert "shelf/events/relay.py" not in files and "shelf/core/outbox.py" not in files
    assert "broker_url" in files["shelf/core/settings.py"]
    assert "faststream[rabbit,nats]==" in files["requirements.txt"]


def test_a_spec_without_consumers_gets_none_of_it() -> None:
    service = ir(without_consumers(SPEC))
    assert not service.consumers
    assert "inbox_events" not in service.system_tables
    assert '"consumers"' not in service.to_json()  # the IR of older specs stays as it was
    files = render_project(service)
    assert not CONSUMER_FILES & set(files)
    assert not any("inbox" in text.lower() for text in files.values())


def test_the_inbox_table_matches_the_runtime_definition() -> None:
    table = next(t for t in schema_of(ir(SPEC)).tables if t.name == "inbox_events")
    text = render_project(ir(SPEC))["shelf/core/inbox.py"]
    for column in table.columns:
        assert f'sa.Column("{column.name}"' in text, column.name
    assert table.primary_key == ("position",)
    for unique in table.uniques:
        assert f'name="{unique.name}"' in text
    for index in table.indexes:
        assert f'sa.Index("{index.name}"' in text


def test_turning_consumers_on_in_a_live_project_adds_the_table_and_off_drops_it() -> None:
    on = diff(ir_from_json(ir(without_consumers(SPEC)).to_json()), ir(SPEC))
    created = [op.definition.name for op in on.operations if isinstance(op, CreateTable)]
    assert created == ["inbox_events"]
    assert not on.api
    off = diff(ir_from_json(ir(SPEC).to_json()), ir(without_consumers(SPEC)))
    assert [op.table for op in off.operations if isinstance(op, DropTable)] == ["inbox_events"]


def test_another_services_events_are_not_checked_against_this_spec() -> None:
    ir(SPEC)  # payment.settled from billing: not this spec's to know
    with pytest.raises(SpecError):  # this service's own payment events: it has no Payment
        ir(SPEC.replace("    from: billing\n", ""))


def test_generate_writes_the_stub_once_and_verify_names_unwritten_handlers(tmp_path: Path) -> None:
    spec = tmp_path / "shelf.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "shelf"
    assert main(["generate", str(spec), "-o", str(out)]) == 0
    handler = out / "shelf" / "consumers" / "index_books.py"
    handler.write_text(handler.read_text() + "\n\nasync def handle(event, session):\n    pass\n")
    spec.write_text(SPEC.replace("max_attempts: 3", "max_attempts: 4"))
    assert main(["generate", str(spec), "-o", str(out)]) == 0
    assert "async def handle(event, session)" in handler.read_text()  # the user's: kept
    assert "max_attempts=4" in (out / "shelf" / "consumers" / "__init__.py").read_text()
    python = project_python(out)
    missing = unwritten_consumers(out, "shelf", python, {"PATH": os.environ["PATH"]})
    assert missing == [
        {
            "subscription": "payments",
            "function": "async def handle(event, session)",
            "file": "shelf/consumers/payments.py",
        }
    ]
    assert json.loads((out / ".backforge" / "ir.json").read_text())["consumers"]
