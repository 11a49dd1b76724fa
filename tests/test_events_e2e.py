"""The outbox relay as processes on PostgreSQL: a generated service with events writes them
through its API; relays (`python -m <package>.events.relay`, publishing to their log) run beside
it. Two relays at once publish every event exactly once, each record's events in order; a relay
killed with SIGKILL mid-run loses nothing (a restarted one publishes the rest, duplicates only
of what the killed one had not committed, with the same ids). Prints the figures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from evolve_support import Database, postgres_database
from live_service import project_python, serve

from backforge.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SPEC = """\
service: {name: journal}
resources:
  Entry:
    fields:
      title: {type: string, max_length: 80, required: true}
      secret: {type: string, write_only: true}
    events: [created, updated, deleted]
"""
RECORDS = 10  # each created, then updated twice: three events per record
BACKLOG = 1000  # events written straight to the outbox, for two relays to share
KILL_BATCH = 20


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("events")
    spec = root / "journal.yaml"
    spec.write_text(SPEC)
    assert main(["generate", str(spec), "-o", str(root / "journal")]) == 0
    return root / "journal"


def relay(
    project: Path, url: str, log: Path, *args: str, batch: int = 5
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_FORMAT": "json",
        "OUTBOX_BATCH_SIZE": str(batch),
        "OUTBOX_POLL_INTERVAL": "0.05",
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(project_python(project)), "-m", "journal.events.relay", *args],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def published(*logs: Path) -> list[str]:
    """The ids of the events the relays' logs say they published, in order."""
    ids = []
    for log in logs:
        for line in log.read_text("utf-8").splitlines():
            if line.startswith("{") and json.loads(line).get("event", "").startswith("event "):
                ids.append(json.loads(line)["event"].split()[2])
    return ids


def write_events(url: str, records: int) -> None:
    with httpx.Client(base_url=url, timeout=30.0, trust_env=False) as http:
        for n in range(records):
            created = http.post("/api/v1/entries", json={"title": f"t{n}", "secret": "s3cret!"})
            assert created.status_code == 201, created.text
            for version in (1, 2):
                path = f"/api/v1/entries/{created.json()['id']}"
                changed = http.patch(path, json={"title": f"t{n} v{version + 1}"})
                assert changed.status_code == 200, changed.text


def backlog(database: Database, rows: int, aggregates: int) -> None:
    """``rows`` pending events of ``aggregates`` records, written at once (as many changes
    would)."""
    database.sql(
        "INSERT INTO outbox_events (id, aggregate_type, aggregate_id, type, specversion, source, "
        "subject, time, datacontenttype, payload, status, attempts, next_attempt_at) "
        "SELECT gen_random_uuid()::text, 'Entry', 'b' || (n % "
        f"{aggregates})::text, 'entry.updated', '1.0', '/api/v1/entries', 'b' || (n % "
        f"{aggregates})::text, now(), 'application/json', "
        """'{"after": {}, "before": null}'::json, 'pending', 0, now() """
        f"FROM generate_series(1, {rows}) AS n"
    )


def outbox(database: Database) -> list[dict[str, object]]:
    return database.sql(
        "SELECT id, aggregate_id, status, sent_at, payload::text AS payload "
        "FROM outbox_events ORDER BY position"
    )


def pending(database: Database) -> int:
    return int(
        database.sql("SELECT count(*) AS n FROM outbox_events WHERE status <> 'sent'")[0]["n"]
    )


def wait_for(condition: object, seconds: float = 40.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def in_order_per_record(rows: list[dict[str, object]]) -> bool:
    """Each record's events were marked sent in the order they were written."""
    last: dict[object, str] = {}
    for row in rows:
        sent = str(row["sent_at"])
        if row["aggregate_id"] in last and sent < last[row["aggregate_id"]]:
            return False
        last[row["aggregate_id"]] = sent
    return True


def test_two_relays_and_a_killed_one_publish_every_event(journal: Path, tmp_path: Path) -> None:
    with postgres_database(journal) as url, ExitStack() as stack:
        database = Database(journal, url)
        database.must("upgrade", "head")
        environ = {"DATABASE_URL": url, "OUTBOX_RELAY": "false"}
        api = stack.enter_context(serve(journal, "journal", environ, tmp_path / "api.log"))
        write_events(api.url, RECORDS)
        rows = outbox(database)
        assert len(rows) == 3 * RECORDS
        assert all("s3cret" not in str(row["payload"]) for row in rows)  # write-only: left out
        backlog(database, BACKLOG, aggregates=200)

        # two relays at once: every event exactly once, each record's in order
        logs = [tmp_path / "relay-1.log", tmp_path / "relay-2.log"]
        relays = [relay(journal, url, log, batch=50) for log in logs]
        wait_for(lambda: pending(database) == 0)
        for running in relays:
            running.send_signal(signal.SIGTERM)
        assert [running.wait(timeout=30) for running in relays] == [0, 0]
        ids = published(*logs)
        rows = outbox(database)
        assert Counter(ids) == Counter(str(row["id"]) for row in rows)  # none lost, none twice
        assert {row["status"] for row in rows} == {"sent"}
        assert in_order_per_record(rows)
        each = [len(published(log)) for log in logs]
        span = database.sql(
            "SELECT extract(epoch FROM max(sent_at) - min(sent_at)) AS s FROM outbox_events"
        )[0]["s"]
        rate = len(ids) / max(float(span), 1e-3)

        # SIGKILL mid-run, while the API keeps writing: nothing is lost
        killed_log, rest_log = tmp_path / "killed.log", tmp_path / "rest.log"
        backlog(database, BACKLOG // 2, aggregates=100)
        running = relay(journal, url, killed_log, batch=KILL_BATCH)
        wait_for(lambda: len(published(killed_log)) >= 50)
        write_events(api.url, 2)
        running.send_signal(signal.SIGKILL)
        running.wait(timeout=30)
        before = len(published(killed_log))
        assert relay(journal, url, rest_log, "--once").wait(timeout=60) == 0
        rows = outbox(database)
        second = {str(row["id"]) for row in rows[len(ids) :]}
        delivered = Counter(i for i in published(killed_log, rest_log) if i in second)
        assert set(delivered) == second  # 0 lost
        duplicates = sum(count - 1 for count in delivered.values())
        assert duplicates <= KILL_BATCH  # at most the batch the killed relay had not committed
        assert {row["status"] for row in rows} == {"sent"}
        assert in_order_per_record(rows)
    print(
        f"\n[events e2e] two relays: {len(ids)} events, split {each}, 0 lost, 0 twice, "
        f"{rate:.0f} events/s (first to last publication, PostgreSQL, log sink); SIGKILL after "
        f"{before} of {len(second)} published: 0 lost, {duplicates} duplicate(s)"
    )
