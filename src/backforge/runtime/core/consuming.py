"""The subscribers of the service's subscriptions (`consumes`), through FastStream, chosen by
BROKER_URL like the relay's broker (core/brokers.py): each takes its events into the inbox
(core/inbox.py).

- ``amqp://`` — RabbitMQ: the durable queue ``<service>.<subscription>``, bound to the
  publisher's topic exchange ``<source>.events`` with the subscription's event types as routing
  keys (`book.*` is a topic pattern).
- ``nats://`` — NATS JetStream: the durable pull consumer ``<service>_<subscription>`` of the
  publisher's stream ``<SOURCE>_EVENTS`` (created when missing), on the subject of its one event
  type, or on every subject with the types chosen here.

A message is acknowledged once the inbox has it, and requeued when the inbox could not store it
(the database failed): nothing is lost, and the inbox drops what arrives twice.
"""

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from .brokers import broker_kind


def stream_name(name: str) -> str:
    """The JetStream stream of the subjects ``<name>.>``: `shop.events` → `SHOP_EVENTS`."""
    return name.upper().replace(".", "_").replace("-", "_")


async def ensure_stream(url: str, name: str) -> None:
    """Create the stream of ``<name>.>`` when it is missing."""
    import nats  # type: ignore[import-not-found,unused-ignore]
    from nats.js.errors import NotFoundError  # type: ignore[import-not-found,unused-ignore]

    client = await nats.connect(url)
    try:
        jetstream = client.jetstream()
        try:
            await jetstream.stream_info(stream_name(name))
        except NotFoundError:
            await jetstream.add_stream(name=stream_name(name), subjects=[f"{name}.>"])
    finally:
        await client.close()


# A subscription and the bodies of messages, in the order they came: into the inbox, together.
Take = Callable[[str, list[bytes]], Awaitable[None]]


class BrokerSource:
    """Subscribes the ``subscriptions`` (core/inbox.py's `Subscription`) of the service
    ``service`` at the broker at ``url``, handing each message to ``take``; `start` first,
    `close` at the end."""

    def __init__(self, url: str, service: str, subscriptions: Iterable[Any], take: Take) -> None:
        self.url = url
        self.kind = broker_kind(url)
        self.service = service
        self.subscriptions = list(subscriptions)
        self.take = take
        self.broker: Any = None

    async def start(self) -> None:
        if self.kind == "rabbit":
            await self._rabbit()
        else:
            await self._nats()
        await self.broker.start()

    async def _rabbit(self) -> None:
        from faststream import AckPolicy  # type: ignore[import-not-found,unused-ignore]
        from faststream.rabbit import (  # type: ignore[import-not-found,unused-ignore]
            ExchangeType,
            RabbitBroker,
            RabbitExchange,
            RabbitQueue,
        )

        self.broker = RabbitBroker(self.url, logger=None)
        await self.broker.connect()
        for subscription in self.subscriptions:
            exchange = RabbitExchange(
                f"{subscription.source}.events", type=ExchangeType.TOPIC, durable=True
            )
            queue = RabbitQueue(
                f"{self.service}.{subscription.name}",
                durable=True,
                routing_key=subscription.events[0],
            )
            declared = await self.broker.declare_queue(queue)
            found = await self.broker.declare_exchange(exchange)
            for pattern in subscription.events:  # bound before anything is consumed
                await declared.bind(found, routing_key=pattern)
            self._subscribe(
                self.broker.subscriber(queue, exchange, ack_policy=AckPolicy.NACK_ON_ERROR),
                subscription.name,
                lambda _type: True,  # the bindings chose
            )

    async def _nats(self) -> None:
        from faststream import AckPolicy  # type: ignore[import-not-found,unused-ignore]
        from faststream.nats import (  # type: ignore[import-not-found,unused-ignore]
            JStream,
            NatsBroker,
            PullSub,
        )
        from nats.js.api import DeliverPolicy  # type: ignore[import-not-found,unused-ignore]

        self.broker = NatsBroker(self.url, logger=None)
        await self.broker.connect()
        for subscription in self.subscriptions:
            prefix = f"{subscription.source}.events"
            await ensure_stream(self.url, prefix)
            one = len(subscription.events) == 1  # else every subject, chosen here
            subject = f"{prefix}.{subscription.events[0] if one else '>'}"
            self._subscribe(
                self.broker.subscriber(
                    subject,
                    stream=JStream(stream_name(prefix), declare=False),
                    durable=f"{self.service}_{subscription.name}",
                    deliver_policy=DeliverPolicy.ALL,
                    # batches, handed over whole: in order (a batch's messages one by one
                    # would be taken concurrently)
                    pull_sub=PullSub(batch_size=100, timeout=1.0, batch=True),
                    ack_policy=AckPolicy.NACK_ON_ERROR,
                ),
                subscription.name,
                subscription.takes,
            )

    def _subscribe(self, subscriber: Any, name: str, takes: Callable[[str], bool]) -> None:
        from faststream import Context  # type: ignore[import-not-found,unused-ignore]

        message_type = Annotated[Any, Context("message")]  # FastStream's message, raw body

        async def take(message: message_type) -> None:
            raw = message.raw_message
            if not isinstance(raw, list):  # RabbitMQ: one message
                await self.take(name, [message.body])
                return
            bodies = [m.data for m in raw if takes(m.subject.split(".events.", 1)[-1])]
            if bodies:
                await self.take(name, bodies)

        subscriber(take)

    async def close(self) -> None:
        if self.broker is not None:
            await self.broker.stop()
