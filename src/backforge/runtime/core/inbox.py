"""The inbox of the subscriptions (the spec's `consumes`): each event a subscription takes is
stored in ``inbox_events`` once, keyed by (subscription, event id), then handled once by the
subscription's handler, in the transaction that marks the row processed.

A broker subscriber (core/consuming.py's `BrokerSource`) or, without a broker, the service's
own relay (events/relay.py's `InboxRelay`) hands each message to `store`: a duplicate delivery
(an event id the subscription has) is ignored, and a message that is not a CloudEvent (not JSON,
no id or type) is stored dead with its raw text, so a subscriber never crashes on it. The worker
claims due rows like the outbox relay (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, MySQL and
MariaDB; one worker on SQLite), a row only while no earlier row of its partition (the event's
record) is pending, so one record's events are handled in order. A handler that raises is
retried after a capped exponential backoff with jitter; after the subscription's
``max_attempts`` the row is dead (kept with its last error) until `replay` sets it pending.
"""

import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Gauge
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import Base, IdType, UTCDateTime, utcnow
from .polling import PollingWorker, backoff

logger = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
PENDING, PROCESSED, DEAD = "pending", "processed", "dead"
UNPARSEABLE = "unparseable:"  # the event id of a message that is not an event: + its sha256

Handler = Callable[[dict[str, Any], AsyncSession], Awaitable[None]]

CONSUMED = Counter("inbox_events_consumed_total", "Events handled.", ["subscription"])
HANDLER_FAILURES = Counter(
    "inbox_handler_failures_total", "Handler attempts that raised.", ["subscription"]
)
EVENTS_DEAD = Counter(
    "inbox_events_dead_total", "Inbox events dead-lettered (or unparseable).", ["subscription"]
)
BACKLOG = Gauge(
    "inbox_backlog",
    "Inbox events by subscription and status, as a worker last saw.",
    ["subscription", "status"],
)

inbox_events = sa.Table(
    "inbox_events",
    Base.metadata,
    sa.Column("position", IdType, primary_key=True, autoincrement=True),
    sa.Column("subscription", sa.String(60), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(120), nullable=False),
    sa.Column("partition_key", sa.String(320), nullable=False),
    sa.Column("event", sa.JSON(), nullable=True),
    sa.Column("raw", sa.Text(), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("processed_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("subscription", "event_id", name="uq_inbox_events_subscription_event_id"),
    sa.Index("ix_inbox_events_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_inbox_events_subscription_partition_key", "subscription", "partition_key"),
)


@dataclass(frozen=True)
class Subscription:
    """A subscription of the spec: the event types it takes (``*`` is one word), from which
    service, and how many attempts an event gets."""

    name: str
    events: tuple[str, ...]
    source: str
    max_attempts: int = 5

    def takes(self, type_: str) -> bool:
        return any(matches(pattern, type_) for pattern in self.events)


def matches(pattern: str, type_: str) -> bool:
    """`book.*` matches `book.created`; `*.deleted` matches `author.deleted`."""
    words, types = pattern.split("."), type_.split(".")
    return len(words) == len(types) and all(
        w in ("*", t) for w, t in zip(words, types, strict=True)
    )


@dataclass(frozen=True)
class InboxOptions:
    batch_size: int = 100
    backoff_base: float = 0.5  # seconds before the first retry; doubles with every attempt
    backoff_cap: float = 60.0  # the longest wait between two attempts
    poll_interval: float = 1.0  # seconds between rounds that found nothing to handle


def parse(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """A message as a CloudEvent (a dict with a text `id` and `type`); ValueError otherwise."""
    event = json.loads(body) if isinstance(body, bytes | str) else body
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    for key in ("id", "type"):
        if not isinstance(event.get(key), str) or not event[key]:
            raise ValueError(f"no {key}")
    return event


def row_of(subscription: str, body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    """The inbox row of a message: pending, or dead with its raw text when it is no event."""
    now = utcnow()
    row: dict[str, Any] = {
        "subscription": subscription,
        "attempts": 0,
        "next_attempt_at": now,
        "received_at": now,
    }
    try:
        event = parse(body)
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        if isinstance(body, bytes):
            raw = body.decode("utf-8", "replace")
        else:
            raw = body if isinstance(body, str) else json.dumps(body, default=str)
        event_id = UNPARSEABLE + hashlib.sha256(raw.encode()).hexdigest()
        return {
            **row,
            "event_id": event_id,
            "type": "",
            "partition_key": event_id,
            "raw": raw,
            "status": DEAD,
            "last_error": f"unparseable message: {exc}",
        }
    key = event.get("partitionkey") or f"{event.get('source', '')}:{event.get('subject', '')}"
    return {
        **row,
        "event_id": event["id"][:255],
        "type": event["type"][:120],
        "partition_key": str(key)[:320],
        "event": event,
        "status": PENDING,
    }


async def store(session: AsyncSession, subscription: str, body: Any) -> bool:
    """Add a message to the inbox of ``subscription`` in the session's transaction; False when
    the subscription has its event id already (a duplicate)."""
    values = row_of(subscription, body)
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(inbox_events).values(values).on_conflict_do_nothing()
    else:  # MySQL, MariaDB
        statement = sa.insert(inbox_events).values(values).prefix_with("IGNORE")
    result: Any = await session.execute(statement)
    stored = bool(result.rowcount)
    if stored and values["status"] == DEAD:
        EVENTS_DEAD.labels(subscription).inc()
        logger.error("%s: unparseable message dead-lettered", subscription)
    return stored


class InboxWorker(PollingWorker):
    """Handles the pending inbox rows of the subscriptions in ``handlers``; `run_once` is one
    round. A subscription without a handler (not written yet) keeps its rows pending."""

    label = "inbox"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        subscriptions: Iterable[Subscription],
        handlers: Mapping[str, Handler],
        options: InboxOptions | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.sessions = sessions
        self.subscriptions = {s.name: s for s in subscriptions}
        self.handlers = {n: h for n, h in handlers.items() if n in self.subscriptions}
        self.options = options or InboxOptions()
        self.rng = rng

    @property
    def poll_interval(self) -> float:
        return self.options.poll_interval

    async def run_once(self) -> int:
        """Claim one batch and handle it; how many rows it claimed."""
        if not self.handlers:
            return 0
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(self._claim(session))).all()
            for row in rows:
                await self._handle(session, row)
        return len(rows)

    async def observe(self) -> dict[str, dict[str, int]]:
        """Set the backlog gauges; rows by subscription and status."""
        state = await backlog(self.sessions)
        for name in self.subscriptions:
            for status in (PENDING, DEAD):
                BACKLOG.labels(name, status).set(state.get(name, {}).get(status, 0))
        return state

    def _claim(self, session: AsyncSession) -> sa.Select[Any]:
        t = inbox_events
        earlier = inbox_events.alias("earlier")
        blocked = sa.exists().where(
            earlier.c.subscription == t.c.subscription,
            earlier.c.partition_key == t.c.partition_key,
            earlier.c.status == PENDING,
            earlier.c.position < t.c.position,
        )
        query = (
            sa.select(t)
            .where(
                t.c.status == PENDING,
                t.c.subscription.in_(sorted(self.handlers)),
                t.c.next_attempt_at <= utcnow(),
                ~blocked,
            )
            .order_by(t.c.position)
            .limit(self.options.batch_size)
        )
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        return query

    async def _handle(self, session: AsyncSession, row: Any) -> None:
        event = dict(row.event)
        parent = TraceContextTextMapPropagator().extract(
            {"traceparent": event["traceparent"]} if event.get("traceparent") else {}
        )
        attributes = {
            "messaging.message.id": row.event_id,
            "messaging.consumer.group.name": row.subscription,
        }
        with tracer.start_as_current_span(
            f"consume {row.type}",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes=attributes,
        ):
            try:
                async with session.begin_nested():  # the handler's writes: kept, or undone
                    await self.handlers[row.subscription](event, session)
            except Exception as exc:
                await self._failed(session, row, exc)
                return
        await session.execute(
            sa.update(inbox_events)
            .where(inbox_events.c.position == row.position)
            .values(
                status=PROCESSED,
                attempts=row.attempts + 1,
                processed_at=utcnow(),
                last_error=None,
            )
        )
        CONSUMED.labels(row.subscription).inc()

    async def _failed(self, session: AsyncSession, row: Any, exc: Exception) -> None:
        attempts = row.attempts + 1
        HANDLER_FAILURES.labels(row.subscription).inc()
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": f"{type(exc).__name__}: {exc}",
        }
        if attempts >= self.subscriptions[row.subscription].max_attempts:
            values["status"] = DEAD
            EVENTS_DEAD.labels(row.subscription).inc()
            logger.error(
                "%s: event %s dead-lettered after %d attempts: %s",
                row.subscription,
                row.event_id,
                attempts,
                exc,
            )
        else:
            wait = backoff(attempts, self.options, self.rng)
            values["next_attempt_at"] = utcnow() + timedelta(seconds=wait)
        await session.execute(
            sa.update(inbox_events).where(inbox_events.c.position == row.position).values(values)
        )


async def replay(
    sessions: async_sessionmaker[AsyncSession],
    subscriptions: Sequence[str] = (),
    ids: Sequence[str] = (),
) -> int:
    """Set dead rows (of ``subscriptions`` and ``ids``, or every one) pending again, due now,
    with their attempts reset; how many. An unparseable message stays dead: it has no event."""
    t = inbox_events
    statement = sa.update(t).where(t.c.status == DEAD, t.c.raw.is_(None))
    if subscriptions:
        statement = statement.where(t.c.subscription.in_(list(subscriptions)))
    if ids:
        statement = statement.where(t.c.event_id.in_(list(ids)))
    async with sessions() as session, session.begin():
        result: Any = await session.execute(
            statement.values(status=PENDING, attempts=0, next_attempt_at=utcnow())
        )
    return int(result.rowcount)


async def backlog(sessions: async_sessionmaker[AsyncSession]) -> dict[str, dict[str, int]]:
    """Rows by subscription and status."""
    t = inbox_events
    query = sa.select(t.c.subscription, t.c.status, sa.func.count()).group_by(
        t.c.subscription, t.c.status
    )
    found: dict[str, dict[str, int]] = {}
    async with sessions() as session:
        for subscription, status, count in (await session.execute(query)).all():
            found.setdefault(subscription, {})[status] = count
    return found
