"""Data access shared by every resource: SQLAlchemy Core statements, rows as plain dicts.

Core statements keep the hot path short (no identity map, no change tracking); the ORM models
still define the schema and the migrations.
"""

from dataclasses import dataclass
from typing import Any, ClassVar, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from .listing import Listing, Through, owned_by
from .reads import fetch


@dataclass(frozen=True)
class Link:
    """A many-to-many field: its link table and the two columns that join through it."""

    table: sa.Table
    own: str
    target: str
    target_table: sa.Table


@dataclass(frozen=True)
class Guard:
    """A ref or many field to a resource whose records belong to accounts: a caller may point
    it only at records it may see."""

    resource: str  # the target resource: its read rule says who sees every record
    table: sa.Table
    through: Through  # how the target's rows reach their owner
    parent: bool = False  # the field this resource is owned through


class Repository:
    """CRUD for one table; subclasses name the table, its relations and its listing."""

    table: ClassVar[sa.Table]
    listing: ClassVar[Listing]
    refs: ClassVar[dict[str, tuple[str, sa.Table]]] = {}  # wire name → (column, target table)
    links: ClassVar[dict[str, Link]] = {}
    through: ClassVar[Through] = ()  # owned through a parent: the steps to the owner
    guards: ClassVar[dict[str, Guard]] = {}  # wire name → the target's ownership
    key: ClassVar[str] = "id"  # the column item URLs name a record by: the id, or a unique field

    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, id: int) -> dict[str, Any] | None:
        table = self.table
        rows = await fetch(self.session, ("by id", table), lambda: _by_id(table), {"id": id})
        if not rows:
            return None
        return (await self.to_wire(rows))[0]

    async def find(self, key: Any) -> dict[str, Any] | None:
        """The record item URLs name ``key``: by its id, or by its unique `key` column."""
        table, column = self.table, self.key
        if column == "id":
            return await self.get(key)
        rows = await fetch(
            self.session, ("by key", table), lambda: _by_key(table, column), {"key": key}
        )
        if not rows:
            return None
        return (await self.to_wire(rows))[0]

    async def exists(self, id: int) -> bool:
        query = sa.select(sa.literal(1)).where(self.table.c.id == id)
        return (await self.session.execute(query)).first() is not None

    async def owner_of(self, id: int) -> int | None:
        """The account that owns record ``id`` through its chain of parents: one joined query."""
        rows = await fetch(
            self.session,
            ("owner", self.table),
            lambda: _owner(self.table, self.through),
            {"id": id},
        )
        return rows[0]["owner_id"] if rows else None

    async def owned_among(self, guard: Guard, ids: list[int], owner: int | None) -> set[int]:
        """Which of ``ids`` (records of the guard's target) ``owner`` owns: one query."""
        if owner is None:
            return set()
        query = sa.select(guard.table.c.id).where(
            guard.table.c.id.in_(ids), owned_by(guard.table, guard.through, owner)
        )
        return set((await self.session.execute(query)).scalars())

    async def page(self, params: dict[str, Any]) -> dict[str, Any]:
        page = await self.listing.page(self.session, params)
        page["items"] = await self.to_wire(page["items"])
        return page

    async def insert(self, values: dict[str, Any]) -> int:
        links = {name: values.pop(name) for name in list(values) if name in self.links}
        statement = sa.insert(self.table).values(self.to_columns(values))
        if self.session.get_bind().dialect.insert_returning:
            returned = await self.session.execute(statement.returning(self.table.c.id))
            new_id: int = returned.scalar_one()
        else:  # MySQL: the id the server generated for this connection
            inserted: Any = await self.session.execute(statement)  # a CursorResult
            new_id = inserted.inserted_primary_key[0]
        for name, ids in links.items():  # a new row has no links to replace yet
            await self.set_links(name, new_id, ids or [], replace=False)
        return new_id

    async def update(self, id: int, values: dict[str, Any], version: int | None = None) -> bool:
        """Change a row; with ``version``, only if it is still at that version (atomically)."""
        links = {name: values.pop(name) for name in list(values) if name in self.links}
        statement = (
            sa.update(self.table)
            .where(*self._row(id, version))
            .values({**self.to_columns(values), "version": self.table.c.version + 1})
        )
        # the rows matched (MySQL's drivers report those, not only the changed ones): 0 or 1
        if await self._matched(statement) != 1:
            return False
        for name, ids in links.items():
            await self.set_links(name, id, ids or [])
        return True

    async def delete(self, id: int, version: int | None = None) -> bool:
        statement = sa.delete(self.table).where(*self._row(id, version))
        return await self._matched(statement) == 1

    async def _matched(self, statement: sa.Update | sa.Delete) -> int:
        """Run an UPDATE or DELETE; the number of rows it matched."""
        result = cast("sa.CursorResult[Any]", await self.session.execute(statement))
        return result.rowcount

    def _row(self, id: int, version: int | None) -> list[sa.ColumnElement[bool]]:
        conditions = [self.table.c.id == id]
        if version is not None:
            conditions.append(self.table.c.version == version)
        return conditions

    async def linked_ids(self, name: str, id: int) -> list[int]:
        return (await self._links_of(name, [id])).get(id, [])

    async def set_links(self, name: str, id: int, ids: list[int], *, replace: bool = True) -> None:
        link = self.links[name]
        if replace:
            await self.session.execute(sa.delete(link.table).where(link.table.c[link.own] == id))
        if ids:
            rows = [{link.own: id, link.target: target} for target in dict.fromkeys(ids)]
            await self.session.execute(sa.insert(link.table), rows)

    async def add_link(self, name: str, id: int, target: int) -> None:
        link = self.links[name]
        present = sa.select(sa.literal(1)).where(
            link.table.c[link.own] == id, link.table.c[link.target] == target
        )
        if (await self.session.execute(present)).first() is None:
            await self.session.execute(
                sa.insert(link.table).values({link.own: id, link.target: target})
            )

    async def remove_link(self, name: str, id: int, target: int) -> bool:
        link = self.links[name]
        statement = sa.delete(link.table).where(
            link.table.c[link.own] == id, link.table.c[link.target] == target
        )
        return await self._matched(statement) > 0

    async def missing_refs(self, values: dict[str, Any]) -> list[str]:
        """Wire names of the references in ``values`` whose target row does not exist."""
        missing = []
        for name, (_column, target) in self.refs.items():
            value = values.get(name)
            if value is not None and not await _exists(self.session, target, value):
                missing.append(name)
        for name, link in self.links.items():
            for value in values.get(name) or []:
                if not await _exists(self.session, link.target_table, value):
                    missing.append(name)
                    break
        return missing

    def to_columns(self, values: dict[str, Any]) -> dict[str, Any]:
        return {self.refs[k][0] if k in self.refs else k: v for k, v in values.items()}

    async def to_wire(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows keyed by column → documents keyed by the API's field names, with link ids."""
        for name, (column, _target) in self.refs.items():
            for row in rows:
                row[name] = row.pop(column)
        ids = [row["id"] for row in rows]
        for name in self.links:
            linked = await self._links_of(name, ids)
            for row in rows:
                row[name] = linked.get(row["id"], [])
        return rows

    async def _links_of(self, name: str, ids: list[int]) -> dict[int, list[int]]:
        """Linked ids for a whole page in one query (no N+1)."""
        if not ids:
            return {}
        found: dict[int, list[int]] = {}
        link = self.links[name]
        rows = await fetch(
            self.session,
            ("linked", link.table, link.own, len(ids)),
            lambda: _linked(link, len(ids)),
            {f"id_{n}": id for n, id in enumerate(ids)},
        )
        own, target = link.own, link.target
        for row in rows:
            found.setdefault(row[own], []).append(row[target])
        return found


# The statements of the read path are built once per shape (core/reads.py compiles them once).
def _by_id(table: sa.Table) -> sa.Select[Any]:
    return sa.select(table).where(table.c.id == sa.bindparam("id"))


def _by_key(table: sa.Table, column: str) -> sa.Select[Any]:
    return sa.select(table).where(table.c[column] == sa.bindparam("key"))


def _owner(table: sa.Table, through: Through) -> sa.Select[Any]:
    """The `owner_id` at the end of a row's chain of parents, its id bound as ``id``."""
    joined: sa.FromClause = table
    current = table
    for column, parent in through:
        joined = joined.join(parent, current.c[column] == parent.c.id)
        current = parent
    return (
        sa.select(current.c.owner_id)
        .select_from(joined)
        .where(table.c.id == sa.bindparam("id", type_=table.c.id.type))
    )


def _linked(link: Link, count: int) -> sa.Select[Any]:
    """The links of `count` records, ids bound as id_0 … id_<count-1>."""
    own, target = link.table.c[link.own], link.table.c[link.target]
    ids = [sa.bindparam(f"id_{n}", type_=own.type) for n in range(count)]
    return sa.select(own, target).where(own.in_(ids)).order_by(own, target)


async def _exists(session: AsyncSession, table: sa.Table, id: int) -> bool:
    query = sa.select(sa.literal(1)).where(table.c.id == id)
    return (await session.execute(query)).first() is not None
