"""The outbox relay: publishes the pending rows of ``outbox_events`` (core/outbox.py) to a sink,
in order per aggregate, and marks them sent.

Each round claims a batch in one transaction: on PostgreSQL (MySQL 8 and MariaDB 10.6 too) with
``SELECT … FOR UPDATE SKIP LOCKED``, so relays running side by side never claim the same row;
SQLite has no row locks (run one relay there). A row is claimed only while no earlier row of its
aggregate is still pending: a later event of a record waits behind one that failed. A failed
publish is retried after a capped exponential backoff with jitter; after ``max_attempts`` the
row is dead-lettered (status `dead`, kept with its last error) until `replay` sets it pending.
Delivery is at least once: a relay that dies after publishing and before committing publishes
those rows again, with the same event ids for consumers to deduplicate by.

Each publish is a PRODUCER span that continues the row's `traceparent` (the request that made
the change), and the event carries that span's `traceparent` on to the broker: one trace runs
from the request through the outbox to the consumers. Without tracing the spans are no-ops and
the event keeps the request's `traceparent`.
"""

import contextlib
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import utcnow
from .outbox import DEAD, PENDING, SENT, outbox_events
from .polling import PollingWorker, backoff

logger = logging.getLogger(__name__)
PROPAGATOR = TraceContextTextMapPropagator()

EVENTS_PUBLISHED = Counter("outbox_events_published_total", "Outbox events published.")
PUBLISH_FAILURES = Counter("outbox_publish_failures_total", "Failed attempts to publish.")
EVENTS_DEAD = Counter("outbox_events_dead_total", "Outbox events dead-lettered.")
BACKLOG = Gauge("outbox_backlog", "Outbox events by status, as a relay last saw.", ["status"])
OLDEST_PENDING = Gauge(
    "outbox_oldest_pending_seconds", "Age of the oldest pending outbox event, as a relay last saw."
)
EVENT_LAG = Histogram(
    "outbox_event_lag_seconds",
    "From the change's commit to the event's publication.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)


class Sink(Protocol):
    """Where the relay publishes: returns once the event is accepted, raises otherwise."""

    async def publish(self, event: dict[str, Any]) -> None: ...


class MemorySink:
    """Keeps what it is given, in order (tests, and development without a broker)."""

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []

    async def publish(self, event: dict[str, Any]) -> None:
        self.published.append(event)


class LogSink(MemorySink):
    """A MemorySink that also logs each event (type, id, subject); keeps the last 1,000."""

    keep = 1000

    async def publish(self, event: dict[str, Any]) -> None:
        logger.info("event %s %s %s", event["type"], event["id"], event["subject"])
        await super().publish(event)
        del self.published[: -self.keep]


@dataclass(frozen=True)
class RelayOptions:
    batch_size: int = 100
    max_attempts: int = 10  # OUTBOX_MAX_ATTEMPTS: then the row is dead-lettered
    backoff_base: float = 0.5  # seconds before the first retry; doubles with every attempt
    backoff_cap: float = 60.0  # the longest wait between two attempts
    poll_interval: float = 1.0  # seconds between rounds that found nothing to publish


def cloud_event(row: Any) -> dict[str, Any]:
    """A claimed row as a CloudEvents 1.0 event (structured JSON form)."""
    event: dict[str, Any] = {
        "specversion": row.specversion,
        "id": row.id,
        "source": row.source,
        "type": row.type,
        "subject": row.subject,
        "time": row.time.isoformat(),
        "datacontenttype": row.datacontenttype,
        "partitionkey": f"{row.aggregate_type}:{row.aggregate_id}",
        "data": row.payload,
    }
    if row.traceparent:
        event["traceparent"] = row.traceparent
    if row.request_id:
        event["requestid"] = row.request_id
    return event


@contextlib.contextmanager
def publish_span(tracer: Tracer, event: dict[str, Any]) -> Iterator[None]:
    """A PRODUCER span for publishing ``event``, the child of its `traceparent` (if any); the
    event's `traceparent` becomes this span's (unchanged while tracing is off)."""
    parent = (
        PROPAGATOR.extract({"traceparent": event["traceparent"]})
        if "traceparent" in event
        else None
    )
    attributes = {
        "messaging.operation.type": "send",
        "messaging.destination.name": event["type"],
        "messaging.message.id": event["id"],
        "cloudevents.event_id": event["id"],
        "cloudevents.event_type": event["type"],
        "cloudevents.event_subject": event["subject"],
    }
    name = f"send {event['type']}"
    with tracer.start_as_current_span(name, parent, SpanKind.PRODUCER, attributes):
        carrier: dict[str, str] = {}
        PROPAGATOR.inject(carrier)
        if "traceparent" in carrier:
            event["traceparent"] = carrier["traceparent"]
        yield


class Relay(PollingWorker):
    """Publishes pending outbox rows to ``sink``; `run_once` is one round."""

    label = "outbox relay"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sink: Sink,
        options: RelayOptions | None = None,
        rng: Callable[[], float] = random.random,
        tracer: Tracer | None = None,
    ) -> None:
        self.sessions = sessions
        self.sink = sink
        self.options = options or RelayOptions()
        self.rng = rng
        self.tracer = tracer or trace.get_tracer(__name__)  # the global provider's, once set

    @property
    def poll_interval(self) -> float:
        return self.options.poll_interval

    async def run_once(self) -> int:
        """Claim one batch and publish it; how many rows it claimed."""
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(self._claim(session))).all()
            for row in rows:
                await self._publish(session, row)
        return len(rows)

    async def observe(self) -> dict[str, Any]:
        """Set the backlog gauges (rows pending, dead; the oldest pending one's age)."""
        state = await backlog(self.sessions)
        for status in (PENDING, DEAD):
            BACKLOG.labels(status).set(state[status])
        OLDEST_PENDING.set(state["oldest_pending_seconds"])
        return state

    def _claim(self, session: AsyncSession) -> sa.Select[Any]:
        t = outbox_events
        earlier = outbox_events.alias("earlier")
        blocked = sa.exists().where(
            earlier.c.aggregate_type == t.c.aggregate_type,
            earlier.c.aggregate_id == t.c.aggregate_id,
            earlier.c.status == PENDING,
            earlier.c.position < t.c.position,
        )
        query = (
            sa.select(t)
            .where(t.c.status == PENDING, t.c.next_attempt_at <= utcnow(), ~blocked)
            .order_by(t.c.position)
            .limit(self.options.batch_size)
        )
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        return query

    async def _publish(self, session: AsyncSession, row: Any) -> None:
        event = cloud_event(row)
        try:
            with publish_span(self.tracer, event):
                await self.sink.publish(event)
        except Exception as exc:
            await self._failed(session, row, exc)
            return
        now = utcnow()
        await session.execute(
            sa.update(outbox_events)
            .where(outbox_events.c.position == row.position)
            .values(status=SENT, sent_at=now, attempts=row.attempts + 1, last_error=None)
        )
        EVENTS_PUBLISHED.inc()
        EVENT_LAG.observe(max((now - row.time).total_seconds(), 0.0))

    async def _failed(self, session: AsyncSession, row: Any, exc: Exception) -> None:
        attempts = row.attempts + 1
        PUBLISH_FAILURES.inc()
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": f"{type(exc).__name__}: {exc}",
        }
        if attempts >= self.options.max_attempts:
            values["status"] = DEAD
            EVENTS_DEAD.inc()
            logger.error("event %s dead-lettered after %d attempts: %s", row.id, attempts, exc)
        else:
            wait = backoff(attempts, self.options, self.rng)
            values["next_attempt_at"] = utcnow() + timedelta(seconds=wait)
        await session.execute(
            sa.update(outbox_events).where(outbox_events.c.position == row.position).values(values)
        )


async def replay(sessions: async_sessionmaker[AsyncSession], ids: Sequence[str] = ()) -> int:
    """Set dead-lettered rows (those of ``ids``, or every one) pending again, due now, with
    their attempts reset; how many."""
    statement = sa.update(outbox_events).where(outbox_events.c.status == DEAD)
    if ids:
        statement = statement.where(outbox_events.c.id.in_(list(ids)))
    async with sessions() as session, session.begin():
        result: Any = await session.execute(
            statement.values(status=PENDING, attempts=0, next_attempt_at=utcnow())
        )
    return int(result.rowcount)


async def backlog(sessions: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    """Rows by status, and the age in seconds of the oldest pending one (0 when none)."""
    t = outbox_events
    async with sessions() as session:
        by_status = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        counts = {status: count for status, count in (await session.execute(by_status)).all()}
        oldest = (
            await session.execute(sa.select(sa.func.min(t.c.time)).where(t.c.status == PENDING))
        ).scalar()
    age = max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return {
        "pending": counts.get(PENDING, 0),
        "sent": counts.get(SENT, 0),
        "dead": counts.get(DEAD, 0),
        "oldest_pending_seconds": age,
    }
