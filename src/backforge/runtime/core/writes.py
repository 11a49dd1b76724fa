"""The hot writes (a create by POST, a change by PATCH) without FastAPI's general solver or
SQLAlchemy's session, on PostgreSQL: the reads' direct path (core/reads.py, core/routing.py)
for writes.

`WriteRoute` answers a create or an update directly when the request is the common case: a JSON
body that parses and validates, valid path parameters, none of the headers only FastAPI's
dependencies read (Idempotency-Key); anything else goes to FastAPI with the body it read, so
errors are FastAPI's own. The endpoint then runs as usual.

`direct_create` and `direct_update` run the write of a plain resource in one transaction on a
driver connection of the read pool: `INSERT … RETURNING` (or `UPDATE … RETURNING`) and the
links, compiled once per shape by SQLAlchemy (its bind and result processing, its Python-side
defaults), and the answer built from what the statements returned, with no read back. A
resource is plain when nothing else must happen in the write's transaction: no accounts or
events (no access checks, no audit row, no outbox row), no hooks that run before the write, no
repository of its own (related, embedded or marked records). For any other, and when a
statement fails on a constraint, a value or a serialization conflict (after the rollback),
the general path writes and explains (409, 412, 422, 404 as ever); nothing of the attempt
remains. Only with the FAST_WRITES setting on, on PostgreSQL, and not while traced.
"""

import json
from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from pydantic import ValidationError, create_model
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from .db import DIRECT_WRITES
from .hooks import Hooks
from .reads import MAX_SHAPES, Borrowed, Compiled, ReadPool, Row
from .repository import Repository
from .routing import AppRoute, _model_field, _solve

# What makes a write fall back to the general path, after the rollback.
_EXPLAINED = (
    asyncpg.IntegrityConstraintViolationError,  # unique, foreign key, check, not null
    asyncpg.DataError,  # a value the column does not take
    asyncpg.TransactionRollbackError,  # serialization failure, deadlock: retried there
)


class Fallback(Exception):
    """The direct write rolled back: the general path writes and explains."""


class Returning(Compiled):
    """An INSERT or UPDATE … RETURNING every column, compiled once for the columns it sets:
    SQLAlchemy's SQL, bind order and processing, and the Python-side defaults (timestamps,
    version) it would compute itself."""

    def __init__(self, statement: sa.Insert | sa.Update, dialect: sa.Dialect, keys: list[str]):
        compiled: Any = statement.compile(dialect=dialect, column_keys=keys)
        self.dialect = dialect
        self.sql = compiled.string
        self.order = list(compiled.positiontup or ())
        self.binds = {
            name: bind.type._cached_bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        self.fixed = {name: bind.value for name, bind in compiled.binds.items()}
        self.columns = list(statement.exported_columns)
        self.keys = [column.key for column in self.columns]
        self.processors = None
        self.named = False
        self.postgres = True
        self.defaults = [
            (column.key, column.default) for column in compiled.insert_prefetch
        ] + [(column.key, column.onupdate) for column in compiled.update_prefetch]

    async def run(self, borrowed: Borrowed, values: dict[str, Any]) -> list[Row]:
        values = dict(values)
        for key, default in self.defaults:
            values[key] = default.arg(None) if default.is_callable else default.arg
        return await self.rows(borrowed, values)


class Table:
    """The statements of one resource's table and its links, on PostgreSQL."""

    def __init__(self, repository: type[Repository], dialect: sa.Dialect) -> None:
        self.repository = repository
        self.dialect = dialect
        self.shapes: dict[Hashable, Returning] = {}
        self.links: dict[str, tuple[str, str, str]] = {}
        for name, link in repository.links.items():
            own, target = link.table.c[link.own], link.table.c[link.target]
            given = sa.bindparam("own", type_=own.type)
            targets = sa.bindparam("targets", type_=postgresql.ARRAY(target.type))
            statements = (
                sa.insert(link.table).from_select(
                    [own, target], sa.select(given, sa.func.unnest(targets))
                ),
                sa.delete(link.table).where(own == given),
                sa.select(target).where(own == given).order_by(target),
            )
            # $1 the record's id, $2 the targets' ids
            insert, delete, select = (str(s.compile(dialect=dialect)) for s in statements)
            self.links[name] = (insert, delete, select)

    def insert(self, keys: list[str]) -> Returning:
        shape = ("insert", *keys)
        found = self.shapes.get(shape)
        if found is None:
            table = self.repository.table
            statement = sa.insert(table).returning(*table.c)
            found = self._keep(shape, Returning(statement, self.dialect, keys))
        return found

    def update(self, keys: list[str], column: str, versioned: bool) -> Returning:
        shape = ("update", column, versioned, *keys)
        found = self.shapes.get(shape)
        if found is None:
            table = self.repository.table
            key = table.c[column]
            conditions = [key == sa.bindparam("_bf_key", type_=key.type)]
            if versioned:
                version = table.c.version
                conditions.append(version == sa.bindparam("_bf_version", type_=version.type))
            statement = (
                sa.update(table)
                .where(*conditions)
                .values(version=table.c.version + 1)
                .returning(*table.c)
            )
            found = self._keep(shape, Returning(statement, self.dialect, keys))
        return found

    def _keep(self, shape: Hashable, statement: Returning) -> Returning:
        if len(self.shapes) >= MAX_SHAPES:
            self.shapes.pop(next(iter(self.shapes)))
        self.shapes[shape] = statement
        return statement


_tables: WeakKeyDictionary[sa.Dialect, dict[type[Repository], Table]] = WeakKeyDictionary()
_plain: dict[type[Any], bool] = {}


def _table(repository: type[Repository], dialect: sa.Dialect) -> Table:
    tables = _tables.get(dialect)
    if tables is None:
        tables = _tables[dialect] = {}
    found = tables.get(repository)
    if found is None:
        found = tables[repository] = Table(repository, dialect)
    return found


def _is_plain(service: Any) -> bool:
    """Whether a write of ``service``'s resource is its row and links alone (see the module)."""
    kind = type(service)
    plain = _plain.get(kind)
    if plain is None:
        hooks, repository = service.hooks_class, service.repository_class
        plain = _plain[kind] = (
            all(
                getattr(hooks, name) is getattr(Hooks, name)
                for name in ("validate", "before_create", "before_update")
            )
            and all(
                getattr(repository, name) is getattr(Repository, name)
                for name in ("insert", "update", "set_links", "to_wire", "get", "find")
            )
            and not repository.guards
            and not repository.through
        )
    return plain


def _pool(service: Any) -> ReadPool | None:
    """The pool to write on, when this write may take the direct path (the service has
    checked that its caller needs no access checks and its changes no audit)."""
    session = service.session
    pool: ReadPool | None = session.info.get(DIRECT_WRITES)
    if pool is None or session.in_transaction() or not _is_plain(service):
        return None
    return pool


async def direct_create(
    service: Any,
    values: dict[str, Any],
    before_commit: Callable[[dict[str, Any]], Awaitable[None]] | None,
) -> dict[str, Any] | None:
    """The record ``values`` created on the direct path, or None: the general path writes it."""
    pool = _pool(service)
    if pool is None:
        return None
    repository = service.repository
    links = {name: values[name] for name in repository.links if name in values}
    columns = repository.to_columns(
        {name: value for name, value in values.items() if name not in links}
    )
    table = _table(type(repository), pool.dialect)
    statement = table.insert(list(columns))

    async def write(borrowed: Borrowed) -> dict[str, Any]:
        row = (await statement.run(borrowed, columns))[0]
        linked = {}
        for name, ids in links.items():
            targets = list(dict.fromkeys(ids or []))
            if targets:
                await _execute(borrowed, table.links[name][0], row["id"], targets)
            linked[name] = sorted(targets)
        created = _as_wire(repository, row, linked)
        if before_commit is not None:
            await before_commit(created)
        return created

    return await _transaction(pool, write)


async def direct_update(
    service: Any, key: Any, values: dict[str, Any], versions: set[int] | None
) -> dict[str, Any] | None:
    """The record item URLs name ``key`` changed on the direct path, or None: the general path
    changes it (and answers 404 or 412 when it finds none, or another version)."""
    if versions is not None and len(versions) != 1:
        return None
    pool = _pool(service)
    if pool is None:
        return None
    repository = service.repository
    links = {name: values[name] for name in repository.links if name in values}
    columns = repository.to_columns(
        {name: value for name, value in values.items() if name not in links}
    )
    table = _table(type(repository), pool.dialect)
    statement = table.update(list(columns), repository.key, versions is not None)
    bound = {**columns, "_bf_key": key}
    if versions is not None:
        bound["_bf_version"] = next(iter(versions))

    async def write(borrowed: Borrowed) -> dict[str, Any]:
        rows = await statement.run(borrowed, bound)
        if not rows:
            raise Fallback  # none, or not at that version: the general path says which
        row = rows[0]
        linked = {}
        for name, (insert, delete, select) in table.links.items():
            if name in links:
                targets = list(dict.fromkeys(links[name] or []))
                await _execute(borrowed, delete, row["id"])
                if targets:
                    await _execute(borrowed, insert, row["id"], targets)
                linked[name] = sorted(targets)
            else:
                found = await _fetch(borrowed, select, row["id"])
                linked[name] = [found_row[0] for found_row in found]
        return _as_wire(repository, row, linked)

    return await _transaction(pool, write)


def _as_wire(repository: Repository, row: Row, linked: dict[str, list[Any]]) -> dict[str, Any]:
    """A returned row as `Repository.to_wire` makes a read one: refs by their API names, then
    the links (every one of them, in the order of `links`)."""
    for name, (column, _target) in repository.refs.items():
        row[name] = row.pop(column)
    for name in repository.links:
        row[name] = linked.get(name, [])
    return row


async def _transaction(
    pool: ReadPool, write: Callable[[Borrowed], Awaitable[dict[str, Any]]]
) -> dict[str, Any] | None:
    borrowed = await pool.acquire()
    try:
        connection = borrowed.driver
        try:
            async with connection.transaction():
                return await write(borrowed)
        except Fallback:
            return None
        except sa.exc.DBAPIError as error:  # translated by `Compiled.rows`
            if isinstance(error.orig, _EXPLAINED):
                return None
            raise
        except _EXPLAINED:
            return None
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise borrowed.translate(error, "", []) from error
    finally:
        await pool.release(borrowed)


async def _execute(borrowed: Borrowed, sql: str, *arguments: Any) -> None:
    await borrowed.driver.execute(sql, *arguments)


async def _fetch(borrowed: Borrowed, sql: str, *arguments: Any) -> list[Any]:
    rows: list[Any] = await borrowed.driver.fetch(sql, *arguments)
    return rows


# The route.


class WriteRoute(AppRoute):
    """A create or an update: path and header parameters, one JSON body model, the Request and
    dependencies that need nothing but the Request, one another and optional headers, returning
    a Response.

    The common request is answered directly: its body parsed and validated as FastAPI would
    (`request_body_to_args`, errors at ("body", …)), the path and header parameters in one
    call of a model of their own, the dependencies solved once each. A request that is not
    JSON, does not parse or validate, or sends a header that a dependency reads (such as
    Idempotency-Key) goes to FastAPI with the body already read, as do all of them while
    the application has dependency overrides or FAST_WRITES is off: its answer is FastAPI's."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        refused = _refused(dependant)
        if refused:
            raise TypeError(
                f"{endpoint.__name__} cannot be a WriteRoute: it takes {', '.join(refused)}"
            )
        fields = [*dependant.path_params, *dependant.header_params]
        self.params = create_model(  # type: ignore[call-overload]
            f"{endpoint.__name__}_params",
            **{field.name: _model_field(field.field_info) for field in fields},
        )
        self.headers = {
            field.alias.lower().encode("latin-1"): field.name for field in dependant.header_params
        }
        self.renamed = {f.alias: f.name for f in dependant.path_params if f.alias != f.name}
        # Headers the dependencies read: a request that sends one is FastAPI's.
        self.general_headers = frozenset(
            field.alias.lower().encode("latin-1") for field in _dependency_headers(dependant)
        )

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]
        general = app.dependency_overrides or not getattr(app.state, "fast_writes", True)
        if scope["method"] not in (self.methods or ()) or general:
            await super().handle(scope, receive, send)
            return
        given: dict[str, Any] = dict(scope["path_params"])
        if self.renamed:
            given = {self.renamed.get(key, key): value for key, value in given.items()}
        json_body = False
        for key, value in scope["headers"]:
            if key == b"content-type":
                media_type = value.decode("latin-1").split(";")[0].strip().lower()
                json_body = media_type == "application/json" or media_type.endswith("+json")
            elif key in self.general_headers:
                json_body = False
                break
            name = self.headers.get(key)
            if name is not None and name not in given:
                given[name] = value.decode("latin-1")
        request = Request(scope, receive, send)
        body = await request.body()
        values = None
        if json_body and body:
            values = await self.read(given, body)
        if values is None:
            await super().handle(scope, _replay(body, receive), send)
            return
        solved = await _solve(self.dependant, request, {})
        # the route's own dependencies (require_json) have no name and give nothing
        values.update((name, value) for name, value in solved.items() if name)
        response = await self.endpoint(**values)
        await response(scope, receive, send)

    async def read(self, given: dict[str, Any], body: bytes) -> dict[str, Any] | None:
        """The endpoint's parameters and body, or None when FastAPI should answer."""
        try:
            document = json.loads(body)
            parameters = dict(self.params.model_validate(given).__dict__)
        except (ValueError, ValidationError):  # JSONDecodeError and UnicodeDecodeError too
            return None
        dependant = self.dependant
        found, errors = await request_body_to_args(
            dependant.body_params, document, embed_body_fields=self._embed_body_fields
        )
        if errors:
            return None
        parameters.update(found)
        return parameters


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` with the body read already given again first."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _dependency_headers(dependant: Dependant) -> list[Any]:
    found = []
    for dependency in dependant.dependencies:
        found += [*dependency.header_params, *_dependency_headers(dependency)]
    return found


def _refused(dependant: Dependant, top: bool = True) -> list[str]:
    """What of ``dependant`` a WriteRoute cannot give."""
    needs: dict[str, object] = {
        "cookies": dependant.cookie_params,
        "query parameters": dependant.query_params,
        "the Response": dependant.response_param_name,
        "background tasks": dependant.background_tasks_param_name,
        "security scopes": dependant.security_scopes_param_name,
    }
    if top:
        needs["other than one body model"] = len(dependant.body_params) != 1
    else:
        needs["a body in a dependency"] = dependant.body_params
        needs["path parameters in a dependency"] = dependant.path_params
        needs["a header without a default of None in a dependency"] = [
            field for field in dependant.header_params if field.field_info.default is not None
        ]
    refused = [name for name, needed in needs.items() if needed]
    for dependency in dependant.dependencies:
        refused += [need for need in _refused(dependency, top=False) if need not in refused]
    return refused

