"""Webhooks (`webhooks:`): what a spec with them generates, and that a spec without them
generates none of it (the tables, the runtime modules, the admin API, the worker, the tests)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from backforge.evolve.diff import diff
from backforge.evolve.operations import CreateTable, DropTable
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project
from backforge.report.owasp import owasp_top10
from backforge.spec import load_spec_text

SPEC = """
service: {name: shelf}
auth: {users: true, roles: [admin, member, ops]}
resources:
  Book:
    fields:
      title: {type: string, required: true}
    events: [created, deleted]
webhooks:
  allow: ops
"""
WEBHOOK_FILES = {
    "shelf/core/webhooks.py",
    "shelf/core/delivery.py",
    "shelf/core/subscribers.py",
    "shelf/webhooks/__init__.py",
    "shelf/webhooks/routes.py",
    "shelf/webhooks/schemas.py",
    "shelf/events/webhooks.py",
    "tests/test_webhooks.py",
}
TABLES = ["webhook_subscribers", "webhook_deliveries"]


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def without_webhooks(text: str) -> str:
    return text.replace("webhooks:\n  allow: ops\n", "")


def test_a_spec_with_webhooks_gets_the_admin_api_the_worker_and_tests() -> None:
    service = ir(SPEC)
    assert service.webhooks is not None
    assert service.webhooks.events == ["book.created", "book.deleted"]
    assert ir_from_json(service.to_json()).webhooks == service.webhooks
    files = render_project(service)
    assert set(files) >= WEBHOOK_FILES
    assert (
        'EventType = Literal["book.created", "book.deleted", ]'
        in files["shelf/webhooks/schemas.py"]
        or 'Literal["book.created", "book.deleted"]' in files["shelf/webhooks/schemas.py"]
    )
    assert 'MANAGERS = frozenset({ADMIN_ROLE, "ops"})' in files["shelf/webhooks/routes.py"]
    assert "WebhookRelay(" in files["shelf/main.py"] and "webhooks_router" in files["shelf/main.py"]
    assert "WebhookRelay(" in files["shelf/events/relay.py"]
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS=false" in files[".env.example"]
    assert "standardwebhooks==" in files["requirements-dev.txt"]
    assert "## Webhooks" in files["RUNBOOK.md"]
    assert "WebhookDeliveriesDead" in files["deploy/prometheus/alerts.yaml"]


def test_a_spec_without_webhooks_gets_none_of_it() -> None:
    service = ir(without_webhooks(SPEC))
    assert service.webhooks is None
    assert not set(TABLES) & set(service.system_tables)
    assert '"webhooks"' not in service.to_json()  # the IR of older specs stays as it was
    files = render_project(service)
    assert not WEBHOOK_FILES & set(files)
    assert not any("webhook" in text.lower() for text in files.values())


def test_the_tables_match_the_runtime_definition() -> None:
    text = render_project(ir(SPEC))["shelf/core/webhooks.py"]
    for name in TABLES:
        table = next(t for t in schema_of(ir(SPEC)).tables if t.name == name)
        for column in table.columns:
            assert f'sa.Column("{column.name}"' in text or f'"{column.name}",\n' in text, column
        for unique in table.uniques:
            assert unique.name in text


def test_turning_webhooks_on_in_a_live_project_adds_the_tables_and_off_drops_them() -> None:
    before = ir_from_json(ir(without_webhooks(SPEC)).to_json())
    on = diff(before, ir(SPEC))
    assert [op.definition.name for op in on.operations if isinstance(op, CreateTable)] == TABLES
    off = diff(ir_from_json(ir(SPEC).to_json()), ir(without_webhooks(SPEC)))
    dropped = [op.table for op in off.operations if isinstance(op, DropTable)]
    assert sorted(dropped) == sorted(TABLES)


def test_the_owasp_report_counts_ssrf_as_guarded_with_webhooks(tmp_path: Path) -> None:
    (tmp_path / ".backforge").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_webhooks.py").write_text("")
    (tmp_path / ".backforge" / "ir.json").write_text(ir(SPEC).to_json())
    graph = {"p/core/delivery.py": ["/env/lib/python3.13/site-packages/httpx/__init__.py"]}
    items = {i["id"]: i for i in owasp_top10(tmp_path, {"package": "p"}, {}, [], graph)}
    assert items["API7:2023"]["status"] == "guarded"
    assert items["API7:2023"]["tests"] == ["tests/test_webhooks.py"]
    assert items["API10:2023"]["status"] == "guarded"
    graph["p/fetch.py"] = graph["p/core/delivery.py"]  # another outbound call: not claimed safe
    items = {i["id"]: i for i in owasp_top10(tmp_path, {"package": "p"}, {}, [], graph)}
    assert items["API7:2023"]["status"] == "not covered"
    assert "p/fetch.py" in items["API7:2023"]["gaps"][0]
    assert "delivery" not in items["API7:2023"]["gaps"][0]
