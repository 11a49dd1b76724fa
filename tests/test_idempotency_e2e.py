"""Idempotency keys across processes: two servers of one generated service share a PostgreSQL
database; the same create with the same key, sent to both at once, creates exactly one row and
both callers get the same answer (the loser of the race replays the winner's response)."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from evolve_support import Database, postgres_database
from live_service import serve

from backforge.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SPEC = """\
service: {name: ledger}
resources:
  Entry:
    fields:
      reference: {type: string, max_length: 80, required: true, unique: true}
      amount: {type: decimal, min: 0}
"""
ROUNDS = 12


def post_together(urls: list[str], body: dict[str, str], key: str) -> list[httpx.Response]:
    """The same create, sent to every server at the same instant."""
    barrier = threading.Barrier(len(urls))
    answers: list[httpx.Response | None] = [None] * len(urls)

    def send(i: int) -> None:
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            barrier.wait()
            answers[i] = client.post(
                f"{urls[i]}/api/v1/entries", json=body, headers={"Idempotency-Key": key}
            )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def test_one_key_sent_to_two_processes_at_once_creates_one_row(tmp_path: Path) -> None:
    spec = tmp_path / "ledger.yaml"
    spec.write_text(SPEC)
    project = tmp_path / "ledger"
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    with postgres_database(project) as url, ExitStack() as stack:
        database = Database(project, url)
        database.must("upgrade", "head")
        urls = [
            stack.enter_context(
                serve(project, "ledger", {"DATABASE_URL": url}, tmp_path / f"s{i}.log")
            ).url
            for i in (1, 2)
        ]
        replayed = both = 0
        for n in range(ROUNDS):
            key = f"round-{n}"
            body = {"reference": f"ref-{n}", "amount": "12.50"}
            answers = post_together(urls, body, key)
            statuses = sorted(a.status_code for a in answers)
            # both 201 (one replayed), or the documented 409 "in progress" for the loser
            assert statuses in ([201, 201], [201, 409]), [a.text for a in answers]
            created = [a for a in answers if a.status_code == 201]
            assert len({a.content for a in created}) == 1
            assert len({a.headers["location"] for a in created}) == 1
            replayed += sum(a.headers.get("idempotent-replayed") == "true" for a in answers)
            both += statuses == [201, 201]
            rows = database.sql(f"SELECT count(*) AS n FROM entry WHERE reference = 'ref-{n}'")
            assert rows[0]["n"] == 1
            keys = database.sql(f"SELECT status_code FROM idempotency_keys WHERE key = '{key}'")
            assert keys == [{"status_code": 201}]
            # a late retry to either process replays too
            late = httpx.post(
                f"{urls[n % 2]}/api/v1/entries",
                json=body,
                headers={"Idempotency-Key": key},
                trust_env=False,
            )
            assert late.status_code == 201 and late.content == created[0].content
            assert late.headers["idempotent-replayed"] == "true"
        assert replayed == both  # when both got 201, exactly one of them is the replay
        total = database.sql("SELECT count(*) AS n FROM entry")
        assert total[0]["n"] == ROUNDS
