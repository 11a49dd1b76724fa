"""Relations named by a field of their target (`by`), targets created on first use
(`create_missing`), embedded targets (`embed`) and filters by related values.

On the wire a ref or many field with `by` carries its targets' values of that field
(`"tags": ["dragons", "training"]`, sorted) instead of their ids; the columns and link tables
keep the ids. A write's values are turned into ids before anything else looks at them (one
query per field), so every other rule (hidden owned targets, missing ones: the same 409) applies
unchanged. An embedded ref carries its target's record, read for a whole page in one query.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import NotFoundError
from .listing import Listing
from .reads import fetch
from .repository import Link, Repository
from .service import CrudService, _no_such_records, _shown


@dataclass(frozen=True)
class KeyedLink(Link):
    """A many-to-many field named by its targets' `by` column."""

    by: str = ""  # the target's column that names targets on the wire
    create_missing: bool = False  # values that name no target create it


@dataclass(frozen=True)
class Related:
    """A filter by a related record's value (a ref or many field with `by`): the target table
    and its column; for a many, its link table and the link's own and target columns."""

    target: sa.Table
    by: str
    link: tuple[sa.Table, str, str] | None = None

    def matching(self, table: sa.Table, column: str, values: list[Any]) -> Any:
        """Rows of ``table`` related to a target whose `by` is one of ``values``: indexed
        lookups (the target's unique column, the link table's target index)."""
        targets = sa.select(self.target.c.id).where(self.target.c[self.by].in_(values))
        if self.link is None:
            return table.c[column].in_(targets)
        link, own, target = self.link
        linked = sa.select(link.c[own]).where(link.c[target].in_(targets))
        return table.c.id.in_(linked)


@dataclass(frozen=True)
class RelatedListing(Listing):
    """A listing with filters by related values (`?tags=dragons`, `?author=ada`)."""

    related: dict[str, Related] = field(default_factory=dict)  # parameter → its relation

    def where(self, shape: list[Any]) -> list[sa.ColumnElement[bool]]:
        found: list[sa.ColumnElement[bool]] = []
        rest = []
        for part in shape:
            name, count = part if isinstance(part, tuple) and len(part) == 2 else (part, 0)
            related = self.related.get(name) if isinstance(name, str) else None
            if related is None:
                rest.append(part)
                continue
            column, operator = self.filters[name]
            names = [f"f_{name}_{n}" for n in range(count)] if operator == "in" else [f"f_{name}"]
            value_type = related.target.c[related.by].type
            binds = [sa.bindparam(n, type_=value_type) for n in names]
            found.append(related.matching(self.table, column, binds))
        return [*super().where(rest), *found]


class RelatedRepository(Repository):
    """A repository whose refs and links may name targets by a field (`keys`, `KeyedLink`)
    and embed their targets' records (`embeds`)."""

    keys: ClassVar[dict[str, str]] = {}  # wire name of a ref → the target column it sends
    embeds: ClassVar[dict[str, type[Repository]]] = {}  # wire name of a ref → its target's

    async def resolve(self, values: dict[str, Any], *, create: bool = True) -> list[str]:
        """Replace the `by` values of refs and links in ``values`` by the ids they name (one
        query per field given); the wire names of those with a value naming no record, after
        creating the targets of a link with `create_missing` (unless ``create`` is false)."""
        missing = []
        for name, by in self.keys.items():
            value = values.get(name)
            if value is None:
                continue
            found = await _ids_by(self.session, self.refs[name][1], by, [value])
            if value in found:
                values[name] = found[value]
            else:
                missing.append(name)
        for name, link in self.links.items():
            given = values.get(name)
            if not isinstance(link, KeyedLink) or not given:
                continue
            wanted = list(dict.fromkeys(given))
            found = await _ids_by(self.session, link.target_table, link.by, wanted)
            unknown = [value for value in wanted if value not in found]
            if unknown and link.create_missing and create:
                found |= await self._create_targets(link, unknown)
                unknown = [value for value in wanted if value not in found]
            if unknown:
                missing.append(name)
            else:
                values[name] = [found[value] for value in wanted]
        return missing

    async def _create_targets(self, link: KeyedLink, values: list[Any]) -> dict[Any, int]:
        """Create the targets ``values`` name, each in a savepoint: a concurrent request that
        created the same one first (a unique conflict) leaves its row to reuse."""
        table = link.target_table
        for value in values:
            try:
                async with self.session.begin_nested():
                    await self.session.execute(sa.insert(table).values({link.by: value}))
            except IntegrityError:
                pass  # created meanwhile: read below
        return await _ids_by(self.session, table, link.by, values)

    async def to_wire(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Documents with their targets' `by` values and embedded records: one query per such
        field for the whole page."""
        rows = await super().to_wire(rows)
        for name, by in self.keys.items():
            if name not in self.embeds:
                named = await self._values_of(self.refs[name][1], by, [row[name] for row in rows])
                for row in rows:
                    row[name] = named.get(row[name])
        for name, repository in self.embeds.items():
            embedded = await _records(repository(self.session), [row[name] for row in rows])
            for row in rows:
                row[name] = embedded.get(row[name])
        return rows

    def unembed(self, record: dict[str, Any] | None) -> dict[str, Any] | None:
        """``record`` with its embedded targets named by their id or `by` value instead, as
        the audit log and events carry them."""
        if record is None or not self.embeds:
            return record
        flat = dict(record)
        for name in self.embeds:
            target = flat.get(name)
            flat[name] = None if target is None else target[self.keys.get(name, "id")]
        return flat

    async def _values_of(self, table: sa.Table, by: str, ids: list[Any]) -> dict[int, Any]:
        """The `by` values of the target records ``ids``: one query for a page."""
        wanted = sorted({id for id in ids if id is not None})
        if not wanted:
            return {}
        rows = await fetch(
            self.session,
            ("values", table, by, len(wanted)),
            lambda: _among(sa.select(table.c.id, table.c[by]), table, len(wanted)),
            {f"id_{n}": id for n, id in enumerate(wanted)},
        )
        return {row["id"]: row[by] for row in rows}

    async def _links_of(self, name: str, ids: list[int]) -> dict[int, list[Any]]:
        """Linked `by` values for a whole page in one query, sorted as Python sorts them (the
        same on every database's collation)."""
        link = self.links[name]
        if not isinstance(link, KeyedLink) or not ids:
            return await super()._links_of(name, ids)
        rows = await fetch(
            self.session,
            ("linked by", link.table, link.own, len(ids)),
            lambda: _linked_values(link, len(ids)),
            {f"id_{n}": id for n, id in enumerate(ids)},
        )
        found: dict[int, list[Any]] = {}
        for row in rows:
            found.setdefault(row[link.own], []).append(row[link.by])
        return {id: sorted(values) for id, values in found.items()}


class RelatedService(CrudService):
    """CRUD whose writes name targets by their `by` values, turned into ids first."""

    repository: RelatedRepository

    async def _check_refs(self, action: str, values: dict[str, Any]) -> None:
        """Turn the `by` values of references into ids, refusing values that name no record
        with the same 409 as an unknown id (links with `create_missing` create theirs); then
        the checks of every reference."""
        missing = await self.repository.resolve(values)
        if missing:
            raise _no_such_records(missing)
        await super()._check_refs(action, values)

    async def link(self, key: Any, name: str, target: Any) -> None:
        """Link the target ``target`` names (its id, or its `by` value)."""
        values = {name: [target]}
        id = (await self._authorized("update", key))["id"]
        await self._check_refs("update", values)
        await self._write(values, lambda: self.repository.add_link(name, id, values[name][0]))

    async def unlink(self, key: Any, name: str, target: Any) -> None:
        values = {name: [target]}
        if await self.repository.resolve(values, create=False):
            await self._authorized("update", key)
            raise NotFoundError(f"{self.resource} {_shown(key)} is not linked to {name} {target}.")
        await super().unlink(key, name, values[name][0])

    def _as_audited(self, record: dict[str, Any] | None) -> dict[str, Any] | None:
        """Embedded targets named by their id or `by` value, in the audit log and the events."""
        return self.repository.unembed(record)


def _among(query: sa.Select[Any], table: sa.Table, count: int) -> sa.Select[Any]:
    """``query`` for `count` ids of ``table``, bound as id_0 … id_<count-1>."""
    ids = [sa.bindparam(f"id_{n}", type_=table.c.id.type) for n in range(count)]
    return query.where(table.c.id.in_(ids))


def _linked_values(link: KeyedLink, count: int) -> sa.Select[Any]:
    """The targets' `by` values linked to `count` records, ids bound as id_0 … id_<count-1>."""
    own, target = link.table.c[link.own], link.table.c[link.target]
    ids = [sa.bindparam(f"id_{n}", type_=own.type) for n in range(count)]
    value = link.target_table.c[link.by]
    joined = link.table.join(link.target_table, target == link.target_table.c.id)
    return sa.select(own, value).select_from(joined).where(own.in_(ids))


async def _records(repository: Repository, ids: list[Any]) -> dict[int, dict[str, Any]]:
    """The records of ``ids`` as the API shows them, for another resource's response (one
    level: their own refs stay ids or `by` values): one query for a page."""
    wanted = sorted({id for id in ids if id is not None})
    if not wanted:
        return {}
    table = repository.table
    rows = await fetch(
        repository.session,
        ("embedded", table, len(wanted)),
        lambda: _among(sa.select(table), table, len(wanted)),
        {f"id_{n}": id for n, id in enumerate(wanted)},
    )
    return {row["id"]: row for row in await repository.to_wire(rows)}


async def _ids_by(
    session: AsyncSession, table: sa.Table, by: str, values: list[Any]
) -> dict[Any, int]:
    """The ids of the records of ``table`` whose `by` column holds one of ``values``."""
    query = sa.select(table.c[by], table.c.id).where(table.c[by].in_(values))
    return {value: id for value, id in (await session.execute(query)).all()}
