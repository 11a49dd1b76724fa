"""Custom actions on one record (`actions:` in the spec): `POST .../{key}/<action>`.

A declarative action is one conditional UPDATE: the row changes only while the fields of its
`when` still hold their values or meet their conditions (`{"gte": 3}`, `{"in": [...]}`), so
of two concurrent calls one wins and the other gets 409. A handler action runs a method the
user writes in `<resource>/actions.py`, inside the request's transaction (committed when it
returns, rolled back when it raises); until it is written the action answers 501. Both check
who may act exactly as an update does (401, 403, 404), run the resource's hooks (declarative)
and write an audit entry named after the action.
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

import sqlalchemy as sa

from .errors import ConflictError, ForbiddenError, NotFoundError, ProblemError, problem_doc
from .metrics import RESOURCE_CHANGES
from .service import CrudService

Handler = Callable[[dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]


NOT_WRITTEN = {501: problem_doc("The action's handler is not written yet.")}


class NotImplementedYetError(ProblemError):
    """A handler action whose method nobody has written yet."""

    status, title = 501, "Not Implemented"


class PostOnlyError(ProblemError):
    """Another method than POST on a collection action's path (which GET /{key} would take)."""

    status, title = 405, "Method Not Allowed"

    def __init__(self, name: str):
        super().__init__(f"The {name} action takes POST only.", headers={"Allow": "POST"})


# The methods a collection action's path answers 405 to, ahead of the item routes.
NOT_POST = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "PUT"]


async def run_declared(
    service: CrudService,
    name: str,
    key: Any,
    when: dict[str, Any],
    sets: dict[str, Any],
    versions: set[int] | None = None,
    parents: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Set ``sets`` on the record ``key`` names while its fields hold ``when``; the record.
    ``parents``: the ref fields whose target's owner may act too (`allow: <field>.owner`)."""
    current = await _authorized(service, name, key, parents)
    id = current["id"]
    version = service._expected_version(current, versions)
    _check_when(service, name, current, when)
    values = dict(sets)
    await service.hooks.validate(values, current)
    await service.hooks.before_update(id, values)
    table = service.repository.table
    statement = (
        sa.update(table)
        .where(table.c.id == id, *(_holds(table.c[column], v) for column, v in when.items()))
        .values({**values, "version": table.c.version + 1})
    )
    if version is not None:
        statement = statement.where(table.c.version == version)

    async def change() -> bool:
        result = cast("sa.CursorResult[Any]", await service.session.execute(statement))
        return result.rowcount == 1

    if not await service._write(values, change, audit=(name, current)):
        # changed since it was read: gone, at another version than If-Match names, or no
        # longer in the `when` state (another call won)
        now = await service.repository.get(id)
        if now is None or (version is not None and now["version"] != version):
            await service._missing_or_changed(id, version, key)
        raise _refused(service, name, id, when)
    RESOURCE_CHANGES.labels(service.resource, name).inc()
    record = await service._load(id)
    await _changed(service, key, record)
    await service.hooks.after_update(record)
    return record


async def run_handler(
    service: CrudService,
    name: str,
    key: Any,
    when: dict[str, Any],
    handler: Handler | None,
    values: dict[str, Any],
    versions: set[int] | None = None,
    *,
    where: str = "",
    parents: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run the user's ``handler`` (None: not written yet, in the file ``where``) on the record
    ``key`` names, in one transaction with the audit entry; its answer."""
    current = await _authorized(service, name, key, parents)
    service._expected_version(current, versions)
    _check_when(service, name, current, when)
    if handler is None:
        raise NotImplementedYetError(
            f"The {name} action of {service.resource} is not written yet: add the method "
            f"`{name}` to {service.resource}Actions in {where}."
        )
    try:
        answer = await handler(current, values)
        if service.audit is not None:
            await service._record(name, current, current["id"])
        await service.session.commit()
    except BaseException:
        await service.session.rollback()
        raise
    await _changed(service, key, None)
    RESOURCE_CHANGES.labels(service.resource, name).inc()
    return answer


async def run_collection_handler(
    service: CrudService,
    name: str,
    handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]] | None,
    values: dict[str, Any],
    *,
    where: str = "",
) -> dict[str, Any]:
    """Run the user's ``handler`` of a collection action (`on: collection`; None: not written
    yet, in the file ``where``) once the caller may (401, 403), in one transaction; its answer."""
    service.access.scope(name)
    if handler is None:
        raise NotImplementedYetError(
            f"The {name} action of {service.resource} is not written yet: add the method "
            f"`{name}` to {service.resource}Actions in {where}."
        )
    try:
        answer = await handler(values)
        await service.session.commit()
    except BaseException:
        await service.session.rollback()
        raise
    invalidate = getattr(service, "_invalidate", None)
    if invalidate is not None:  # a cached resource: any of its records may have changed
        await invalidate(whole=[service.resource])
    RESOURCE_CHANGES.labels(service.resource, name).inc()
    return answer


async def _authorized(
    service: CrudService, name: str, key: Any, parents: tuple[str, ...]
) -> dict[str, Any]:
    """The record, once the caller may run the action: as an update is checked, or else (a
    signed-in caller refused with 403 or 404) because it owns the record one of the ``parents``
    ref fields points at (`allow: question.owner`): one query more, for those callers only."""
    try:
        return await service._authorized(name, key)
    except (ForbiddenError, NotFoundError):
        caller = service.access.user_id
        if not parents or caller is None:
            raise
        record = await service.repository.find(key)
        if record is None:
            raise
        repository = service.repository
        for field in parents:
            target = record.get(field)
            guard = repository.guards[field]
            if target is not None and await repository.owned_among(guard, [target], caller):
                return record
        raise


async def _changed(service: CrudService, key: Any, record: dict[str, Any] | None) -> None:
    """After an action's commit: a cached resource (core/cache.py) drops its answers about the
    record, under the key it was asked by and the one it has now."""
    invalidate = getattr(service, "_invalidate", None)
    if invalidate is not None:
        now = key if record is None else record[getattr(service, "cache_key", "id")]
        await invalidate(key, now)


def _check_when(
    service: CrudService, name: str, current: dict[str, Any], when: dict[str, Any]
) -> None:
    if any(not _equal(current.get(column), value) for column, value in when.items()):
        raise _refused(service, name, current["id"], when)


def _refused(service: CrudService, name: str, id: int, when: dict[str, Any]) -> ConflictError:
    state = ", ".join(_described(column, value) for column, value in when.items())
    return ConflictError(
        f"{service.resource} {id} is not in the state the {name} action needs ({state})."
    )


SYMBOLS = {"ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "in": "in"}


def _described(column: str, value: Any) -> str:
    if not isinstance(value, dict):
        return f"{column} = {value!r}"
    return " and ".join(f"{column} {SYMBOLS[op]} {_shown(given)}" for op, given in value.items())


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) or value is None else str(value)


def _holds(column: Any, value: Any) -> Any:
    """The SQL condition: equality (null: IS NULL), or every operator of a dict. `ne` is IS
    DISTINCT FROM (a null field differs from any value), an ordering never holds for null."""
    if not isinstance(value, dict):
        return column.is_(None) if value is None else column == value
    return sa.and_(*(_operator(column, op, given) for op, given in value.items()))


def _operator(column: Any, op: str, value: Any) -> Any:
    if op == "ne":
        return column.is_not(None) if value is None else column.is_distinct_from(value)
    if op == "in":
        values = [v for v in value if v is not None]
        within = column.in_(values) if values else sa.false()
        return sa.or_(within, column.is_(None)) if None in value else within
    return {
        "lt": column < value,
        "lte": column <= value,
        "gt": column > value,
        "gte": column >= value,
    }[op]


def _equal(found: Any, value: Any) -> bool:
    """What _holds means, in Python (the check before the UPDATE, which checks again)."""
    if not isinstance(value, dict):
        return found is None if value is None else bool(found == value)
    return all(_meets(found, op, given) for op, given in value.items())


def _meets(found: Any, op: str, value: Any) -> bool:
    if op == "ne":
        return found is not None if value is None else found is None or bool(found != value)
    if op == "in":
        return found in value
    if found is None:
        return False
    if op == "lt":
        return bool(found < value)
    if op == "lte":
        return bool(found <= value)
    if op == "gt":
        return bool(found > value)
    return bool(found >= value)
