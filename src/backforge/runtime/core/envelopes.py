"""Enveloped answers (`api.envelope`): a record in a named member, `{"question": {...}}`, and
a list page's records with their total, `{"questions": [...], "questionsCount": 3, ...}`.

The envelope models themselves are each resource's (its schemas.py); here is what they share:
the total of a list paged by cursor, which the page itself does not count."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .listing import Listing
from .reads import fetch


async def total_of(listing: Listing, session: AsyncSession, params: dict[str, Any]) -> int:
    """How many rows the filters and search of ``params`` select (the caller's scope included),
    in one COUNT query."""
    values: dict[str, Any] = {}
    shape = listing.conditions(params, values)

    def count() -> sa.Select[Any]:
        return sa.select(sa.func.count()).select_from(listing.table).where(*listing.where(shape))

    counted = await fetch(session, ("count", listing.table, tuple(shape)), count, values)
    return int(next(iter(counted[0].values())))
