"""The relay's trace context reaches the real brokers of this machine: an event published by a
generated service's `BrokerSink` carries its `traceparent` as a message header on RabbitMQ
(127.0.0.1:5672) and on NATS JetStream (127.0.0.1:4222), beside the CloudEvent attribute.
Each broker gets names of its own (exchange, queue, stream), deleted afterwards."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest
from live_service import project_python

from backforge.cli import main

pytestmark = [pytest.mark.e2e]

SPEC = """\
service: {name: tracer}
resources:
  Entry:
    fields:
      title: {type: string, required: true}
    events: [created]
"""
TRACEPARENT = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"

# Run in the project's environment (FastStream's drivers): publish with the sink, read it back.
SCRIPT = r"""
import asyncio, json, sys
import aio_pika, nats
from tracer.core.brokers import BrokerSink

name, traceparent = sys.argv[1], sys.argv[2]
EVENT = {"specversion": "1.0", "id": name, "source": "/api/v1/entries", "type": "entry.created",
         "subject": "1", "time": "2026-01-01T00:00:00+00:00", "datacontenttype": "application/json",
         "data": {"after": {"id": 1}, "before": None}, "traceparent": traceparent}

async def rabbit(url):
    connection = await aio_pika.connect(url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(name, "topic", durable=True)
    queue = await channel.declare_queue(name)
    await queue.bind(exchange, "#")
    sink = BrokerSink(url, name)
    await sink.connect()
    await sink.publish(dict(EVENT))
    await sink.close()
    message = await queue.get(no_ack=True, timeout=10)
    await queue.delete(if_unused=False, if_empty=False)
    await exchange.delete()
    await connection.close()
    return [message.headers.get("traceparent"), json.loads(message.body)["traceparent"]]

async def jetstream(url):
    sink = BrokerSink(url, name)
    await sink.connect()
    await sink.publish(dict(EVENT))
    await sink.close()
    client = await nats.connect(url)
    js = client.jetstream()
    subscription = await js.pull_subscribe(f"{name}.entry.created")
    [message] = await subscription.fetch(1, timeout=10)
    await js.delete_stream(sink.stream)
    await client.close()
    return [message.headers.get("traceparent"), json.loads(message.data)["traceparent"]]

async def both():
    return {"rabbit": await rabbit("amqp://guest:guest@127.0.0.1:5672/"),
            "nats": await jetstream("nats://127.0.0.1:4222")}

print(json.dumps(asyncio.run(both())))
"""


@pytest.fixture(scope="module")
def tracer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trace")
    (root / "tracer.yaml").write_text(SPEC)
    assert main(["generate", str(root / "tracer.yaml"), "-o", str(root / "tracer")]) == 0
    return root / "tracer"


def test_the_traceparent_travels_as_a_header_on_both_brokers(tracer: Path) -> None:
    name = f"bf-trace-{secrets.token_hex(4)}"
    done = subprocess.run(
        [str(project_python(tracer)), "-c", SCRIPT, name, TRACEPARENT],
        cwd=tracer,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])
    assert found == {"rabbit": [TRACEPARENT, TRACEPARENT], "nats": [TRACEPARENT, TRACEPARENT]}
