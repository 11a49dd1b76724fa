"""Database access: the declarative base, column types, the engine and request sessions."""

from datetime import UTC, datetime
from typing import Annotated, Any, Protocol

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.types import ASGIApp, Receive, Scope, Send

from .reads import FAST_READS, PostgresReadPool, ReadPool, release
from .spec import PACKAGE


class DatabaseSettings(Protocol):
    """The settings the engine and its pools are made from (core/settings.py has them all)."""

    @property
    def database_url(self) -> str: ...

    @property
    def db_pool_size(self) -> int: ...

    @property
    def db_max_overflow(self) -> int: ...

    @property
    def db_read_pool_size(self) -> int: ...

    @property
    def fast_reads(self) -> bool: ...

    @property
    def db_pool_timeout(self) -> float: ...

    @property
    def db_connect_timeout(self) -> float: ...

    @property
    def db_statement_timeout_ms(self) -> int: ...


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit keys in production; SQLite needs INTEGER for its automatic row ids.
IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Databases whose datetimes carry no offset: values are stored as UTC wall-clock time.
NAIVE_DATETIMES = frozenset({"sqlite", "mysql", "mariadb"})
MYSQL = frozenset({"mysql", "mariadb"})


@compiles(sa.DateTime, "mysql")
@compiles(sa.DateTime, "mariadb")
def _mysql_datetime(_type: sa.DateTime, _compiler: Any, **_kw: Any) -> str:
    """Microseconds kept on MySQL / MariaDB, as elsewhere (a plain DATETIME drops them)."""
    return "DATETIME(6)"


@compiles(sa.Time, "mysql")
@compiles(sa.Time, "mariadb")
def _mysql_time(_type: sa.Time, _compiler: Any, **_kw: Any) -> str:
    return "TIME(6)"


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware datetimes stored in UTC on every database (SQLite keeps no offset)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name in NAIVE_DATETIMES else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class ResourceBase(Base):
    """Columns every resource has: id, timestamps and a version for concurrency control."""

    __abstract__ = True

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
    version: Mapped[int] = mapped_column(sa.Integer(), default=1, nullable=False)


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": settings.db_pool_timeout})
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() in MYSQL:
        # MySQL / MariaDB close idle connections (wait_timeout): each checkout is pinged, and
        # READ COMMITTED matches PostgreSQL's default (InnoDB's REPEATABLE READ would not).
        return create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            pool_pre_ping=True,
            pool_recycle=3600,
            isolation_level="READ COMMITTED",
            connect_args=mysql_connect_args(settings),
        )
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_args=postgres_connect_args(settings),
    )
    sa.event.listen(engine.sync_engine, "checkout", _replace_closed)
    return engine


def postgres_connect_args(settings: DatabaseSettings) -> dict[str, Any]:
    """asyncpg's connect arguments: the connect timeout and the session's server settings."""
    server_settings = {}
    if settings.db_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.db_statement_timeout_ms)
    return {"timeout": settings.db_connect_timeout, "server_settings": server_settings}


# Every session: UTC (NOW() and datetimes without an offset), strict values (an out-of-range
# value fails, it is not clipped) and ANSI quotes, so "identifiers" mean the same everywhere.
MYSQL_SESSION = (
    "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,ANSI_QUOTES,NO_ZERO_IN_DATE,"
    "NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'"
)


def mysql_connect_args(settings: DatabaseSettings | None = None) -> dict[str, Any]:
    """asyncmy's connect arguments: utf8mb4, the connect timeout and the session settings."""
    timeout = settings.db_connect_timeout if settings else 10
    return {"charset": "utf8mb4", "connect_timeout": timeout, "init_command": MYSQL_SESSION}


def _replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server or the network has closed is replaced at checkout.

    This catches what pool_pre_ping would (a restarted server, a cut proxy) without its round
    trip on every checkout; a connection that dies while in use still fails that one request
    with a 503, and the pool then replaces every connection older than the failure."""
    if dbapi_connection.driver_connection.is_closed():
        raise sa.exc.DisconnectionError("the connection was closed while in the pool")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class Database:
    """The engine, the session factories and the read pool of one process."""

    def __init__(self, settings: DatabaseSettings, traced: bool = False):
        self.engine = create_engine(settings)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no transaction: at READ COMMITTED every statement sees its own snapshot
        # anyway, and autocommit saves the BEGIN and ROLLBACK round trips of each request.
        self.read_sessions = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        # With FAST_READS the hot reads run on a driver connection of the read pool
        # (core/reads.py), except when traced (tracing sees statements through SQLAlchemy's
        # events) and on MySQL / MariaDB (the read pool is PostgreSQL's and SQLite's).
        self.fast_reads = (
            settings.fast_reads and not traced and self.engine.dialect.name not in MYSQL
        )
        if self.engine.dialect.name == "postgresql":
            self.reads: ReadPool = PostgresReadPool(
                self.engine,
                postgres_connect_args(settings),
                size=settings.db_read_pool_size,
                timeout=settings.db_pool_timeout,
            )
        else:
            self.reads = ReadPool(self.engine)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        await self.reads.close()
        await self.engine.dispose()


class ReadSession:
    """The session of a GET or HEAD request, opened only when something needs one.

    Its hot reads (core/reads.py) run on a connection of the read pool, without a session.
    Anything else (a hook's query, a custom route) opens an AsyncSession in autocommit mode on
    first use; every other attribute of this object is that session's."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.reads = database.reads
        self.info: dict[str, Any] = {FAST_READS: database.fast_reads}
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.database.read_sessions()
        return self._session

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)

    def in_transaction(self) -> bool:
        return self._session is not None and self._session.in_transaction()

    async def close(self) -> None:
        await release(self)
        if self._session is not None:
            await self._session.close()


SAFE_METHODS = frozenset({"GET", "HEAD"})
SESSIONS = f"{PACKAGE}.sessions"  # scope key: the sessions a request has opened


async def get_session(request: Request) -> AsyncSession:
    """One session per request. A GET or HEAD reads in autocommit mode (each statement on its
    own, no transaction); any other method gets one transaction, and what it does not commit is
    rolled back when `SessionScopeMiddleware` closes the session at the end of the request.

    A plain dependency rather than one with `yield`: FastAPI's exit stack for those costs more
    CPU than the rest of a read by id."""
    opened = request.scope.get(SESSIONS)
    if opened is None:
        raise RuntimeError("SessionScopeMiddleware is not installed on this application")
    database: Database = request.app.state.database
    if request.method in SAFE_METHODS:
        session: AsyncSession = ReadSession(database)  # type: ignore[assignment]
    else:
        session = database.sessions()
    opened.append(session)
    return session


async def release_reads(scope: Scope) -> None:
    """Return to the read pool the connections the reads of a request have borrowed (a later
    read borrows again): DirectRoutes call it once their response is rendered, so that sending
    it does not hold a connection."""
    for session in scope.get(SESSIONS, ()):
        await release(session)


class SessionScopeMiddleware:
    """Closes the sessions a request opened once it has been answered or has failed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        opened: list[AsyncSession] = []
        scope[SESSIONS] = opened  # the list is shared even where the scope dict gets copied
        try:
            await self.app(scope, receive, send)
        finally:
            for session in opened:
                await session.close()


SessionDep = Annotated[AsyncSession, Depends(get_session)]
