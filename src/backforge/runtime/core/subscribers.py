"""The webhook admin API's work (routes in ``<package>/webhooks/routes.py``): subscribers and
their delivery logs, read and changed through one session. A subscriber's secret is answered
once, when it is made or rotated; no read shows it again."""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .db import utcnow
from .errors import NotFoundError
from .webhooks import PENDING, new_secret, webhook_deliveries, webhook_subscribers

SHOWN = (
    "id",
    "url",
    "description",
    "events",
    "enabled",
    "disabled_reason",
    "previous_secret_expires_at",
    "created_at",
    "updated_at",
)


def _shown(row: Any) -> dict[str, Any]:
    return {name: row[name] for name in SHOWN}


async def create(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """A new subscriber, with its secret (the only answer that holds it)."""
    now = utcnow()
    secret = new_secret()
    row = {**values, "secret": secret, "created_at": now, "updated_at": now}
    result: Any = await session.execute(sa.insert(webhook_subscribers).values(row))
    return {**await read(session, result.inserted_primary_key[0]), "secret": secret}


async def read(session: AsyncSession, id: int) -> dict[str, Any]:
    query = sa.select(webhook_subscribers).where(webhook_subscribers.c.id == id)
    row = (await session.execute(query)).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"No webhook subscriber {id}.")
    return _shown(row)


async def page(session: AsyncSession, limit: int, offset: int) -> dict[str, Any]:
    """Subscribers, oldest first."""
    t = webhook_subscribers
    total = (await session.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
    query = sa.select(t).order_by(t.c.id).limit(limit).offset(offset)
    items = [_shown(row) for row in (await session.execute(query)).mappings()]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


async def change(session: AsyncSession, id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Change the given fields; enabling a subscriber clears why it was disabled."""
    await read(session, id)
    if values.get("enabled"):
        values = {**values, "disabled_reason": None}
    t = webhook_subscribers
    statement = sa.update(t).where(t.c.id == id).values({**values, "updated_at": utcnow()})
    await session.execute(statement)
    return await read(session, id)


async def remove(session: AsyncSession, id: int) -> None:
    """Delete a subscriber and its delivery log."""
    await read(session, id)
    await session.execute(
        sa.delete(webhook_deliveries).where(webhook_deliveries.c.subscriber_id == id)
    )
    await session.execute(sa.delete(webhook_subscribers).where(webhook_subscribers.c.id == id))


async def rotate(session: AsyncSession, id: int, grace_seconds: float) -> dict[str, Any]:
    """A new secret; the current one keeps signing beside it for ``grace_seconds``."""
    t = webhook_subscribers
    row = (await session.execute(sa.select(t).where(t.c.id == id))).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"No webhook subscriber {id}.")
    now = utcnow()
    secret = new_secret()
    until = now + timedelta(seconds=grace_seconds)
    await session.execute(
        sa.update(t)
        .where(t.c.id == id)
        .values(
            secret=secret,
            previous_secret=row["secret"],
            previous_secret_expires_at=until,
            updated_at=now,
        )
    )
    return {"secret": secret, "previous_secret_expires_at": until}


async def deliveries(
    session: AsyncSession, id: int, limit: int, offset: int, status: str | None = None
) -> dict[str, Any]:
    """A subscriber's delivery log, newest first."""
    await read(session, id)
    d = webhook_deliveries
    conditions = [d.c.subscriber_id == id]
    if status is not None:
        conditions.append(d.c.status == status)
    count = sa.select(sa.func.count()).select_from(d).where(*conditions)
    total = (await session.execute(count)).scalar_one()
    query = sa.select(d).where(*conditions).order_by(d.c.id.desc()).limit(limit).offset(offset)
    items = [_delivery(row) for row in (await session.execute(query)).mappings()]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _delivery(row: Any) -> dict[str, Any]:
    shown = {name: row[name] for name in row.keys() if name != "payload"}  # noqa: SIM118
    if row["status"] != PENDING:
        shown["next_attempt_at"] = None
    return shown


async def redeliver(session: AsyncSession, id: int, delivery_id: int) -> dict[str, Any]:
    """Send a delivery again, whatever became of it: pending, due now, attempts reset."""
    d = webhook_deliveries
    where = (d.c.id == delivery_id, d.c.subscriber_id == id)
    result: Any = await session.execute(
        sa.update(d).where(*where).values(status=PENDING, attempts=0, next_attempt_at=utcnow())
    )
    if not result.rowcount:
        raise NotFoundError(f"No delivery {delivery_id} of webhook subscriber {id}.")
    row = (await session.execute(sa.select(d).where(*where))).mappings().one()
    return _delivery(row)
