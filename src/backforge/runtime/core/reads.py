"""The hot reads (a record by id, a page of a list) without SQLAlchemy's per-execution work
(cache key, execution context, result wrapping, pool checkout events).

A read here is a statement SQLAlchemy built and compiled once, per shape, with named bind
parameters: its SQL text, bind order and the type processing SQLAlchemy would apply on the way
in and out (dates, decimals, JSON keep their types), run on a driver connection directly.

The sessions of GET and HEAD requests (`ReadSession` in core/db.py) read on a connection of the
read pool (`ReadPool`): on PostgreSQL an asyncpg pool of its own (DB_READ_POOL_SIZE
connections, no reset query on release, since reads leave no session state behind); on SQLite
a connection of SQLAlchemy's pool. Only those sessions take this path, only with the
FAST_READS setting on and not while traced (tracing sees statements through SQLAlchemy's
events); a write's session executes the same statements through SQLAlchemy, inside its
transaction. Driver errors come out as SQLAlchemy's, so an unreachable database still answers
503.

The direct path as a whole, behind FAST_READS: this module, `ReadSession` and `ReadPool` in
core/db.py, `DirectRoute` in core/routing.py and the garbage collector's tuning in serve.py.
"""

import asyncio
import json
from collections.abc import Callable, Hashable
from typing import Any
from weakref import WeakKeyDictionary

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.util import greenlet_spawn

FAST_READS = "fast_reads"  # Session.info key: true on the sessions GET and HEAD requests get
BORROWED = "borrowed_connection"  # Session.info key: the connection the reads run on
MAX_SHAPES = 2048  # statements (and compiled forms per dialect) kept, by shape

Row = dict[str, Any]


class Borrowed:
    """A driver connection the reads of one request run on, and how its errors translate."""

    def __init__(
        self,
        driver: Any,
        dialect: sa.Dialect,
        translate: Callable[[Exception, str, list[Any]], Exception],
        pool: "ReadPool | None" = None,
        handle: Any = None,
    ) -> None:
        self.driver = driver
        self.dialect = dialect
        self.translate = translate
        self.pool = pool  # None: the connection is the session's own, not to be released here
        self.handle = handle  # what `pool` takes back


class Compiled:
    """One statement compiled for one dialect, run on that dialect's driver connection."""

    def __init__(self, statement: sa.Select[Any], dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.dialect = dialect
        self.sql = compiled.string
        self.order = list(compiled.positiontup or ())
        self.binds = {
            name: bind.type._cached_bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        # Values the statement carries itself (a dialect may add some, e.g. SQLite's OFFSET 0).
        self.fixed = {name: bind.value for name, bind in compiled.binds.items()}
        self.columns = list(statement.selected_columns)
        self.keys = [column.key for column in self.columns]
        self.processors: list[tuple[str, Callable[[Any], Any]]] | None = None
        self.named = False
        self.postgres = dialect.name == "postgresql"

    def arguments(self, values: dict[str, Any]) -> list[Any]:
        arguments = []
        for name in self.order:
            value = values[name] if name in values else self.fixed[name]
            process = self.binds[name]
            arguments.append(value if process is None else process(value))
        return arguments

    async def rows(self, borrowed: Borrowed, values: dict[str, Any]) -> list[Row]:
        arguments = self.arguments(values)
        driver = borrowed.driver
        try:
            if self.postgres:
                if self.processors is None:  # result processors depend on the column type oids
                    prepared = await driver.prepare(self.sql)
                    attributes = prepared.get_attributes()
                    self.processors = self._processors([a.type.oid for a in attributes])
                    # asyncpg's records make dicts themselves, when they name their columns so
                    self.named = [a.name for a in attributes] == self.keys
                raw = await driver.fetch(self.sql, *arguments)
            else:
                raw = await driver.execute_fetchall(self.sql, arguments)
        except Exception as error:
            raise borrowed.translate(error, self.sql, arguments) from error
        if self.processors is None:
            self.processors = self._processors([None] * len(self.columns))
        keys, processors = self.keys, self.processors
        if self.named:
            rows = [dict(row) for row in raw]
        else:
            rows = [dict(zip(keys, row, strict=True)) for row in raw]
        for row in rows:
            for key, process in processors:
                value = row[key]
                if value is not None:
                    row[key] = process(value)
        return rows

    def _processors(self, coltypes: list[Any]) -> list[tuple[str, Callable[[Any], Any]]]:
        """The result processors of the columns that have one, by column key."""
        found: list[tuple[str, Callable[[Any], Any]]] = []
        for column, coltype in zip(self.columns, coltypes, strict=True):
            process = column.type._cached_result_processor(self.dialect, coltype)
            if process is not None and column.key is not None:
                found.append((column.key, process))
        return found


_compiled: WeakKeyDictionary[sa.Dialect, dict[Hashable, Compiled]] = WeakKeyDictionary()


async def fetch(
    session: AsyncSession,
    key: Hashable,
    build: Callable[[], sa.Select[Any]],
    values: dict[str, Any],
) -> list[Row]:
    """The rows of the statement `build()` returns (named `key`, built once) with `values` bound
    to its parameters, as dicts keyed by column."""
    info = session.info
    if not info.get(FAST_READS):
        result = await session.execute(_statement(key, build), values)
        return [dict(row) for row in result.mappings()]
    borrowed = info.get(BORROWED)
    if borrowed is None:
        borrowed = info[BORROWED] = await _borrow(session)
    shapes = _compiled.get(borrowed.dialect)
    if shapes is None:
        shapes = _compiled[borrowed.dialect] = {}
    compiled = shapes.get(key)
    if compiled is None:
        if len(shapes) >= MAX_SHAPES:
            shapes.pop(next(iter(shapes)))
        compiled = shapes[key] = Compiled(_statement(key, build), borrowed.dialect)
    return await compiled.rows(borrowed, values)


async def _borrow(session: Any) -> Borrowed:
    """The connection to read on: the session's own once it holds one (it has executed
    something through SQLAlchemy), else one of the read pool's."""
    if session.in_transaction():
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        dialect = connection.dialect
        return Borrowed(
            raw.driver_connection, dialect, _adapter_translation(raw.dbapi_connection, dialect)
        )
    pool: ReadPool = session.reads
    return await pool.acquire()


async def release(session: Any) -> None:
    """Return to the read pool the connection `session`'s reads borrowed, if they did."""
    borrowed = session.info.pop(BORROWED, None)
    if borrowed is not None and borrowed.pool is not None:
        await borrowed.pool.release(borrowed)


class ReadPool:
    """The connections of the reads of GET and HEAD requests, borrowed from SQLAlchemy's pool;
    on PostgreSQL an asyncpg pool of their own instead (`PostgresReadPool`)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect

    async def acquire(self) -> Borrowed:
        dialect = self.dialect
        try:
            raw = await self.engine.raw_connection()
        except dialect.loaded_dbapi.Error as error:  # as SQLAlchemy raises it from connect()
            dbapi_error = dialect.loaded_dbapi.Error
            raise sa.exc.DBAPIError.instance(None, None, error, dbapi_error) from error
        translate = _adapter_translation(raw.dbapi_connection, dialect)
        return Borrowed(raw.driver_connection, dialect, translate, self, raw)

    async def release(self, borrowed: Borrowed) -> None:
        await greenlet_spawn(borrowed.handle.close)

    def counts(self) -> tuple[int, int] | None:
        """Connections open and in use; None when they are SQLAlchemy's pool's, counted there."""
        return None

    async def close(self) -> None:
        """Nothing of its own to close: disposing of the engine closes its connections."""


class PostgresReadPool(ReadPool):
    """An asyncpg pool, connecting as the engine does (same URL, connect timeout and server
    settings such as statement_timeout) and decoding JSON as SQLAlchemy's asyncpg dialect does.
    Created on first use, so a database that is down at start-up delays nothing."""

    def __init__(
        self, engine: AsyncEngine, connect_args: dict[str, Any], size: int, timeout: float
    ) -> None:
        super().__init__(engine)
        _, options = self.dialect.create_connect_args(engine.url)
        for key in ("prepared_statement_cache_size", "prepared_statement_name_func"):
            options.pop(key, None)
        self.options = {**options, **connect_args}
        self.size = size
        self.timeout = timeout  # seconds to wait for a free connection, as DB_POOL_TIMEOUT
        # Requests take turns for the connections here, first come first served (asyncpg's
        # own queue lets a newcomer overtake a woken waiter, which starved some reads under
        # load); the pool then always has a connection free for the holder of a slot.
        self.slots = asyncio.Semaphore(size)
        self.pool: asyncpg.Pool | None = None
        self._creating = asyncio.Lock()

    async def acquire(self) -> Borrowed:
        slots = self.slots
        try:
            if slots.locked():  # only a wait needs the timer (asyncio's costs a read dearly)
                await asyncio.wait_for(slots.acquire(), self.timeout)
            else:
                await slots.acquire()
        except TimeoutError as error:
            raise _postgres_translation(error, "", []) from error
        try:
            pool = self.pool or await self._create()
            connection = await pool.acquire()
        except BaseException as error:
            slots.release()
            if isinstance(error, Exception):
                raise _postgres_translation(error, "", []) from error
            raise
        return Borrowed(connection, self.dialect, _postgres_translation, self, pool)

    async def release(self, borrowed: Borrowed) -> None:
        try:
            await borrowed.handle.release(borrowed.driver)
        finally:
            self.slots.release()

    def counts(self) -> tuple[int, int] | None:
        if self.pool is None:
            return 0, 0
        return self.pool.get_size(), self.pool.get_size() - self.pool.get_idle_size()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def _create(self) -> "asyncpg.Pool":
        async with self._creating:
            if self.pool is None:
                self.pool = await asyncpg.create_pool(
                    min_size=0,
                    max_size=self.size,
                    connection_class=ReadConnection,
                    init=_json_codecs,
                    **self.options,
                )
        return self.pool


class ReadConnection(asyncpg.Connection):
    def get_reset_query(self) -> str:
        return ""  # reads leave no listeners, cursors or settings behind to reset


async def _json_codecs(connection: asyncpg.Connection) -> None:
    """JSON and JSONB as SQLAlchemy's asyncpg dialect registers them on its own connections:
    bound as the text SQLAlchemy serialised, read back as Python values."""
    await connection.set_type_codec(
        "json",
        encoder=str.encode,
        decoder=lambda value: json.loads(value.decode()),
        schema="pg_catalog",
        format="binary",
    )
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + value.encode(),  # JSONB's binary format version
        decoder=lambda value: json.loads(value[1:].decode()),
        schema="pg_catalog",
        format="binary",
    )


# asyncpg's errors that mean the database cannot be reached or cannot serve now (a 503), as
# opposed to an error in the statement.
_UNAVAILABLE = (
    OSError,  # refused, reset, timed out
    asyncpg.InterfaceError,  # the connection was closed
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # statement timeout, server shutting down
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
)


def _postgres_translation(error: Exception, sql: str, arguments: list[Any]) -> Exception:
    kind = sa.exc.OperationalError if isinstance(error, _UNAVAILABLE) else sa.exc.DatabaseError
    return kind(sql or None, arguments, error)


_statements: dict[Hashable, sa.Select[Any]] = {}


def _statement(key: Hashable, build: Callable[[], sa.Select[Any]]) -> sa.Select[Any]:
    statement = _statements.get(key)
    if statement is None:
        if len(_statements) >= MAX_SHAPES:
            _statements.pop(next(iter(_statements)))
        statement = _statements[key] = build()
    return statement


def _adapter_translation(
    adapted: Any, dialect: sa.Dialect
) -> Callable[[Exception, str, list[Any]], Exception]:
    """How a driver error on a connection of SQLAlchemy's becomes the error SQLAlchemy would
    have raised (OperationalError, …): the dialect's adapter translates it."""
    dbapi = dialect.loaded_dbapi

    def translate(error: Exception, sql: str, arguments: list[Any]) -> Exception:
        if not isinstance(error, dbapi.Error):
            try:
                adapted._handle_exception(error)  # the dialect's own translation, which raises
            except dbapi.Error as translated:
                error = translated
            except Exception:
                return error
        return sa.exc.DBAPIError.instance(sql, arguments, error, dbapi.Error)

    return translate
