"""Domain events (`events:`): what a spec with them generates, and that a spec without them
generates none of it (the outbox table, its runtime modules, the relay, the tests)."""

from __future__ import annotations

import textwrap

from backforge.evolve.diff import diff
from backforge.evolve.operations import CreateTable, DropTable
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project
from backforge.spec import load_spec_text

SPEC = """
service: {name: shelf}
resources:
  Author:
    fields:
      name: {type: string, required: true}
  Book:
    fields:
      title: {type: string, required: true}
      code: {type: string, write_only: true}
      score: {type: float, hidden: true}
      author: {type: ref, to: Author}
    events: [deleted, created]
"""
EVENT_FILES = {
    "shelf/core/brokers.py",
    "shelf/core/feed.py",
    "shelf/core/outbox.py",
    "shelf/core/relay.py",
    "shelf/events/__init__.py",
    "shelf/events/asyncapi.py",
    "shelf/events/relay.py",
    "tests/test_events.py",
    "tests/test_feed.py",
}


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def without_events(text: str) -> str:
    return text.replace("    events: [deleted, created]\n", "")


def test_events_are_kept_in_the_order_of_the_language() -> None:
    service = ir(SPEC)
    assert service.events
    assert service.resource("Book").events == ["created", "deleted"]
    assert service.resource("Author").events == []
    assert "outbox_events" in service.system_tables
    assert not any("events" in note for note in service.notes)  # generated, not a note


def test_a_spec_with_events_gets_the_outbox_relay_and_tests() -> None:
    files = render_project(ir(SPEC))
    assert set(files) >= EVENT_FILES
    service = files["shelf/book/service.py"]
    assert 'Outbox("/api/v1/books", ["created", "deleted"])' in service
    assert "audit=EVENTS" in service
    assert '"code"' in service and '"score"' in service  # left out of the events
    assert "Outbox" not in files["shelf/author/service.py"]  # no events of its own
    assert "OUTBOX_MAX_ATTEMPTS=10" in files[".env.example"]
    assert "relay_options(settings)" in files["shelf/main.py"]
    assert "## Domain events (the outbox)" in files["RUNBOOK.md"]
    assert "faststream[rabbit,nats]==" in files["requirements.txt"]
    assert "relay-deployment.yaml" in files["deploy/k8s/kustomization.yaml"]


def test_a_spec_without_events_gets_none_of_it() -> None:
    service = ir(without_events(SPEC))
    assert not service.events
    assert "outbox_events" not in service.system_tables
    assert '"events"' not in service.to_json()  # the IR of older specs stays as it was
    files = render_project(service)
    assert not EVENT_FILES & set(files)
    assert not any("outbox" in text.lower() for text in files.values())
    assert "faststream" not in files["requirements.txt"]


def test_the_outbox_table_matches_the_runtime_definition() -> None:
    table = next(t for t in schema_of(ir(SPEC)).tables if t.name == "outbox_events")
    text = render_project(ir(SPEC))["shelf/core/outbox.py"]
    for column in table.columns:
        assert f'sa.Column("{column.name}"' in text, column.name
    assert table.primary_key == ("position",)
    assert 'sa.Column("position", IdType, primary_key=True, autoincrement=True)' in text


def test_turning_events_on_in_a_live_project_adds_the_table_and_off_drops_it() -> None:
    before = ir_from_json(ir(without_events(SPEC)).to_json())
    on = diff(before, ir(SPEC))
    assert [op.definition.name for op in on.operations if isinstance(op, CreateTable)] == [
        "outbox_events"
    ]
    assert not on.api  # the API does not change
    off = diff(ir_from_json(ir(SPEC).to_json()), ir(without_events(SPEC)))
    assert [op.table for op in off.operations if isinstance(op, DropTable)] == ["outbox_events"]
