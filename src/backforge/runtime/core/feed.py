"""The live change feed: ``GET {base}/{plural}/events``, the outbox rows (core/outbox.py) of one
resource as Server-Sent Events, read by polling the outbox by position, so any process of the
service streams what any other wrote.

Each event is ``id:`` its outbox position, ``event:`` its type (`book.updated`) and ``data:``
the CloudEvent the relay publishes (core/relay.py's `cloud_event`: fields never returned are not
in it). A client resumes with ``Last-Event-ID`` (or ``?after=<position>``) exactly after the last
event it saw; without either the stream starts with the events written from now on.

Positions are taken when a change inserts its row, and transactions commit in any order: a row
may become visible after a later one. The stream never steps over a missing position until the
row after it is ``gap_wait`` seconds old (its transaction committed, or rolled back and left a
hole for good), so a slow transaction's event is not lost to a reader already past it.

Who sees what: a caller who may list every record sees every event; one who may list only its
own (`owner`) sees the events of the records it owns (directly: the `owner` in the event; owned
through a parent: the records its chain of parents gives it now, so the delete of such a record
reaches only those who list every record). Comments every ``heartbeat`` seconds keep proxies
from closing an idle stream. At most ``max_streams`` streams per process (503 beyond); every
stream ends when the server shuts down (`close_streams`) or the client goes away.
"""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from .db import utcnow
from .errors import BadRequestError, ServiceUnavailableError, problem_doc
from .listing import Through, owned_by
from .outbox import outbox_events
from .relay import cloud_event
from .service import CrudService, Scope

logger = logging.getLogger(__name__)
MEDIA_TYPE = "text/event-stream"
# The OpenAPI responses of a feed: the stream, or 503 while too many streams are open.
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `id` the outbox position, `event` the type, `data` "
        "the CloudEvent (JSON); comments keep the stream alive.",
        "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    503: problem_doc("Too many change-feed streams are open; retry after Retry-After."),
}
OPEN_STREAMS = Gauge("feed_streams_open", "Change-feed streams open in this process.")
EVENTS_STREAMED = Counter("feed_events_streamed_total", "Events sent on change-feed streams.")


@dataclass(frozen=True)
class FeedOptions:
    poll_interval: float = 0.5  # FEED_POLL_INTERVAL: seconds between two reads of the outbox
    batch_size: int = 100  # outbox rows one read takes at most
    heartbeat: float = 15.0  # FEED_HEARTBEAT: seconds of silence before a keep-alive comment
    retry_ms: int = 3000  # the reconnection delay the stream suggests to clients
    max_streams: int = 100  # FEED_MAX_STREAMS: open streams per process
    gap_wait: float = 5.0  # FEED_GAP_WAIT: seconds a missing position may still commit


class Streams:
    """The streams of this process: how many are open, and whether they must end."""

    def __init__(self) -> None:
        self.open = 0
        self.closing = False

    def close(self) -> None:
        """End every stream at its next poll (the server is shutting down)."""
        self.closing = True

    def reopen(self) -> None:
        self.closing = False


STREAMS = Streams()


def close_streams() -> None:
    STREAMS.close()


@dataclass(frozen=True)
class Reader:
    """Whose events a stream shows: every record's, or those of ``user_id``'s records."""

    every: bool
    user_id: int | None = None
    table: sa.Table | None = None  # the resource's table, for ownership through parents
    through: Through = ()

    async def visible(self, session: AsyncSession, rows: Sequence[Any]) -> list[Any]:
        if self.every or not rows:
            return list(rows)
        if not self.through or self.table is None:
            return [row for row in rows if _owner(row.payload) == self.user_id]
        ids = sorted({int(row.aggregate_id) for row in rows})
        owned = sa.select(self.table.c.id).where(
            self.table.c.id.in_(ids), owned_by(self.table, self.through, self.user_id)
        )
        mine = {str(id) for id in (await session.execute(owned)).scalars()}
        return [row for row in rows if row.aggregate_id in mine]


def reader_of(service: CrudService) -> Reader:
    """Whose events the service's caller may see, by its `list` rule: 401 or 403 when it may
    list nothing."""
    access = service.access
    if access.scope("list") is Scope.ALL:
        return Reader(every=True)
    repository = service.repository
    return Reader(False, access.user_id, repository.table, repository.through)


def _owner(payload: dict[str, Any]) -> Any:
    record = payload.get("after") or payload.get("before") or {}
    return record.get("owner")


def start_position(last_event_id: str | None, after: int | None) -> int | None:
    """Where a stream resumes: after the ``Last-Event-ID`` position (a reconnecting client),
    else after ``?after``; None: from the events written from now on."""
    if last_event_id is None or not last_event_id.strip():
        return after
    try:
        position = int(last_event_id)
    except ValueError:
        raise BadRequestError("Last-Event-ID must be the id of an event of this stream.") from None
    if position < 0:
        raise BadRequestError("Last-Event-ID must be the id of an event of this stream.")
    return position


def message(row: Any) -> str:
    """One outbox row as an SSE message."""
    data = json.dumps(cloud_event(row), separators=(",", ":"), ensure_ascii=False)
    return f"id: {row.position}\nevent: {row.type}\ndata: {data}\n\n"


class EventStream(StreamingResponse):
    """A streaming response that gives its slot back however it ends (even never started)."""

    media_type = MEDIA_TYPE

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            STREAMS.open -= 1
            OPEN_STREAMS.dec()


class Feed:
    """The change feed of one resource (its `aggregate_type` in the outbox)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        resource: str,
        options: FeedOptions | None = None,
    ) -> None:
        self.sessions = sessions
        self.resource = resource
        self.options = options or FeedOptions()

    def response(
        self,
        reader: Reader,
        position: int | None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> EventStream:
        """The stream, once a slot is free (503 otherwise)."""
        if STREAMS.open >= self.options.max_streams:
            raise ServiceUnavailableError(
                "Too many change-feed streams are open; try again later.",
                headers={"Retry-After": "5"},
            )
        STREAMS.open += 1
        OPEN_STREAMS.inc()
        return EventStream(
            self.stream(reader, position, limit, timeout),
            media_type=MEDIA_TYPE,
            # never cached, by a browser or a proxy; nginx: pass each event on at once
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def stream(
        self,
        reader: Reader,
        position: int | None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[str]:
        """SSE text: the ``retry`` hint, then the events after ``position`` as they come, and
        keep-alive comments; ends after ``limit`` events, after ``timeout`` seconds, or when
        the server shuts down."""
        sent = 0
        if position is None:
            position = await self.last_position()
        yield f"retry: {self.options.retry_ms}\n\n"
        started = quiet = time.monotonic()
        while not STREAMS.closing:
            try:
                rows, position, more = await self.read(reader, position)
            except Exception:  # the database went away: the client reconnects with its last id
                logger.warning("change feed of %s ended: reading the outbox failed", self.resource)
                return
            for row in rows[: None if limit is None else limit - sent]:
                yield message(row)
                sent += 1
                EVENTS_STREAMED.inc()
                quiet = time.monotonic()
            if limit is not None and sent >= limit:
                return
            now = time.monotonic()
            if timeout is not None and now - started >= timeout:
                return
            if now - quiet >= self.options.heartbeat:
                yield ": keep-alive\n\n"
                quiet = now
            if not more:
                await asyncio.sleep(self.options.poll_interval)

    async def last_position(self) -> int:
        async with self.sessions() as session:
            last = await session.scalar(sa.select(sa.func.max(outbox_events.c.position)))
        return int(last or 0)

    async def read(self, reader: Reader, position: int) -> tuple[list[Any], int, bool]:
        """The events after ``position`` the reader may see, the position read up to (the end
        of the run of positions without a hole that may still fill) and whether more rows may
        be waiting (the read took a full batch)."""
        t = outbox_events
        query = sa.select(t).where(t.c.position > position).order_by(t.c.position)
        async with self.sessions() as session:
            rows = (await session.execute(query.limit(self.options.batch_size))).all()
            settled = utcnow() - timedelta(seconds=self.options.gap_wait)
            taken = []
            for row in rows:
                if row.position != position + 1 and row.time > settled:
                    break  # an earlier position may still commit: wait for it
                position = row.position
                if row.aggregate_type == self.resource:
                    taken.append(row)
            more = len(rows) == self.options.batch_size and position == rows[-1].position
            return await reader.visible(session, taken), position, more


def feed_of(request: Request, resource: str) -> Feed:
    """The feed of ``resource`` on the application's database, with its settings."""
    state = request.app.state
    return Feed(state.database.sessions, resource, state.feed_options)
