"""Listing: filters, text search, one sort key with the id breaking ties, and pagination.

The spec picks how every list pages (PAGINATION in core/spec.py):

- ``cursor``: pages are keyset-paginated: the cursor names the last row seen, so pages stay
  stable while rows are added and deep pages cost as little as the first. A cursor is signed
  (HMAC-SHA256 with CURSOR_SECRET or, in a service with accounts, a key derived from
  JWT_SECRET) over the resource, the sort order and the last row: a cursor altered, made up,
  or issued for another resource or sort is a 400.
- ``offset``: pages are offset-paginated and carry the total count of matching rows.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import BadRequestError
from .reads import fetch
from .spec import PAGINATION

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
CONTROL = frozenset({"limit", "cursor", "offset", "sort", "q"})
OWNED_BY = "owned_by"  # set by the service, never by the client: only rows this account owns
# How a table's rows reach their owner: (reference column, parent table) per step, to a table
# with an `owner_id` column; empty for a table that has one itself.
Through = tuple[tuple[str, sa.Table], ...]


def owned_by(table: sa.Table, through: Through, owner: Any) -> sa.ColumnElement[bool]:
    """The rows of ``table`` that ``owner`` owns, directly or through their parents' chain: one
    nested ``IN (SELECT id ...)`` per step, so the database filters (no row-by-row checks)."""
    if not through:
        direct: sa.ColumnElement[bool] = table.c.owner_id == owner
        return direct
    column, parent = through[0]
    return table.c[column].in_(sa.select(parent.c.id).where(owned_by(parent, through[1:], owner)))


def _is_mysql(session: Any) -> bool:
    reads = getattr(session, "reads", None)  # a request's ReadSession knows without a session
    dialect = reads.dialect if reads is not None else session.get_bind().dialect
    return dialect.name in ("mysql", "mariadb")


def nulls_last(
    direction: sa.UnaryExpression[Any], column: sa.Column[Any], mysql: bool
) -> list[sa.ColumnElement[Any]]:
    """``direction NULLS LAST``; MySQL / MariaDB have no NULLS LAST: nulls sort after the rest
    by ``column IS NULL`` first."""
    return [column.is_(None), direction] if mysql else [direction.nulls_last()]


@dataclass(frozen=True)
class Listing:
    """How one resource's list endpoint narrows and orders its rows."""

    table: sa.Table
    filters: dict[str, tuple[str, str]]  # parameter → (column, operator)
    search: tuple[str, ...] = ()
    sorts: dict[str, str] = field(default_factory=dict)  # sort key → column, where they differ
    through: Through = ()  # owned through a parent: the steps to the owner (see owned_by)

    def conditions(self, params: dict[str, Any], values: dict[str, Any]) -> list[Any]:
        """The shape of the filters in `params` (what `where` needs to build their conditions);
        their values go into `values`, under the names of their bind parameters."""
        shape: list[Any] = []
        for name, value in params.items():
            if name in CONTROL or value is None:
                continue
            if name == OWNED_BY:
                values[OWNED_BY] = value
                shape.append(OWNED_BY)
                continue
            if self.filters[name][1] == "in":
                values.update((f"f_{name}_{n}", item) for n, item in enumerate(value))
                shape.append((name, len(value)))
            else:
                values[f"f_{name}"] = value
                shape.append(name)
        text = params.get("q")
        if text and self.search:
            escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
            values["q"] = escaped
            shape.append("q")
        return shape

    def where(self, shape: list[Any]) -> list[sa.ColumnElement[bool]]:
        """The conditions of a shape from `conditions`, with bind parameters for its values."""
        found: list[sa.ColumnElement[bool]] = []
        for part in shape:
            if part == OWNED_BY:
                found.append(owned_by(self.table, self.through, sa.bindparam(OWNED_BY)))
                continue
            if part == "q":
                text = sa.bindparam("q", type_=sa.String())
                found.append(
                    sa.or_(*(self.table.c[c].icontains(text, escape="/") for c in self.search))
                )
                continue
            name, count = part if isinstance(part, tuple) else (part, 0)
            column_name, operator = self.filters[name]
            column = self.table.c[column_name]
            if operator == "in":
                binds = [sa.bindparam(f"f_{name}_{n}", type_=column.type) for n in range(count)]
                found.append(column.in_(binds))
                continue
            bind = sa.bindparam(f"f_{name}", type_=column.type)
            if operator == "eq":
                found.append(column == bind)
            elif operator == "gte":
                found.append(column >= bind)
            else:
                found.append(column <= bind)
        return found

    def order(self, sort: str) -> tuple[sa.Column[Any], bool]:
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        return self.table.c[self.sorts.get(key, key)], descending

    def _ordered(
        self, query: sa.Select[Any], column: sa.Column[Any], descending: bool, mysql: bool
    ) -> sa.Select[Any]:
        """``query`` ordered by ``column`` (nulls last), then by id in the same direction."""
        id_column = self.table.c.id
        if column is id_column:
            return query.order_by(id_column.desc() if descending else id_column.asc())
        direction = column.desc() if descending else column.asc()
        tie = id_column.desc() if descending else id_column.asc()
        return query.order_by(*nulls_last(direction, column, mysql), tie)

    async def page(self, session: AsyncSession, params: dict[str, Any]) -> dict[str, Any]:
        """One page of the rows `params` select: after its cursor, or at its offset (as
        PAGINATION says)."""
        if PAGINATION == "cursor":
            return await self._page_after_cursor(session, params)
        return await self._page_at_offset(session, params)

    async def _page_after_cursor(
        self, session: AsyncSession, params: dict[str, Any]
    ) -> dict[str, Any]:
        limit, sort = params["limit"], params["sort"]
        column, descending = self.order(sort)
        values: dict[str, Any] = {"limit": limit + 1}
        shape = self.conditions(params, values)
        after = None
        if params.get("cursor"):
            value, values["after_id"] = decode_cursor(
                params["cursor"], self.table.name, sort, column
            )
            after = "null" if value is None else "value"
            values["after_value"] = value

        mysql = _is_mysql(session)

        def build() -> sa.Select[Any]:
            query = sa.select(self.table).where(*self.where(shape))
            if after is not None:
                query = query.where(_after(column, self.table.c.id, after == "null", descending))
            query = self._ordered(query, column, descending, mysql)
            return query.limit(sa.bindparam("limit", type_=sa.Integer()))

        key = ("page", self.table, tuple(shape), sort, after)
        rows = await fetch(session, key, build, values)
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(self.table.name, sort, last[column.name], last["id"])
        return {"items": items, "next_cursor": next_cursor, "limit": limit}

    async def _page_at_offset(
        self, session: AsyncSession, params: dict[str, Any]
    ) -> dict[str, Any]:
        limit, offset, sort = params["limit"], params["offset"], params["sort"]
        column, descending = self.order(sort)
        values: dict[str, Any] = {"limit": limit, "offset": offset}
        shape = self.conditions(params, values)

        def count() -> sa.Select[Any]:
            return sa.select(sa.func.count()).select_from(self.table).where(*self.where(shape))

        mysql = _is_mysql(session)

        def build() -> sa.Select[Any]:
            query = sa.select(self.table).where(*self.where(shape))
            query = self._ordered(query, column, descending, mysql)
            return query.limit(sa.bindparam("limit", type_=sa.Integer())).offset(
                sa.bindparam("offset", type_=sa.Integer())
            )

        counted = await fetch(session, ("count", self.table, tuple(shape)), count, values)
        total = next(iter(counted[0].values()))
        items = await fetch(session, ("page", self.table, tuple(shape), sort), build, values)
        return {"items": items, "total": total, "limit": limit, "offset": offset}


def _after(
    column: sa.Column[Any], id_column: sa.Column[Any], null: bool, descending: bool
) -> sa.ColumnElement[bool]:
    """Rows that come after (after_value, after_id) in the order (column NULLS LAST, id); `null`:
    the last row's value was null."""
    last_id = sa.bindparam("after_id", type_=id_column.type)
    later_id = id_column < last_id if descending else id_column > last_id
    if column is id_column:
        return later_id
    if null:
        return sa.and_(column.is_(None), later_id)
    value = sa.bindparam("after_value", type_=column.type)
    later = column < value if descending else column > value
    return sa.or_(later, sa.and_(column == value, later_id), column.is_(None))


SIGNATURE_BYTES = 16  # HMAC-SHA256 truncated to 128 bits: 22 characters of base64url
SIGNATURE_CHARS = 22
_key = secrets.token_bytes(32)  # until configure_cursors: a random key of this process


class CursorSettings(Protocol):
    """The setting cursors are signed with (core/settings.py has them all)."""

    @property
    def cursor_secret(self) -> SecretStr | None: ...


def configure_cursors(settings: CursorSettings, fallback: SecretStr | None = None) -> None:
    """Sign cursors with CURSOR_SECRET or, unset, a key derived from ``fallback`` (a service
    with accounts passes JWT_SECRET); with neither, a random key of this process (cursors then
    last as long as the process)."""
    global _key
    if settings.cursor_secret is not None:
        _key = hashlib.sha256(settings.cursor_secret.get_secret_value().encode()).digest()
    elif fallback is not None:
        secret = fallback.get_secret_value().encode()
        _key = hmac.new(secret, b"list cursors", hashlib.sha256).digest()


def _sign(payload: bytes) -> str:
    tag = hmac.new(_key, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(tag).decode().rstrip("=")


def encode_cursor(resource: str, sort: str, value: Any, last_id: int) -> str:
    text = value if value is None or isinstance(value, int | float | bool) else str(value)
    raw = json.dumps([resource, sort, text, last_id], separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(raw).rstrip(b"=")
    return payload.decode() + _sign(payload)


def decode_cursor(cursor: str, resource: str, sort: str, column: sa.Column[Any]) -> tuple[Any, int]:
    payload, signature = cursor[:-SIGNATURE_CHARS].encode(), cursor[-SIGNATURE_CHARS:]
    if not payload or not hmac.compare_digest(_sign(payload), signature):
        raise BadRequestError(
            "The cursor is not one this API issued (altered or made up); "
            "start again without a cursor."
        )
    try:
        raw = base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4))
        cursor_resource, cursor_sort, value, last_id = json.loads(raw)
        if cursor_resource != resource or cursor_sort != sort:
            raise ValueError("the cursor belongs to another list or sort order")
        if type(last_id) is not int or not 0 < last_id <= INT64_MAX:
            raise ValueError("the cursor's id is out of range")
        if value is not None:
            value = _parse(column, value)
    except (ValueError, TypeError, ArithmeticError, binascii.Error, UnicodeDecodeError):
        raise BadRequestError(
            "The cursor was issued for another list or sort order; start again without a cursor."
        ) from None
    return value, last_id


def _parse(column: sa.Column[Any], value: Any) -> Any:
    """The cursor's sort value as the column's type, refusing what the column cannot hold."""
    python_type = column.type.python_type
    if python_type is bool:
        if not isinstance(value, bool):
            raise TypeError("not a boolean")
        return value
    if python_type is int:
        if type(value) is not int:
            raise TypeError("not an integer")
        limit = INT64_MAX if isinstance(column.type, sa.BigInteger) else INT32_MAX
        if not -limit <= value <= limit:
            raise ValueError("out of range")
        return value
    if python_type is float:
        return float(value)
    if not isinstance(value, str) or "\x00" in value:
        raise TypeError("not a string")
    if hasattr(python_type, "fromisoformat"):
        parsed = python_type.fromisoformat(value)
        return parsed.astimezone(UTC) if isinstance(parsed, datetime) else parsed
    return python_type(value)
