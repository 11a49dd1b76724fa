"""The transactional outbox: each change a resource's `events:` names adds an event row to
``outbox_events`` in the change's own transaction, so a change that rolls back leaves no event
and a committed one always has its event; core/relay.py publishes the rows.

A row holds the Debezium outbox columns (`aggregate_type`, `aggregate_id`, `type`, `payload`)
and the CloudEvents 1.0 attributes (`id`, `source`, `type`, `subject`, `time`, `specversion`,
`datacontenttype`), the request id and W3C trace context of the request that made the change,
and the relay's state: `status` pending, sent or dead, `attempts`, `next_attempt_at`,
`last_error`, `sent_at`. The payload is ``{"after": …, "before": …}`` (before on update and
delete, after on create and update); fields never returned (write-only, hidden) are left out.
A custom action that changes the record is an update: its `updated` event (if listed) also
names the ``action``.
"""

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import structlog
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Base, IdType, UTCDateTime, utcnow
from .hooks import Caller
from .service import Audit

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
PENDING, SENT, DEAD = "pending", "sent", "dead"
EVENT_OF = {"create": "created", "update": "updated", "delete": "deleted"}

outbox_events = sa.Table(
    "outbox_events",
    Base.metadata,
    sa.Column("position", IdType, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("aggregate_type", sa.String(60), nullable=False),
    sa.Column("aggregate_id", sa.String(255), nullable=False),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("specversion", sa.String(8), nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("subject", sa.String(255), nullable=False),
    sa.Column("time", UTCDateTime(), nullable=False),
    sa.Column("datacontenttype", sa.String(60), nullable=False),
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Column("request_id", sa.String(128), nullable=True),
    sa.Column("traceparent", sa.String(64), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("id", name="uq_outbox_events_id"),
    sa.Index("ix_outbox_events_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_outbox_events_aggregate_type_aggregate_id", "aggregate_type", "aggregate_id"),
)


def event_type(resource: str, event: str) -> str:
    """`Book` and `created` → `book.created`."""
    return f"{resource.lower()}.{event}"


class Outbox:
    """The `Audit` of a resource with events: writes the events its `events` name to the
    outbox, then hands the change to ``audit`` (the audit log), if any."""

    def __init__(self, source: str, events: Iterable[str], audit: Audit | None = None) -> None:
        self.source = source  # CloudEvents `source`: the service's base path
        self.events = frozenset(events)
        self.audit = audit

    async def __call__(
        self,
        session: AsyncSession,
        principal: Caller | None,
        action: str,
        *,
        resource: str,
        resource_id: int,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        secret: frozenset[str],
    ) -> None:
        event = EVENT_OF.get(action)
        payload: dict[str, Any] = {
            "after": _shown(after, secret),
            "before": _shown(before, secret),
        }
        if event is None and after is not None and after != before:
            event = "updated"  # a custom action that changed the record
            payload["action"] = action
        if event in self.events:
            await write_event(
                session,
                self.source,
                resource,
                resource_id,
                event_type(resource, event),
                payload,
            )
        if self.audit is not None:
            await self.audit(
                session,
                principal,
                action,
                resource=resource,
                resource_id=resource_id,
                before=before,
                after=after,
                secret=secret,
            )


async def write_event(
    session: AsyncSession,
    source: str,
    resource: str,
    resource_id: Any,
    type_: str,
    payload: dict[str, Any],
) -> str:
    """Add one event to the session's transaction; its id."""
    id = str(uuid.uuid4())
    now = utcnow()
    await session.execute(
        sa.insert(outbox_events).values(
            id=id,
            aggregate_type=resource,
            aggregate_id=str(resource_id),
            type=type_,
            specversion=SPECVERSION,
            source=source,
            subject=str(resource_id),
            time=now,
            datacontenttype=CONTENT_TYPE,
            payload=payload,
            request_id=structlog.contextvars.get_contextvars().get("request_id"),
            traceparent=traceparent(),
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return id


def traceparent() -> str | None:
    """The W3C trace context of the active span, if tracing is on and a span is active."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    flags = int(context.trace_flags)
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"


def _shown(values: dict[str, Any] | None, secret: frozenset[str]) -> dict[str, Any] | None:
    """A record as an event carries it: JSON-ready, without the fields never returned."""
    if values is None:
        return None
    return {key: _plain(value) for key, value in values.items() if key not in secret}


def _plain(value: Any) -> Any:
    """JSON-ready: dates, times, decimals and UUIDs as text."""
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
