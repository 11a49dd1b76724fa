"""The hot writes (a create by POST, a change by PATCH) without FastAPI's general solver or
SQLAlchemy's session, on PostgreSQL: the reads' direct path (core/reads.py, core/routing.py)
for writes.

`WriteRoute` answers a create or an update directly when the request is the common case: a JSON
body that parses and validates, valid path parameters, none of the headers only FastAPI's
dependencies read (Idempotency-Key); anything else goes to FastAPI with the body it read, so
errors are FastAPI's own. The endpoint then runs as usual.

`direct_create` and `direct_update` run the write of a plain resource as one statement on a
driver connection of the read pool: `INSERT … RETURNING` (or `UPDATE … RETURNING`) and its
links in data-modifying WITH queries, built and compiled once per shape by SQLAlchemy (its
bind and result processing, its Python-side defaults computed as it would), which commits or
fails as a whole without BEGIN and COMMIT round trips. The answer is what the statement
returned, with no read back. A resource is plain when nothing else must happen in the write's
transaction: no accounts or events (no access checks, no audit or event rows), no hooks
that run before the write, no repository of its own (related, embedded or marked records).
For any other, and when the statement fails on a constraint, a value or a serialization
conflict (it wrote nothing), or finds no record at the version asked for, the general path
writes and explains (409, 412, 422, 404 as ever). Only with the FAST_WRITES setting on, on
PostgreSQL, and not while traced.
"""

import json
from collections.abc import Awaitable, Callable, Hashable
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg
import sqlalchemy as sa
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from pydantic import ValidationError, create_model
from sqlalchemy.dialects import postgresql
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from .db import DIRECT_WRITES
from .hooks import Hooks
from .reads import MAX_SHAPES, Borrowed, Compiled, ReadPool, Row
from .repository import Repository
from .routing import AppRoute, _model_field, _solve

# What makes a write fall back to the general path (the statement wrote nothing).
_EXPLAINED = (
    asyncpg.IntegrityConstraintViolationError,  # unique, foreign key, check, not null
    asyncpg.DataError,  # a value the column does not take
    asyncpg.TransactionRollbackError,  # serialization failure, deadlock: retried there
)


Defaults = list[tuple[str, Any]]  # (bind name, the column's default or onupdate)


class Statement(Compiled):
    """One write as a single statement (its row, its links and what it answers with),
    compiled once per shape: SQLAlchemy's SQL, bind order and processing, and the Python-side
    defaults it would compute itself (timestamps, the first version), computed the same way."""

    def __init__(self, statement: sa.Select[Any], dialect: sa.Dialect, defaults: Defaults):
        compiled: Any = statement.compile(dialect=dialect)
        self.dialect = dialect
        self.sql = compiled.string
        self.order = list(compiled.positiontup or ())
        self.binds = {
            name: bind.type._cached_bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        self.fixed = {name: bind.value for name, bind in compiled.binds.items()}
        self.columns = list(statement.selected_columns)
        self.keys = [column.key for column in self.columns]
        self.processors = None
        self.named = False
        self.postgres = True
        self.defaults = defaults

    async def run(self, borrowed: Borrowed, values: dict[str, Any]) -> list[Row]:
        for key, default in self.defaults:
            values[key] = default.arg(None) if default.is_callable else default.arg
        return await self.rows(borrowed, values)


class Table:
    """The single-statement writes of one resource's table and its links, on PostgreSQL:
    data-modifying WITH queries, which commit or fail as one statement (no BEGIN, no COMMIT)."""

    def __init__(self, repository: type[Repository], dialect: sa.Dialect) -> None:
        self.repository = repository
        self.table = repository.table
        self.dialect = dialect
        self.shapes: dict[Hashable, Statement | None] = {}

    def create(self, keys: tuple[str, ...], linked: tuple[str, ...]) -> Statement | None:
        """INSERT … RETURNING the row, and an INSERT of each of ``linked``'s links (their
        targets bound as ``_bf_<name>``); None when a column's default is SQL of its own."""
        shape = ("create", keys, linked)
        if shape not in self.shapes:
            table = self.table
            given, defaults = self._binds(keys, "default")
            if given is None:
                return self._keep(shape, None)
            created = sa.insert(table).values(given).returning(*table.c).cte("created")
            query = sa.select(*created.c)
            for number, name in enumerate(linked):
                link = self.repository.links[name]
                own, target = link.table.c[link.own], link.table.c[link.target]
                targets = sa.bindparam(f"_bf_{name}", type_=postgresql.ARRAY(target.type))
                adding = sa.insert(link.table).from_select(
                    [own, target], sa.select(created.c.id, sa.func.unnest(targets))
                )
                query = query.add_cte(adding.cte(f"linked_{number}"))
            self._keep(shape, Statement(query, self.dialect, defaults))
        return self.shapes[shape]

    def update(
        self, keys: tuple[str, ...], linked: tuple[str, ...], column: str, versioned: bool
    ) -> Statement | None:
        """UPDATE … RETURNING the row named by ``_bf_key`` (at version ``_bf_version``), its
        links in ``linked`` set to ``_bf_<name>``, the others read; None as for `create`."""
        shape = ("update", keys, linked, column, versioned)
        if shape not in self.shapes:
            table = self.table
            given, defaults = self._binds(keys, "onupdate")
            if given is None:
                return self._keep(shape, None)
            key = table.c[column]
            conditions = [key == sa.bindparam("_bf_key", type_=key.type)]
            if versioned:
                version = table.c.version
                conditions.append(version == sa.bindparam("_bf_version", type_=version.type))
            changed = (
                sa.update(table)
                .where(*conditions)
                .values({**given, "version": table.c.version + 1})
                .returning(*table.c)
                .cte("changed")
            )
            selected: list[Any] = list(changed.c)
            ctes = []
            for number, (name, link) in enumerate(self.repository.links.items()):
                own, target = link.table.c[link.own], link.table.c[link.target]
                if name not in linked:  # unchanged: as they were
                    now = sa.select(target).where(own == changed.c.id).order_by(target)
                    array = sa.func.array(now.scalar_subquery())
                    selected.append(
                        sa.type_coerce(array, postgresql.ARRAY(target.type)).label(f"_bf_{name}")
                    )
                    continue
                # only the links that go and those that come: no row is deleted and inserted
                targets = sa.bindparam(f"_bf_{name}", type_=postgresql.ARRAY(target.type))
                ours = own.in_(sa.select(changed.c.id).scalar_subquery())
                going = sa.delete(link.table).where(ours, target != sa.all_(targets))
                coming = (
                    postgresql.insert(link.table)
                    .from_select([own, target], sa.select(changed.c.id, sa.func.unnest(targets)))
                    .on_conflict_do_nothing()
                )
                ctes += [going.cte(f"unlinked_{number}"), coming.cte(f"linked_{number}")]
            query = sa.select(*selected)
            for cte in ctes:
                query = query.add_cte(cte)
            self._keep(shape, Statement(query, self.dialect, defaults))
        return self.shapes[shape]

    def _binds(self, keys: tuple[str, ...], kind: str) -> tuple[dict[str, Any] | None, Defaults]:
        """A bind parameter per column of ``keys`` and per column whose Python-side ``kind``
        (default, onupdate) SQLAlchemy would compute; None when one is SQL of its own."""
        given: dict[str, Any] = {}
        defaults: Defaults = []
        for column in self.table.c:
            if column.key in keys:
                given[column.key] = sa.bindparam(column.key, type_=column.type)
                continue
            default = getattr(column, kind)
            if default is None:
                continue
            if not (default.is_callable or default.is_scalar):
                return None, []
            given[column.key] = sa.bindparam(column.key, type_=column.type)
            defaults.append((column.key, default))
        return given, defaults

    def _keep(self, shape: Hashable, statement: Statement | None) -> Statement | None:
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


def _split(
    repository: Repository, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """``values`` as columns, and the links they set (each target once)."""
    links = {
        name: list(dict.fromkeys(values[name] or [])) for name in repository.links if name in values
    }
    columns = repository.to_columns(
        {name: value for name, value in values.items() if name not in links}
    )
    return columns, links


async def direct_create(
    service: Any,
    values: dict[str, Any],
    before_commit: Callable[[dict[str, Any]], Awaitable[None]] | None,
) -> dict[str, Any] | None:
    """The record ``values`` created on the direct path, or None: the general path creates it.
    The statement has committed when ``before_commit`` sees the record: it must not write
    (`Idempotency` without a key only builds its reply; with one, the session holds the key
    in a transaction, and the general path runs)."""
    pool = _pool(service)
    if pool is None:
        return None
    repository = service.repository
    columns, links = _split(repository, values)
    linked = tuple(name for name, ids in links.items() if ids)
    statement = _table(type(repository), pool.dialect).create(tuple(columns), linked)
    if statement is None:
        return None
    bound = {**columns, **{f"_bf_{name}": links[name] for name in linked}}
    rows = await _run(pool, statement, bound)
    if not rows:
        return None
    created = _as_wire(repository, rows[0], links)
    if before_commit is not None:
        await before_commit(created)
    return created


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
    columns, links = _split(repository, values)
    table = _table(type(repository), pool.dialect)
    statement = table.update(tuple(columns), tuple(links), repository.key, versions is not None)
    if statement is None:
        return None
    bound = {**columns, "_bf_key": key, **{f"_bf_{name}": ids for name, ids in links.items()}}
    if versions is not None:
        bound["_bf_version"] = next(iter(versions))
    rows = await _run(pool, statement, bound)
    if not rows:
        return None  # none, or not at that version: the general path says which
    row = rows[0]
    for name in repository.links:
        if name not in links:
            links[name] = list(row.pop(f"_bf_{name}") or [])
    return _as_wire(repository, row, links)


def _as_wire(repository: Repository, row: Row, links: dict[str, list[Any]]) -> dict[str, Any]:
    """A returned row as `Repository.to_wire` makes a read one: refs by their API names, then
    every link's targets, in order."""
    for name, (column, _target) in repository.refs.items():
        row[name] = row.pop(column)
    for name in repository.links:
        row[name] = sorted(links.get(name, []))
    return row


async def _run(pool: ReadPool, statement: Statement, values: dict[str, Any]) -> list[Row]:
    """The rows of one write statement, on a connection of the pool; none when it failed on
    a constraint, a value or a serialization conflict (it wrote nothing then)."""
    borrowed = await pool.acquire()
    try:
        return await statement.run(borrowed, values)
    except sa.exc.DBAPIError as error:  # as `Compiled.rows` translates driver errors
        if isinstance(error.orig, _EXPLAINED):
            return []
        raise
    finally:
        await pool.release(borrowed)


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
        json_body: bool | None = None  # the first Content-Type counts, as for FastAPI
        for key, value in scope["headers"]:
            if key == b"content-type" and json_body is None:
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

