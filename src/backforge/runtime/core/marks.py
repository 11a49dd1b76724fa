"""Marks (`marks:` in the spec): per-caller relations to one record, such as votes, bookmarks or
favorites. `PUT .../{key}/<mark>` marks a record and `DELETE` on the same URL unmarks it; both
are idempotent and answer the record (200).

A mark is a row of its own table per (account, record), cascading when either is deleted. A
record's representation shows each mark's count (how many accounts marked it) and whether the
caller marked it ("mine"), computed in the record's own SELECT by correlated subqueries over
the table's indexes: a list page costs the statements it costs without marks (no N+1). Lists
filter by `?<mine>=true|false` and sort by a count.

Who may mark: a signed-in caller (401 otherwise) who may read the record (404 when it is
missing or hidden from the caller) and whom the mark's `allow` names (403).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .errors import UnauthorizedError
from .listing import Listing
from .reads import fetch
from .repository import Repository
from .service import CrudService

CALLER = "caller"  # bind parameter (and list parameter set by the service): the caller's account
MINE = "mine"  # a list condition of a shape: only records the caller marked (or did not)


@dataclass(frozen=True)
class Mark:
    """One mark of a resource: its table and the fields that show it."""

    name: str
    table: sa.Table
    record: str  # the table's column of the record's id
    count: str | None = None  # the count field (spec name)
    mine: str | None = None  # the caller's-own-mark field (spec name)

    def of_caller(self, id_column: Any) -> sa.Select[Any]:
        """The records the caller marked: ``id_column IN`` it, the caller bound as CALLER."""
        table = self.table
        caller = sa.bindparam(CALLER, type_=table.c.user_id.type)
        return sa.select(table.c[self.record]).where(
            table.c.user_id == caller, table.c[self.record] == id_column
        )


def marked_view(table: sa.Table, marks: tuple[Mark, ...]) -> sa.Subquery:
    """The rows of ``table`` with each mark's count and the caller's own mark as columns."""
    columns: list[Any] = []
    for mark in marks:
        link = mark.table
        if mark.count:
            counted = (
                sa.select(sa.func.count())
                .select_from(link)
                .where(link.c[mark.record] == table.c.id)
                .scalar_subquery()
            )
            columns.append(counted.label(mark.count))
        if mark.mine:
            columns.append(sa.exists(mark.of_caller(table.c.id)).label(mark.mine))
    return sa.select(table, *columns).subquery(f"{table.name}_marked")


@dataclass(frozen=True)
class MarkedListing(Listing):
    """A listing over `marked_view`: its counts sort, and each mine field filters."""

    mines: dict[str, Mark] = field(default_factory=dict)  # list parameter → mark

    def conditions(self, params: dict[str, Any], values: dict[str, Any]) -> list[Any]:
        values[CALLER] = params.get(CALLER)
        plain = {k: v for k, v in params.items() if k != CALLER and k not in self.mines}
        shape = super().conditions(plain, values)
        for name in self.mines:
            if params.get(name) is not None:
                shape.append((MINE, name, bool(params[name])))
        return shape

    def where(self, shape: list[Any]) -> list[sa.ColumnElement[bool]]:
        found = super().where([p for p in shape if not (isinstance(p, tuple) and len(p) == 3)])
        for part in shape:
            if isinstance(part, tuple) and len(part) == 3:
                _, name, wanted = part
                marked = sa.exists(self.mines[name].of_caller(self.table.c.id))
                found.append(marked if wanted else sa.not_(marked))
        return found


class MarkedRepository(Repository):
    """A repository whose reads show the marks of `view`, for the account `caller`."""

    view: ClassVar[sa.Subquery]
    marks: ClassVar[dict[str, Mark]] = {}
    caller: int | None = None  # the account whose own marks reads show (None: anonymous)

    async def get(self, id: int) -> dict[str, Any] | None:
        view = self.view
        rows = await fetch(
            self.session,
            ("by id", view),
            lambda: sa.select(view).where(view.c.id == sa.bindparam("id")),
            {"id": id, CALLER: self.caller},
        )
        return (await self.to_wire(rows))[0] if rows else None

    async def find(self, key: Any) -> dict[str, Any] | None:
        view, column = self.view, self.key
        if column == "id":
            return await self.get(key)
        rows = await fetch(
            self.session,
            ("by key", view),
            lambda: sa.select(view).where(view.c[column] == sa.bindparam("key")),
            {"key": key, CALLER: self.caller},
        )
        return (await self.to_wire(rows))[0] if rows else None

    async def page(self, params: dict[str, Any]) -> dict[str, Any]:
        return await super().page({**params, CALLER: self.caller})

    async def set_mark(self, name: str, id: int, account: int, on: bool) -> None:
        """Mark (``on``) or unmark record ``id`` for ``account``; either may already be so."""
        mark = self.marks[name]
        table = mark.table
        row = (table.c.user_id == account, table.c[mark.record] == id)
        if not on:
            await self.session.execute(sa.delete(table).where(*row))
            return
        present = sa.select(sa.literal(1)).where(*row)
        if (await self.session.execute(present)).first() is None:
            values = {"user_id": account, mark.record: id, "created_at": datetime.now(UTC)}
            await self.session.execute(sa.insert(table).values(values))


async def set_mark(service: CrudService, name: str, key: Any, on: bool) -> dict[str, Any]:
    """Mark or unmark the record ``key`` names for the caller (401, 403, 404 as the rules say);
    the record as the caller now sees it."""
    account = service.access.user_id
    if account is None:
        raise UnauthorizedError(f"Sign in to {name} {service.resource} records.")
    repository = _marked(service.repository)
    current = await service._authorized("read", key)  # 404 when missing or hidden
    id = current["id"]
    owner = await repository.owner_of(id) if repository.through else None
    service.access.check(name, current, owner)  # 403 unless the mark's `allow` names the caller
    try:
        await repository.set_mark(name, id, account, on)
        await service.session.commit()
    except IntegrityError:
        # a concurrent request marked it first (it is marked, as asked), or the record went
        # meanwhile (404 below)
        await service.session.rollback()
    return await service._load(id)


def show_marks_of(repository: Repository, account: int | None) -> None:
    """Make ``repository``'s reads show the marks of ``account`` (None: anonymous)."""
    _marked(repository).caller = account


def _marked(repository: Repository) -> MarkedRepository:
    if not isinstance(repository, MarkedRepository):
        raise TypeError(f"{type(repository).__name__} has no marks")
    return repository
