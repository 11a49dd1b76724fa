"""Idempotency keys on creates: a retried POST creates nothing twice.

A create that carries ``Idempotency-Key`` stores the key, a fingerprint of the request (method,
path and body) and the response it produced in ``idempotency_keys``, in the same transaction as
the created row. A retry with the same key and the same request gets the stored response again,
marked ``Idempotent-Replayed: true``; the same key with another request is a 422.

Concurrent requests with one key are decided by the table's primary key: each request claims
the key (an insert) before it creates anything. The database makes a second claim wait until the
first transaction ends; if the first committed, the second fails, rolls back and replays the
stored response, so both callers get the same answer and one row exists. If the first failed
(a 409, a 422), it stored nothing and the second proceeds: a failed create leaves the key free
for a corrected retry. A 409 is answered only when a claim fails and no stored response can be
read (the first request's key was purged in between); retrying then is safe.

Keys are scoped by whose they are (``scope``: each account has its own; anonymous callers, and
every caller of a service without accounts, share '') and expire after IDEMPOTENCY_TTL_SECONDS
(24 h by default). Expired keys are purged now and then after a keyed create, and by
``python -m <package>.core.idempotency``.
"""

import asyncio
import hashlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Protocol

import sqlalchemy as sa
from fastapi import Depends, Header, Request, Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .db import Base, Database, SessionDep, UTCDateTime, utcnow
from .errors import ConflictError, UnprocessableError, problem_doc
from .hooks import Caller
from .settings import get_settings

logger = logging.getLogger(__name__)

KEY_PATTERN = r"^[\x21-\x7e]+$"  # printable ASCII without spaces
KEY_MAX_LENGTH = 255
PURGE_ONE_IN = 100  # keyed creates, on average, between two purges of expired keys
REPLAYED = "Idempotent-Replayed"

idempotency_keys = sa.Table(
    "idempotency_keys",
    Base.metadata,
    sa.Column("scope", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(KEY_MAX_LENGTH), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=False),
    sa.Column("headers", sa.Text(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=KEY_MAX_LENGTH,
        pattern=KEY_PATTERN,
        description="A unique value (e.g. a UUID) that makes retrying this create safe: a retry "
        "with the same key and body returns the first response (with Idempotent-Replayed: true) "
        "and creates nothing; the same key with another body is a 422. 1 to 255 printable "
        "characters without spaces; kept for IDEMPOTENCY_TTL_SECONDS (24 h by default).",
    ),
]
REUSED = {
    422: problem_doc(
        "The request failed validation, or its Idempotency-Key was used for another request."
    ),
    409: problem_doc(
        "The change conflicts with existing data, or a request with this Idempotency-Key is "
        "in progress."
    ),
}
REPLAYED_HEADER = {
    REPLAYED: {
        "description": "`true` when this is the stored response to an earlier request with the "
        "same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
# The headers a replay repeats besides the body.
KEPT_HEADERS = ("Location", "ETag")


@dataclass(frozen=True)
class Reply:
    """A response as it is stored and replayed."""

    status_code: int
    headers: dict[str, str]
    body: Any

    @property
    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))

    def response(self, text: str | None = None, *, replayed: bool = False) -> Response:
        headers = {name: self.headers[name] for name in KEPT_HEADERS if name in self.headers}
        if replayed:
            headers[REPLAYED] = "true"
        return Response(
            text if text is not None else self.text,
            status_code=self.status_code,
            headers=headers,
            media_type="application/json",
        )


class Creator(Protocol):
    """What a create needs of a service (CrudService fits): its caller owns the key."""

    @property
    def principal(self) -> Caller | None: ...

    async def create(
        self,
        values: dict[str, Any],
        before_commit: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> dict[str, Any]: ...


def idempotency_scope(principal: Caller | None) -> str:
    """Whose keys these are: each account has its own; anonymous callers share one scope."""
    return f"user:{principal.user_id}" if principal else ""


class Idempotency:
    """The Idempotency-Key of one request, and how to honour it."""

    def __init__(
        self,
        session: AsyncSession,
        key: str | None,
        *,
        method: str,
        path: str,
        ttl_seconds: int = 86_400,
    ):
        self.session = session
        self.key = key
        self.method = method
        self.path = path
        self.scope = ""  # set by `create`, from the service's caller
        self.ttl = timedelta(seconds=ttl_seconds)

    def fingerprint(self, values: dict[str, Any]) -> str:
        request = {"method": self.method, "path": self.path, "body": values}
        text = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    async def create(
        self,
        service: Creator,
        values: dict[str, Any],
        respond: Callable[[dict[str, Any]], Reply],
    ) -> Response:
        """Create through ``service`` once per key; ``respond`` turns the record into a reply."""
        self.scope = idempotency_scope(service.principal)
        replies: list[Reply] = []

        async def record(created: dict[str, Any]) -> None:
            replies.append(respond(created))
            if self.key is not None:
                await self._store(replies[0])

        if self.key is None:
            await service.create(values, before_commit=record)
            return replies[0].response()
        fingerprint = self.fingerprint(values)
        if (earlier := await self._replay(fingerprint)) is not None:
            return earlier
        if not await self._claim(fingerprint):
            if (earlier := await self._replay(fingerprint)) is not None:
                return earlier
            raise ConflictError(
                "A request with this Idempotency-Key is in progress; retry shortly."
            )
        try:
            await service.create(values, before_commit=record)
        except BaseException:
            await self.session.rollback()  # the claim goes with the failed create
            raise
        if secrets.randbelow(PURGE_ONE_IN) == 0:
            await self._purge_quietly()
        return replies[0].response()

    async def _replay(self, fingerprint: str) -> Response | None:
        """The stored response for this key, if a live one exists."""
        row = (
            await self.session.execute(sa.select(idempotency_keys).where(*self._this_key()))
        ).one_or_none()
        await self.session.rollback()  # end the read: the claim starts a fresh transaction
        if row is None:
            return None
        if row.expires_at <= utcnow():
            await self.session.execute(
                sa.delete(idempotency_keys).where(
                    *self._this_key(), idempotency_keys.c.expires_at <= utcnow()
                )
            )
            await self.session.commit()
            return None
        if row.fingerprint != fingerprint:
            raise UnprocessableError(
                "This Idempotency-Key was already used for a different request; "
                "use a new key for a new request."
            )
        reply = Reply(row.status_code, json.loads(row.headers), None)
        return reply.response(row.body, replayed=True)

    async def _claim(self, fingerprint: str) -> bool:
        """Insert the key, uncommitted; False when another request holds it."""
        now = utcnow()
        try:
            await self.session.execute(
                sa.insert(idempotency_keys).values(
                    scope=self.scope,
                    key=self.key,
                    fingerprint=fingerprint,
                    status_code=0,
                    headers="{}",
                    body="",
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
        except IntegrityError:
            await self.session.rollback()
            return False
        return True

    async def _store(self, reply: Reply) -> None:
        """Fill the claimed key with the reply, in the create's transaction."""
        await self.session.execute(
            sa.update(idempotency_keys)
            .where(*self._this_key())
            .values(
                status_code=reply.status_code,
                headers=json.dumps(reply.headers, sort_keys=True),
                body=reply.text,
            )
        )

    def _this_key(self) -> tuple[sa.ColumnElement[bool], ...]:
        return (idempotency_keys.c.scope == self.scope, idempotency_keys.c.key == self.key)

    async def _purge_quietly(self) -> None:
        try:
            await purge_expired(self.session)
        except DBAPIError:  # another process purges the same rows: it will finish the job
            await self.session.rollback()
            logger.info("purging expired idempotency keys failed; skipped", exc_info=True)


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete every expired key; the number deleted."""
    result = await session.execute(
        sa.delete(idempotency_keys).where(idempotency_keys.c.expires_at <= (now or utcnow()))
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


async def get_idempotency(
    request: Request,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Idempotency:
    return Idempotency(
        session,
        idempotency_key,
        method=request.method,
        path=request.url.path,
        ttl_seconds=request.app.state.settings.idempotency_ttl_seconds,
    )


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]


async def main() -> int:
    """Purge expired keys once (run it from cron, or leave it to the service)."""
    database = Database(get_settings())
    try:
        async with database.sessions() as session:
            purged = await purge_expired(session)
    finally:
        await database.close()
    print(f"purged {purged} expired idempotency key(s)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(asyncio.run(main()))
