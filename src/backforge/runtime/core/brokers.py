"""The relay's broker (core/relay.py's `Sink`), through FastStream, chosen by BROKER_URL:

- ``amqp://`` — RabbitMQ: each event goes to the durable topic exchange ``<name>`` with the
  event's type as routing key (`book.created`) and its id as message id, persistent, with
  publisher confirms; a message no queue takes (unroutable) is a failure, retried like any.
- ``nats://`` — NATS JetStream: each event goes to the subject ``<name>.<type>`` of the stream
  ``<NAME>`` (created when missing) and waits for the stream's acknowledgement; the
  `Nats-Msg-Id` header (the event id) lets the stream drop a duplicate a relay re-publishes.

Events are CloudEvents in structured JSON form (`application/cloudevents+json`); the
`traceparent` of the relay's publish span (core/relay.py) also travels as a message header.
"""

from typing import Any
from urllib.parse import urlsplit

CONTENT_TYPE = "application/cloudevents+json"


class PublishRefused(Exception):
    """The broker did not take the event (unroutable, or not acknowledged)."""


def broker_kind(url: str) -> str:
    """`rabbit` or `nats`, from a BROKER_URL; ValueError for any other scheme."""
    scheme = urlsplit(url).scheme
    if scheme in ("amqp", "amqps"):
        return "rabbit"
    if scheme in ("nats", "tls"):
        return "nats"
    raise ValueError(f"BROKER_URL must start with amqp:// or nats://, not {scheme or url!r}")


class BrokerSink:
    """Publishes to the broker at ``url``; `connect` first, `close` at the end."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.kind = broker_kind(url)
        self.name = name  # the exchange (RabbitMQ); the subjects' prefix (NATS)
        self.stream = name.upper().replace(".", "_").replace("-", "_")
        self.broker: Any = None
        self.exchange: Any = None

    async def connect(self) -> None:
        if self.kind == "rabbit":
            from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange  # type: ignore[import-not-found,unused-ignore]

            self.broker = RabbitBroker(self.url, logger=None)
            await self.broker.connect()
            self.exchange = RabbitExchange(self.name, type=ExchangeType.TOPIC, durable=True)
            await self.broker.declare_exchange(self.exchange)
            return
        import nats  # type: ignore[import-not-found,unused-ignore]
        from faststream.nats import NatsBroker  # type: ignore[import-not-found,unused-ignore]
        from nats.js.errors import NotFoundError  # type: ignore[import-not-found,unused-ignore]

        client = await nats.connect(self.url)
        try:
            jetstream = client.jetstream()
            try:
                await jetstream.stream_info(self.stream)
            except NotFoundError:
                await jetstream.add_stream(name=self.stream, subjects=[f"{self.name}.>"])
        finally:
            await client.close()
        self.broker = NatsBroker(self.url, logger=None)
        await self.broker.connect()

    async def publish(self, event: dict[str, Any]) -> None:
        trace = {"traceparent": event["traceparent"]} if "traceparent" in event else {}
        if self.kind == "rabbit":
            from pamqp.commands import Basic  # type: ignore[import-not-found,unused-ignore]

            confirmed = await self.broker.publish(
                event,
                exchange=self.exchange,
                routing_key=event["type"],
                message_id=event["id"],
                content_type=CONTENT_TYPE,
                mandatory=True,
                persist=True,
                headers=trace,
            )
            if not isinstance(confirmed, Basic.Ack):
                raise PublishRefused(f"RabbitMQ did not take {event['type']}: no queue is bound")
            return
        await self.broker.publish(
            event,
            f"{self.name}.{event['type']}",
            stream=self.stream,
            headers={"Nats-Msg-Id": event["id"], "content-type": CONTENT_TYPE, **trace},
        )

    async def close(self) -> None:
        if self.broker is not None:
            await self.broker.stop()
