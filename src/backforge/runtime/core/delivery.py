"""Webhook deliveries (core/webhooks.py): the relay fans each outbox event out to the
subscribers that want its type, and a delivery worker POSTs them, signed, to their URLs.

Fan-out happens in the relay's own transaction (`WebhookRelay`): one `webhook_deliveries` row per
(subscriber, event), unique, so a relay that handles an event again adds nothing. The worker
claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: workers side by side never claim the
same row) and leases them for the length of a delivery, sends the batch concurrently, then
records each outcome:

- 2xx: delivered. Redirects are not followed (a 3xx is a failure).
- 410 Gone: the subscriber is disabled (its deliveries wait until it is enabled again).
- anything else (an error status, a timeout, a refused address): retried on `SCHEDULE`
  (Standard Webhooks: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with ±10% jitter,
  or later when the answer's `Retry-After` asks (capped); after the last attempt: dead, kept,
  redeliverable.
"""

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .db import utcnow
from .polling import PollingWorker
from .relay import Relay, cloud_event
from .webhooks import (
    DEAD,
    DELIVERED,
    PENDING,
    Resolver,
    TargetRefused,
    checked_address,
    resolve,
    secrets_in_use,
    signature_header,
    webhook_deliveries,
    webhook_subscribers,
)

logger = logging.getLogger(__name__)
# Seconds before each attempt: the first at once, the last 10 h after the one before it.
SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)

DELIVERIES = Counter(
    "webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"]
)
DELIVERY_SECONDS = Histogram(
    "webhook_delivery_seconds",
    "How long a webhook receiver took to answer.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
)
BACKLOG = Gauge(
    "webhook_backlog", "Webhook deliveries by status, as a worker last saw.", ["status"]
)
OLDEST_PENDING = Gauge(
    "webhook_oldest_pending_seconds", "Age of the oldest pending webhook delivery."
)


async def fan_out(session: AsyncSession, events: Sequence[Any]) -> int:
    """Add a delivery per enabled subscriber that wants each outbox row of ``events`` and has
    none of it yet; how many were added."""
    if not events:
        return 0
    s, d = webhook_subscribers, webhook_deliveries
    subscribers = (
        await session.execute(sa.select(s.c.id, s.c.events).where(s.c.enabled == sa.true()))
    ).all()
    wanted = [(sub.id, row) for row in events for sub in subscribers if row.type in sub.events]
    if not wanted:
        return 0
    ids = sorted({row.id for _, row in wanted})
    query = sa.select(d.c.subscriber_id, d.c.event_id).where(d.c.event_id.in_(ids))
    existing = {(row[0], row[1]) for row in (await session.execute(query)).all()}
    now = utcnow()
    rows = [
        {
            "subscriber_id": subscriber,
            "event_id": row.id,
            "event_type": row.type,
            "payload": cloud_event(row),
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for subscriber, row in wanted
        if (subscriber, row.id) not in existing
    ]
    if rows:
        await session.execute(sa.insert(d), rows)
    return len(rows)


class WebhookRelay(Relay):
    """The outbox relay that also fans each event it handles out to the webhook subscribers,
    in the same transaction."""

    async def run_once(self) -> int:
        async with self.sessions() as session, session.begin():
            rows = (await session.execute(self._claim(session))).all()
            await fan_out(session, rows)
            for row in rows:
                await self._publish(session, row)
        return len(rows)


@dataclass(frozen=True)
class DeliveryOptions:
    batch_size: int = 50
    schedule: tuple[float, ...] = SCHEDULE
    scale: float = 1.0  # WEBHOOK_RETRY_SCALE: multiplies the schedule (tests: tiny)
    retry_after_cap: float = 3600.0  # the longest wait a Retry-After obtains
    connect_timeout: float = 5.0
    total_timeout: float = 15.0
    allow_private: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS
    https_only: bool = False
    allowed_hosts: frozenset[str] = frozenset()  # WEBHOOK_ALLOWED_HOSTS; empty: any
    poll_interval: float = 1.0


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the receiver's answer, None when there was none
    error: str | None
    retry_after: float | None
    duration_ms: int


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds a `Retry-After` header asks for (delay seconds or an HTTP date), or None."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    with contextlib.suppress(TypeError, ValueError):
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    return None


class Deliverer(PollingWorker):
    """Sends due webhook deliveries; `run_once` is one batch. ``now`` is the clock of the
    schedule (tests pass a fake one); signatures carry the wall-clock time."""

    label = "webhook delivery"

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        options: DeliveryOptions | None = None,
        *,
        now: Callable[[], datetime] = utcnow,
        rng: Callable[[], float] = random.random,
        resolver: Resolver = resolve,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sessions = sessions
        self.options = options or DeliveryOptions()
        self.now = now
        self.rng = rng
        self.resolver = resolver
        timeout = httpx.Timeout(self.options.total_timeout, connect=self.options.connect_timeout)
        self.client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
        )

    @property
    def poll_interval(self) -> float:
        return self.options.poll_interval

    async def close(self) -> None:
        await self.client.aclose()

    async def run_once(self) -> int:
        """Claim one batch, deliver it, record the outcomes; how many were claimed."""
        claimed = await self._claim()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(row) for row in claimed))
        async with self.sessions() as session, session.begin():
            await self._record(session, claimed, outcomes)
        return len(claimed)

    async def observe(self) -> dict[str, Any]:
        """Set the backlog gauges: deliveries by status, the oldest pending one's age."""
        d = webhook_deliveries
        async with self.sessions() as session:
            by_status = sa.select(d.c.status, sa.func.count()).group_by(d.c.status)
            counts = {row[0]: row[1] for row in (await session.execute(by_status)).all()}
            oldest = (
                await session.execute(
                    sa.select(sa.func.min(d.c.created_at)).where(d.c.status == PENDING)
                )
            ).scalar()
        age = max((self.now() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        state = {status: counts.get(status, 0) for status in (PENDING, DELIVERED, DEAD)}
        for status in (PENDING, DEAD):
            BACKLOG.labels(status).set(state[status])
        OLDEST_PENDING.set(age)
        return {**state, "oldest_pending_seconds": age}

    def wait(self, attempts: int, asked: float | None) -> float:
        """Seconds before the next attempt after ``attempts`` failed ones."""
        scheduled = self.options.schedule[attempts] * self.options.scale * (0.9 + self.rng() / 5)
        if asked is None:
            return scheduled
        return max(scheduled, min(asked, self.options.retry_after_cap))

    async def _claim(self) -> list[Any]:
        d, s = webhook_deliveries, webhook_subscribers
        now = self.now()
        query = (
            sa.select(
                d.c.id,
                d.c.subscriber_id,
                d.c.event_id,
                d.c.payload,
                d.c.attempts,
                s.c.url,
                s.c.secret,
                s.c.previous_secret,
                s.c.previous_secret_expires_at,
            )
            .join(s, s.c.id == d.c.subscriber_id)
            .where(d.c.status == PENDING, d.c.next_attempt_at <= now, s.c.enabled == sa.true())
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(self.options.batch_size)
        )
        lease = timedelta(seconds=self.options.total_timeout + 15)
        async with self.sessions() as session, session.begin():
            if session.get_bind().dialect.name != "sqlite":
                query = query.with_for_update(skip_locked=True, of=d)
            rows = list((await session.execute(query)).all())
            if rows:  # leased: another worker takes them only if this one dies
                await session.execute(
                    sa.update(d)
                    .where(d.c.id.in_([row.id for row in rows]))
                    .values(next_attempt_at=now + lease)
                )
        return rows

    async def _send(self, row: Any) -> Outcome:
        started = time.perf_counter()

        def took() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            address = await checked_address(
                row.url,
                allow_private=self.options.allow_private,
                https_only=self.options.https_only,
                resolver=self.resolver,
                allowed_hosts=self.options.allowed_hosts,
            )
            async with asyncio.timeout(self.options.total_timeout):
                response = await self.client.send(self._request(row, address), stream=True)
                await response.aclose()
        except TargetRefused as exc:
            return Outcome(None, f"refused: {exc}", None, took())
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError, ValueError) as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}".rstrip(": "), None, took())
        DELIVERY_SECONDS.observe(took() / 1000)
        asked = retry_after(response.headers.get("retry-after"), time.time())
        error = None if response.is_success else f"HTTP {response.status_code}"
        return Outcome(response.status_code, error, asked, took())

    def _request(self, row: Any, address: str) -> httpx.Request:
        """The signed POST, to the checked ``address`` (Host and TLS name: the URL's host)."""
        body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(time.time())
        url = httpx.URL(row.url)
        signature = signature_header(secrets_in_use(row, self.now()), row.event_id, timestamp, body)
        headers = {
            "Host": url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "webhook-id": row.event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
        return self.client.build_request(
            "POST",
            url.copy_with(host=address),
            headers=headers,
            content=body,
            extensions=extensions,
        )

    async def _record(
        self, session: AsyncSession, rows: Sequence[Any], outcomes: Sequence[Outcome]
    ) -> None:
        """Each delivery's outcome, in one statement (and the subscribers that answered 410
        disabled, in another)."""
        d, s = webhook_deliveries, webhook_subscribers
        now = self.now()
        changes = [
            self._change(row, outcome, now) for row, outcome in zip(rows, outcomes, strict=True)
        ]
        columns = [name for name in changes[0] if name != "id"]
        statement = (
            sa.update(d)
            .where(d.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(f"b_{name}") for name in columns})
        )
        await session.execute(statement, [{f"b_{k}": v for k, v in c.items()} for c in changes])
        gone = sorted(
            {row.subscriber_id for row, o in zip(rows, outcomes, strict=True) if o.status == 410}
        )
        if gone:
            await session.execute(
                sa.update(s)
                .where(s.c.id.in_(gone))
                .values(
                    enabled=False, disabled_reason="the receiver answered 410 Gone", updated_at=now
                )
            )

    def _change(self, row: Any, outcome: Outcome, now: datetime) -> dict[str, Any]:
        """What becomes of a delivery after ``outcome``: its new state, as column values."""
        attempts = row.attempts + 1
        change: dict[str, Any] = {
            "id": row.id,
            "status": PENDING,
            "attempts": attempts,
            "next_attempt_at": now,
            "last_attempt_at": now,
            "response_status": outcome.status,
            "duration_ms": outcome.duration_ms,
            "last_error": outcome.error,
            "delivered_at": None,
        }
        if outcome.status is not None and 200 <= outcome.status < 300:
            change.update(status=DELIVERED, delivered_at=now)
            result = "delivered"
        elif outcome.status == 410:
            change.update(status=DEAD, last_error="HTTP 410 Gone: the subscriber is disabled")
            result = "disabled"
        elif attempts >= len(self.options.schedule):
            change["status"] = DEAD
            result = "dead"
            logger.error("webhook delivery %s dead after %d attempts", row.id, attempts)
        else:
            wait = self.wait(attempts, outcome.retry_after)
            change["next_attempt_at"] = now + timedelta(seconds=wait)
            result = "failed"
        DELIVERIES.labels(result).inc()
        return change
