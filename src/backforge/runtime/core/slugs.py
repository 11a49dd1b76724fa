"""Slugs derived from another field (`from:` on a slug field in the spec).

On create the service makes the slug from its source field: accents folded to ASCII, lowercase,
the words joined by `-`, cut to the column's length. When another record has it already, the
smallest free `-2`, `-3`, … is appended (one query finds them); when a concurrent request takes
the same slug first, the unique constraint refuses the insert and the create runs once more with
the next one. Clients never write a derived slug (a body carrying it is refused with 422); with
`on_change: update` a change of the source field makes it anew (a record named by it in URLs
moves), with `keep` it stays.
"""

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .errors import ConflictError
from .service import CrudService

ATTEMPTS = 5  # creates in a row that may lose a race for the same slug


@dataclass(frozen=True)
class Derived:
    """One derived slug of a resource."""

    field: str  # the slug field (its key in a record)
    source: str  # the field it is made from
    max_length: int  # the column's length
    update: bool = False  # made anew when the source changes (`on_change: update`)
    reserved: tuple[str, ...] = ()  # segments its collection's own routes answer (a lookup)


def slugify(text: str | None, max_length: int, fallback: str) -> str:
    """``text`` as a slug: ASCII lowercase words joined by `-`, at most ``max_length`` long;
    ``fallback`` when nothing of it is left."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", folded.lower())
    slug = "-".join(words)[:max_length].strip("-")
    return slug or fallback[:max_length]


def suffixed(base: str, n: int, max_length: int) -> str:
    """``base`` with `-n` appended, cut so that the whole fits ``max_length``."""
    tail = f"-{n}"
    return base[: max_length - len(tail)].rstrip("-") + tail


async def free_slug(
    service: CrudService, derived: Derived, base: str, own_id: int | None = None
) -> str:
    """``base``, or ``base-<n>`` with the smallest n no other record has (nor a path of the
    collection's own, for a lookup): one query."""
    table = service.repository.table
    column = table.c[derived.field]
    prefix = base[: max(1, derived.max_length - 12)]
    query = sa.select(column).where(column.like(f"{prefix}%"))
    if own_id is not None:
        query = query.where(table.c.id != own_id)
    taken = set((await service.session.execute(query)).scalars()) | set(derived.reserved)
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = suffixed(base, n, derived.max_length)
    return slug


async def create_derived(
    service: CrudService,
    create: Callable[..., Awaitable[dict[str, Any]]],
    derived: list[Derived],
    fallback: str,
    values: dict[str, Any],
    *args: Any,
    **kwargs: Any,
) -> dict[str, Any]:
    """Create with each derived slug made from its source; once more when a concurrent create
    took the same slug (the unique constraint answers)."""
    for attempt in range(1, ATTEMPTS + 1):
        given = dict(values)
        for d in derived:
            base = slugify(given.get(d.source), d.max_length, fallback)
            given[d.field] = await free_slug(service, d, base)
        try:
            return await create(given, *args, **kwargs)
        except ConflictError as exc:
            if attempt == ATTEMPTS or not _about(exc, derived):
                raise
    raise AssertionError("unreachable")


async def update_derived(
    service: CrudService,
    update: Callable[..., Awaitable[dict[str, Any]]],
    derived: list[Derived],
    fallback: str,
    key: Any,
    values: dict[str, Any],
    *args: Any,
    **kwargs: Any,
) -> dict[str, Any]:
    """Update; a slug with `on_change: update` whose source is given is made anew (unchanged
    when the new source gives the slug it has, with or without its suffix)."""
    moving = [d for d in derived if d.update and d.source in values]
    current = await service.repository.find(key) if moving else None
    if current is None:  # nothing to make anew, or no such record (update answers 404)
        return await update(key, values, *args, **kwargs)
    for attempt in range(1, ATTEMPTS + 1):
        given = dict(values)
        for d in moving:
            base = slugify(given[d.source], d.max_length, fallback)
            now = current.get(d.field) or ""
            if now != base and not re.fullmatch(re.escape(base) + r"-[0-9]+", now):
                given[d.field] = await free_slug(service, d, base, current["id"])
        try:
            return await update(key, given, *args, **kwargs)
        except ConflictError as exc:
            if attempt == ATTEMPTS or not _about(exc, derived):
                raise
    raise AssertionError("unreachable")


def _about(exc: ConflictError, derived: list[Derived]) -> bool:
    """Whether a conflict is a derived slug's unique constraint."""
    fields = {f"body.{d.field}" for d in derived}
    return any(error.get("field") in fields for error in exc.extra.get("errors", []))
