"""The outbox relay against the real RabbitMQ (127.0.0.1:5672) and NATS JetStream
(127.0.0.1:4222) of this machine, on PostgreSQL. A generated service with events writes them
through its API; `python -m journal.events.relay` publishes them with BROKER_URL set.

RabbitMQ: with no queue bound, every event is unroutable and dead-letters; bound, `--replay`
delivers each, in order per record; re-published (a relay that died before its commit), the
consumer sees duplicates and keeps each id once. A broker outage (a proxy this test cuts, never
the shared server) while the API keeps writing: after recovery, 0 lost. NATS: the stream drops
the re-published duplicates by `Nats-Msg-Id`. Each broker gets names of its own (exchange,
queue, stream), deleted afterwards. Prints the figures."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from evolve_support import Database, postgres_database
from live_service import project_python, serve
from test_events_e2e import RECORDS, SPEC, backlog, outbox, pending, wait_for, write_events

from backforge.cli import main
from backforge.verify.tcpproxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

RABBIT = "amqp://guest:guest@127.0.0.1:5672/"
NATS = "nats://127.0.0.1:4222"
EXCHANGE = "journal.events"  # the relay's: <package>.events
QUEUE = "bf-events-e2e"
STREAM = "JOURNAL_EVENTS"
THROUGHPUT = 500

# Run in the project's environment (FastStream's drivers): bind / drain / clean up.
CONSUMER = r"""
import asyncio, json, sys
import aio_pika, nats

async def rabbit(action):
    connection = await aio_pika.connect(sys.argv[2])
    channel = await connection.channel()
    if action == "bind":
        exchange = await channel.declare_exchange(sys.argv[3], "topic", durable=True)
        queue = await channel.declare_queue(sys.argv[4])
        await queue.bind(exchange, "#")
    elif action == "drain":
        queue = await channel.declare_queue(sys.argv[4])
        got = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            got.append([message.message_id, json.loads(message.body)["subject"]])
        print(json.dumps(got))
    else:
        await channel.queue_delete(sys.argv[4])
        await channel.exchange_delete(sys.argv[3])
    await connection.close()

async def stream(action):
    client = await nats.connect(sys.argv[2])
    jetstream = client.jetstream()
    if action == "drain":
        info = await jetstream.stream_info(sys.argv[3])
        got = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await jetstream.get_msg(sys.argv[3], seq)
            got.append([message.headers["Nats-Msg-Id"], json.loads(message.data)["subject"]])
        print(json.dumps(got))
    else:
        try:
            await jetstream.delete_stream(sys.argv[3])
        except Exception:
            pass
    await client.close()

kind, action = sys.argv[1].split(":")
asyncio.run(rabbit(action) if kind == "rabbit" else stream(action))
"""


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("brokers")
    spec = root / "journal.yaml"
    spec.write_text(SPEC)
    assert main(["generate", str(spec), "-o", str(root / "journal")]) == 0
    return root / "journal"


def consumer(project: Path, *args: str) -> list[list[str]]:
    done = subprocess.run(
        [str(project_python(project)), "-c", CONSUMER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else []


def relay_env(url: str, broker: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "BROKER_URL": broker,
        "LOG_FORMAT": "json",
        "OUTBOX_POLL_INTERVAL": "0.05",
        "OUTBOX_BACKOFF_BASE": "0.05",
        "OUTBOX_BACKOFF_CAP": "0.5",
        **extra,
    }


def relay_once(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(project_python(project)), "-m", "journal.events.relay", "--once", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def in_order(got: list[list[str]], rows: list[dict[str, object]]) -> bool:
    """Each record's events arrived in the order they were written."""
    position = {str(row["id"]): n for n, row in enumerate(rows)}
    last: dict[str, int] = {}
    for event_id, subject in got:
        if position[event_id] < last.get(subject, -1):
            return False
        last[subject] = position[event_id]
    return True


def low_port() -> int:
    """A free port below the ephemeral range: while the proxy is cut, a client retrying could
    otherwise be given that very port as its own and connect to itself."""
    for port in random.sample(range(20000, 30000), 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port")


def restore(proxy: TcpProxy) -> None:
    """Listen again on the proxy's port, once the cut connections have let go of it."""
    deadline = time.monotonic() + 20
    while True:
        try:
            proxy.restore()
            return
        except OSError:
            assert time.monotonic() < deadline, "the proxy's port stayed taken"
            time.sleep(0.2)


@contextmanager
def service(journal: Path, tmp_path: Path) -> Iterator[tuple[Database, str, str]]:
    with postgres_database(journal) as url, ExitStack() as stack:
        database = Database(journal, url)
        database.must("upgrade", "head")
        environ = {"DATABASE_URL": url, "OUTBOX_RELAY": "false"}
        api = stack.enter_context(serve(journal, "journal", environ, tmp_path / "api.log"))
        yield database, url, api.url


def test_rabbitmq_dead_letters_replays_dedupes_and_survives_an_outage(
    journal: Path, tmp_path: Path
) -> None:
    consumer(journal, "rabbit:clean", RABBIT, EXCHANGE, QUEUE)
    try:
        with service(journal, tmp_path) as (database, url, api):
            write_events(api, RECORDS)
            events = 3 * RECORDS
            # no queue bound: unroutable, dead after one attempt
            relay_once(journal, relay_env(url, RABBIT, OUTBOX_MAX_ATTEMPTS="1"))
            rows = outbox(database)
            assert {row["status"] for row in rows} == {"dead"}
            # the fix: a queue; then the replay delivers every event, in order per record
            consumer(journal, "rabbit:bind", RABBIT, EXCHANGE, QUEUE)
            assert f"{events} dead-lettered" in relay_once(
                journal, relay_env(url, RABBIT), "--replay"
            )
            started = time.monotonic()
            relay_once(journal, relay_env(url, RABBIT))
            seconds = time.monotonic() - started
            got = consumer(journal, "rabbit:drain", RABBIT, EXCHANGE, QUEUE)
            rows = outbox(database)
            assert [g[0] for g in got] and sorted(g[0] for g in got) == sorted(
                str(row["id"]) for row in rows
            )
            assert in_order(got, rows)
            # a relay that died before committing: published again, deduplicated by id
            database.sql("UPDATE outbox_events SET status = 'pending'")
            relay_once(journal, relay_env(url, RABBIT))
            again = consumer(journal, "rabbit:drain", RABBIT, EXCHANGE, QUEUE)
            assert len(again) == events
            assert len({g[0] for g in got + again}) == events  # exactly once per id

            # outage: the relay's way to RabbitMQ cut while the API keeps writing
            proxy = TcpProxy(("127.0.0.1", 5672))
            proxy.port = low_port()
            port = proxy.start()
            broker = f"amqp://guest:guest@127.0.0.1:{port}/"
            log = stack_log = open(tmp_path / "outage-relay.log", "wb")  # noqa: SIM115
            running = subprocess.Popen(
                [str(project_python(journal)), "-m", "journal.events.relay"],
                cwd=journal,
                env=relay_env(url, broker, OUTBOX_MAX_ATTEMPTS="1000"),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                write_events(api, 2)
                wait_for(lambda: pending(database) == 0)
                proxy.cut()
                cut = time.monotonic()
                write_events(api, 4)  # 12 events while the broker is unreachable
                time.sleep(1)
                failed = pending(database)
                restore(proxy)
                wait_for(lambda: pending(database) == 0, 60)
                recovered = time.monotonic() - cut
            finally:
                running.send_signal(signal.SIGTERM)
                running.wait(timeout=30)
                stack_log.close()
                proxy.close()
            after = consumer(journal, "rabbit:drain", RABBIT, EXCHANGE, QUEUE)
            written = {str(row["id"]) for row in outbox(database)[events:]}
            assert {g[0] for g in after} == written  # 0 lost
    finally:
        consumer(journal, "rabbit:clean", RABBIT, EXCHANGE, QUEUE)
    print(
        f"\n[rabbitmq] {events} events dead-lettered (unroutable), replayed: {len(got)} "
        f"delivered in order in {seconds:.2f} s; re-published {len(again)}, unique ids "
        f"{events}; outage: {failed} pending while cut, all {len(written)} delivered "
        f"{recovered:.1f} s after the cut, 0 lost"
    )


def test_nats_jetstream_drops_republished_duplicates(journal: Path, tmp_path: Path) -> None:
    consumer(journal, "nats:clean", NATS, STREAM)
    try:
        with service(journal, tmp_path) as (database, url, api):
            write_events(api, RECORDS)
            started = time.monotonic()
            relay_once(journal, relay_env(url, NATS))
            seconds = time.monotonic() - started
            rows = outbox(database)
            assert {row["status"] for row in rows} == {"sent"}
            database.sql("UPDATE outbox_events SET status = 'pending'")
            relay_once(journal, relay_env(url, NATS))  # every event published a second time
            got = consumer(journal, "nats:drain", NATS, STREAM)
            assert sorted(g[0] for g in got) == sorted(str(row["id"]) for row in rows)
            assert in_order(got, rows)
            # throughput: a backlog of THROUGHPUT events, published in one run
            database.sql("DELETE FROM outbox_events")
            backlog(database, THROUGHPUT, aggregates=100)
            relay_once(journal, relay_env(url, NATS, OUTBOX_BATCH_SIZE="100"))
            assert pending(database) == 0
            span = database.sql(
                "SELECT extract(epoch FROM max(sent_at) - min(sent_at)) AS s FROM outbox_events"
            )[0]["s"]
            rate = THROUGHPUT / max(float(span), 1e-3)
            assert len(consumer(journal, "nats:drain", NATS, STREAM)) == len(rows) + THROUGHPUT
    finally:
        consumer(journal, "nats:clean", NATS, STREAM)
    print(
        f"\n[nats] {len(rows)} events published twice, {len(got)} in the stream "
        f"(duplicates dropped by Nats-Msg-Id), in order; first pass {seconds:.2f} s; "
        f"{THROUGHPUT} more at {rate:.0f} events/s (first to last publication)"
    )
