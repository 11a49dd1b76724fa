"""Webhooks as processes on PostgreSQL: a generated service (tests/specs/webhooks.yaml) with its
in-app relay and delivery worker, and a receiver on a loopback port in this process. Changes
made through the API reach the receiver signed (verified with the reference library
`standardwebhooks`); a receiver failing three times gets the event on the fourth attempt, after
the schedule's waits (scaled down by WEBHOOK_RETRY_SCALE); 410 disables its subscriber; without
WEBHOOK_ALLOW_PRIVATE_TARGETS, http://127.0.0.1/ is refused. Prints deliveries per second."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from evolve_support import Database, postgres_database
from live_service import Live, run_in, serve
from standardwebhooks import Webhook

from backforge.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SPEC = Path(__file__).parent / "specs" / "webhooks.yaml"
API = "/api/v1"
PASSWORD = "correct horse battery staple"
URL = "/webhooks"
SCALE = 0.001  # the schedule's 5 s, 5 min, 30 min: 5 ms, 0.3 s, 1.8 s
BACKLOG = 1000  # events written straight to the outbox, for the throughput figure


class Receiver(ThreadingHTTPServer):
    """Keeps every request (path, headers, body, time); answers each path with its scripted
    statuses in turn, then 200."""

    daemon_threads = True
    request_queue_size = 256  # the worker sends a batch at once

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[tuple[str, dict[str, str], bytes, float]] = []
        self.script: dict[str, list[int]] = {}
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def at(self, path: str) -> list[tuple[str, dict[str, str], bytes, float]]:
        with self.lock:
            return [entry for entry in self.received if entry[0] == path]


class Handler(BaseHTTPRequestHandler):
    server: Receiver
    protocol_version = "HTTP/1.1"  # keep-alive, as receivers are

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with self.server.lock:
            self.server.received.append((self.path, dict(self.headers), body, time.monotonic()))
            statuses = self.server.script.get(self.path) or [200]
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def receiving() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("webhooks")
    assert main(["generate", str(SPEC), "-o", str(root / "hooked")]) == 0
    return root / "hooked"


def client(live: Live, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=live.url + API, headers=headers, timeout=30, trust_env=False)


def admin_token(live: Live) -> str:
    form = {"grant_type": "password", "username": "root@example.com", "password": PASSWORD}
    with client(live) as http:
        response = http.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def wait_for(condition: Any, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def backlog(database: Database, rows: int) -> None:
    database.sql(
        "INSERT INTO outbox_events (id, aggregate_type, aggregate_id, type, specversion, source, "
        "subject, time, datacontenttype, payload, status, attempts, next_attempt_at) "
        "SELECT gen_random_uuid()::text, 'Book', 'b' || n::text, 'book.created', '1.0', "
        "'/api/v1/books', 'b' || n::text, now(), 'application/json', "
        """'{"after": {}, "before": null}'::json, 'pending', 0, now() """
        f"FROM generate_series(1, {rows}) AS n"
    )


def test_changes_reach_subscribers_signed_retried_and_guarded(hooked: Path, tmp_path: Path) -> None:
    with postgres_database(hooked) as url, ExitStack() as stack, receiving() as receiver:
        database = Database(hooked, url)
        database.must("upgrade", "head")
        environ = {
            "DATABASE_URL": url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "RATE_LIMIT_ENABLED": "false",
            "OUTBOX_POLL_INTERVAL": "0.05",
            "WEBHOOK_POLL_INTERVAL": "0.05",
            "WEBHOOK_BATCH_SIZE": "100",
            "WEBHOOK_RETRY_SCALE": str(SCALE),
        }
        run_in(
            hooked,
            ["-m", "hooked.auth.bootstrap", "root@example.com"],
            {**environ, "ADMIN_PASSWORD": PASSWORD},
        )
        with (
            serve(hooked, "hooked", environ, tmp_path / "guarded.log") as guarded,
            client(guarded, admin_token(guarded)) as http,
        ):
            body = {"url": "http://127.0.0.1/", "events": ["book.created"]}
            refused = http.post(URL, json=body)
            assert refused.status_code == 422, refused.text
            assert "loopback" in refused.json()["detail"]

        allowed = {**environ, "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
        live = stack.enter_context(serve(hooked, "hooked", allowed, tmp_path / "api.log"))
        receiver.script = {"/flaky": [500, 500, 500, 200], "/gone": [410]}
        with client(live, admin_token(live)) as http:
            subscribers = {}
            for path, events in (
                ("/all", ["book.created", "book.updated", "book.deleted", "shelf.created"]),
                ("/flaky", ["book.created"]),
                ("/gone", ["book.created"]),
            ):
                created = http.post(URL, json={"url": receiver.url + path, "events": events})
                assert created.status_code == 201, created.text
                subscribers[path] = created.json()
            book = http.post("/books", json={"title": "Dune", "secret": "s3cret!"})
            assert book.status_code == 201, book.text
            id = book.json()["id"]
            assert http.patch(f"/books/{id}", json={"title": "Dune II"}).status_code == 200
            assert http.delete(f"/books/{id}").status_code == 204
            assert http.post("/shelves", json={"name": "sci-fi"}).status_code == 201

            wait_for(lambda: len(receiver.at("/all")) == 4 and len(receiver.at("/flaky")) == 4)
            hook = Webhook(subscribers["/all"]["secret"])
            events = [hook.verify(body, headers) for _, headers, body, _ in receiver.at("/all")]
            assert sorted(e["type"] for e in events) == sorted(
                ["book.created", "book.updated", "book.deleted", "shelf.created"]
            )
            assert all("s3cret" not in json.dumps(e) for e in events)  # write-only: left out
            flaky = receiver.at("/flaky")
            assert len({headers["webhook-id"] for _, headers, _, _ in flaky}) == 1  # one event
            Webhook(subscribers["/flaky"]["secret"]).verify(flaky[-1][2], flaky[-1][1])
            gaps = [later[3] - earlier[3] for earlier, later in itertools.pairwise(flaky)]
            for gap, wait in zip(gaps, (5.0, 300.0, 1800.0), strict=True):
                assert gap >= wait * SCALE * 0.9, (gaps, wait)
            log = http.get(f"{URL}/{subscribers['/flaky']['id']}/deliveries").json()["items"]
            assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 4)]
            wait_for(lambda: not http.get(f"{URL}/{subscribers['/gone']['id']}").json()["enabled"])
            assert len(receiver.at("/gone")) == 1

            # throughput: a backlog of events, fanned out to /all and /flaky
            before = len(receiver.received)
            started = time.monotonic()
            backlog(database, BACKLOG)
            wait_for(lambda: len(receiver.received) >= before + 2 * BACKLOG, seconds=300)
            took = time.monotonic() - started
        pending = database.sql(
            "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 'pending'"
        )[0]["n"]
        assert pending == 0
    rate = 2 * BACKLOG / took
    print(
        f"\n[webhooks e2e] {2 * BACKLOG} deliveries ({BACKLOG} events x 2 subscribers) in "
        f"{took:.1f} s: {rate:.0f} deliveries/s (PostgreSQL, in-app relay and worker, "
        f"loopback receiver); retries after {', '.join(f'{g:.2f}' for g in gaps)} s"
    )
