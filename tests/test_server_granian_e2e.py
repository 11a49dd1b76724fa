"""`service.server: granian` end to end: a small spec with a change feed, verified COMPLETE on
SQLite and on PostgreSQL (the smoke load and the contract fuzzer against Granian, the generated
test_serve.py's SIGTERM, workers and proxy-header tests passing); then, served by Granian,
SIGTERM with a feed stream open ends the stream and exits 0 without waiting out
GRACEFUL_TIMEOUT."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from live_service import run_in, serve
from support import verified_complete

from backforge.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
SPEC = """\
service: {name: depot, server: granian}
resources:
  Shelf:
    fields:
      label: {type: string, max_length: 40, required: true, unique: true}
  Parcel:
    fields:
      code: {type: string, max_length: 20, required: true}
      weight: {type: decimal, precision: 8, scale: 2, min: 0}
      shelf: {type: ref, to: Shelf}
    events: [created, updated, deleted]
"""


def server_figures(project: Path) -> dict[str, object]:
    report = json.loads((project / "backforge-report.json").read_text())
    figures: dict[str, object] = {c["name"]: c for c in report["checks"]}["server"]["figures"]
    return figures


def test_granian_verifies_complete_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    spec = tmp_path / "depot.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "depot"
    assert main(["generate", str(spec), "-o", str(out)]) == 0
    assert "granian==" in (out / "requirements.txt").read_text()
    for options in ((), ("--database", POSTGRES)):
        tests = verified_complete(out, *options)
        serving = tests["modules"]["tests/test_serve.py"]
        assert serving["failed"] == 0 and serving["passed"] == 3, serving
        figures = server_figures(out)
        assert figures["http_server"] == "granian"
        assert figures["stopped_by"] == "SIGTERM" and figures["exit_code"] == 0, figures

    database = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    environ = {"DATABASE_URL": database, "GRACEFUL_TIMEOUT": "15"}
    run_in(out, ["-m", "alembic", "upgrade", "head"], environ)
    with serve(out, "depot", environ, tmp_path / "granian.log") as live:
        log = live.log_text()
        assert '"logger": "_granian"' in log, log  # Granian's lines, as JSON like the rest
        created = httpx.post(f"{live.url}/api/v1/parcels", json={"code": "A1"}, timeout=10)
        assert created.status_code == 201, created.text
        lines: list[str] = []

        def listen() -> None:
            url = f"{live.url}/api/v1/parcels/events?after=0"
            with httpx.stream("GET", url, timeout=30) as stream:
                lines.extend(stream.iter_lines())

        endless = threading.Thread(target=listen)
        endless.start()
        time.sleep(1.5)
        stopped = time.monotonic()
        live.process.send_signal(signal.SIGTERM)
        assert live.process.wait(timeout=25) == 0
        shutdown = time.monotonic() - stopped
        endless.join(timeout=10)
        assert not endless.is_alive()
        assert any(line.startswith("data:") for line in lines), lines
        assert shutdown < 5.0, live.log_text()  # the open stream did not hold the drain up
