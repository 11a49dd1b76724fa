"""A tiny hand-written project that follows docs/project-contract.md, for the verify tests.

One resource (notes) with list/create/read/delete under /api/v1, problem+json errors, one Alembic
migration and a small test suite. `write_project(root)` writes it; the tests then break one thing at
a time to see each check fail for the right reason.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

REQUIREMENTS = """\
fastapi==0.163.2
pydantic==2.14.3
pydantic-settings==2.16.3
sqlalchemy[asyncio]==2.1.9
alembic==1.20.1
aiosqlite==0.22.1
asyncpg==0.32.0
uvicorn==0.54.0
email-validator==2.4.0
"""

REQUIREMENTS_DEV = """\
-r requirements.txt
httpx==0.28.1
pytest==9.2.0
coverage==7.17.3
ruff==0.17.5
schemathesis==4.32.5
"""

PYPROJECT = """\
[project]
name = "notes"
version = "0.1.0"
requires-python = ">=3.11"

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "--strict-markers"
filterwarnings = ["error"]

[tool.coverage.run]
branch = true
source = ["notes"]
"""

INIT = '"""The notes service."""\n'

DB = '''\
"""Database engine and sessions; the URL comes from DATABASE_URL."""

import os
from collections.abc import AsyncIterator

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


def database_url() -> str:
    return os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///./notes.db")


def make_sessions(url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(create_async_engine(url), expire_on_commit=False)


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as db:
        yield db
'''

MODELS = '''\
"""The tables."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from notes.db import Base


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    done: Mapped[bool] = mapped_column(default=False)
'''

PROBLEMS = '''\
"""Every error as an RFC 9457 problem document."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


def problem_body(status: int, detail: str | None = None) -> dict[str, Any]:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail)
    return body.model_dump(exclude_none=True)


def problem(status: int, detail: str | None = None, headers: dict[str, str] | None = None):
    body = problem_body(status, detail)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return problem(exc.status_code, str(exc.detail), headers)


async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem(422, "; ".join(str(error["msg"]) for error in exc.errors()))


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses
    }
'''

API = '''\
"""The notes API and the health probes."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from notes.db import session
from notes.models import Note
from notes.problems import documented, problem

Db = Annotated[AsyncSession, Depends(session)]
NoteId = Annotated[int, Path(ge=1, le=2147483647)]
Title = Annotated[str, Field(min_length=1, max_length=200, pattern="^[^\\\\x00]*$")]

router = APIRouter(prefix="/api/v1")
probes = APIRouter()


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    title: Title
    done: bool = False


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    title: str
    done: bool


class NotePage(BaseModel):
    items: list[NoteOut]
    limit: int
    offset: int


@router.get("/notes", operation_id="list_notes", summary="List notes", responses=documented(422))
async def list_notes(
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1000000)] = 0,
) -> NotePage:
    rows = await db.scalars(select(Note).order_by(Note.id).limit(limit).offset(offset))
    items = [NoteOut.model_validate(row) for row in rows]
    return NotePage(items=items, limit=limit, offset=offset)


@router.post(
    "/notes",
    operation_id="create_note",
    summary="Create a note",
    status_code=201,
    responses=documented(400, 422),
)
async def create_note(db: Db, body: NoteIn) -> NoteOut:
    note = Note(title=body.title, done=body.done)
    db.add(note)
    await db.commit()
    return NoteOut.model_validate(note)


@router.get(
    "/notes/{note_id}",
    operation_id="get_note",
    summary="Read a note",
    responses=documented(404, 422),
)
async def get_note(db: Db, note_id: NoteId) -> NoteOut:
    note = await db.get(Note, note_id)
    if note is None:
        raise HTTPException(404, f"no note {note_id}")
    return NoteOut.model_validate(note)


@router.delete(
    "/notes/{note_id}",
    operation_id="delete_note",
    summary="Delete a note",
    status_code=204,
    responses=documented(404, 422),
)
async def delete_note(db: Db, note_id: NoteId) -> Response:
    note = await db.get(Note, note_id)
    if note is None:
        raise HTTPException(404, f"no note {note_id}")
    await db.delete(note)
    await db.commit()
    return Response(status_code=204)


@probes.get("/healthz", operation_id="healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@probes.get("/readyz", operation_id="readyz", summary="Readiness", responses=documented(503))
async def readyz(db: Db) -> dict[str, str]:
    try:
        await db.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means not ready
        return problem(503, "the database does not answer")  # type: ignore[return-value]
    return {"status": "ready"}
'''

MAIN = '''\
"""The application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from notes import problems
from notes.api import probes, router
from notes.db import database_url, make_sessions


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for operations in doc["paths"].values():
            for operation in operations.values():
                for status, response in operation["responses"].items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[problems.PROBLEM_JSON] = content.pop("application/json")
        app.openapi_schema = doc
    return app.openapi_schema


def create_app(url: str | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.sessions.kw["bind"].dispose()

    app = FastAPI(title="notes", version="0.1.0", lifespan=lifespan)
    app.state.sessions = make_sessions(url or database_url())
    problems.install(app)
    app.include_router(probes)
    app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


app = create_app()
'''

ALEMBIC_INI = """\
[alembic]
script_location = migrations

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)s %(name)s %(message)s
"""

MIGRATIONS_ENV = '''\
"""Alembic environment: async engine on DATABASE_URL."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from notes import models  # noqa: F401 - registers the tables
from notes.db import Base, database_url

target_metadata = Base.metadata


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def main() -> None:
    engine = create_async_engine(database_url())
    async with engine.connect() as connection:
        await connection.run_sync(run)
    await engine.dispose()


asyncio.run(main())
'''

MAKO = '''\
"""${message}"""

from alembic import op
import sqlalchemy as sa

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
'''

MIGRATION = '''\
"""create notes"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("notes")
'''

CONFTEST = '''\
import asyncio
import os

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from notes import models  # noqa: F401
from notes.db import Base, database_url
from notes.main import create_app


async def _reset(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    await engine.dispose()


class Client:
    """A synchronous face on httpx's ASGI transport, one event loop for the session."""

    def __init__(self, loop: asyncio.AbstractEventLoop, app) -> None:
        self.loop = loop
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(url, **kwargs))

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url, **kwargs))

    def delete(self, url: str, **kwargs) -> httpx.Response:
        return self.loop.run_until_complete(self.http.delete(url, **kwargs))


@pytest.fixture(scope="session")
def client():
    url = os.environ.get("DATABASE_URL") or database_url()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_reset(url))
    app = create_app(url)
    client = Client(loop, app)
    yield client
    loop.run_until_complete(client.http.aclose())
    loop.run_until_complete(app.state.sessions.kw["bind"].dispose())
    loop.close()
'''

TEST_NOTES = """\
def test_create_read_list_delete(client):
    created = client.post("/api/v1/notes", json={"title": "milk"})
    assert created.status_code == 201
    note = created.json()
    assert client.get(f"/api/v1/notes/{note['id']}").json() == note
    assert note in client.get("/api/v1/notes").json()["items"]
    assert client.delete(f"/api/v1/notes/{note['id']}").status_code == 204
    missing = client.get(f"/api/v1/notes/{note['id']}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.delete(f"/api/v1/notes/{note['id']}").status_code == 404


def test_rejects_invalid(client):
    assert client.post("/api/v1/notes", json={"title": ""}).status_code == 422
    assert client.post("/api/v1/notes", json={"title": "a", "x": 1}).status_code == 422
    assert client.get("/api/v1/notes?limit=0").status_code == 422


def test_probes(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_openapi_errors_are_problems(client):
    doc = client.get("/openapi.json").json()
    responses = doc["paths"]["/api/v1/notes/{note_id}"]["get"]["responses"]
    assert "application/problem+json" in responses["404"]["content"]
"""

TEST_UNIT = """\
from notes.problems import problem_body


def test_problem_body():
    assert problem_body(404, "gone") == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "gone",
    }
"""

README = "# notes\n\nA tiny service used by backforge's verify tests.\n"

FILES: dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "requirements.txt": REQUIREMENTS,
    "requirements-dev.txt": REQUIREMENTS_DEV,
    "README.md": README,
    "notes/__init__.py": INIT,
    "notes/db.py": DB,
    "notes/models.py": MODELS,
    "notes/problems.py": PROBLEMS,
    "notes/api.py": API,
    "notes/main.py": MAIN,
    "alembic.ini": ALEMBIC_INI,
    "migrations/env.py": MIGRATIONS_ENV,
    "migrations/script.py.mako": MAKO,
    "migrations/versions/0001_create_notes.py": MIGRATION,
    "tests/__init__.py": "",
    "tests/conftest.py": CONFTEST,
    "tests/test_notes.py": TEST_NOTES,
    "tests/test_unit_problems.py": TEST_UNIT,
}


def write_project(root: Path, openapi: dict[str, object] | None = None) -> Path:
    """Write the project into `root` (created) and return it; openapi.json when given."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if openapi is not None:
        (root / "openapi.json").write_text(json.dumps(openapi, indent=2) + "\n", encoding="utf-8")
    write_manifest(root)
    return root


def write_manifest(root: Path) -> None:
    files = {
        name: hashlib.sha256((root / name).read_bytes()).hexdigest()
        for name in sorted([*FILES, "openapi.json"])
        if (root / name).is_file()
    }
    manifest = {
        "generator": {"name": "backforge", "version": "0.1.0"},
        "service": {"name": "notes", "version": "0.1.0"},
        "package": "notes",
        "base_path": "/api/v1",
        "spec_sha256": hashlib.sha256(b"hand-written").hexdigest(),
        "middleware": ["problem-details"],
        "settings": [{"name": "DATABASE_URL", "default": "sqlite+aiosqlite:///./notes.db"}],
        "files": files,
    }
    path = root / ".backforge" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def write_openapi(root: Path, python: Path) -> None:
    """Write openapi.json as the app serves it, using the project environment's `python`."""
    code = "import json; from notes.main import app; print(json.dumps(app.openapi(), indent=2))"
    done = subprocess.run(
        [str(python), "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    (root / "openapi.json").write_text(done.stdout, encoding="utf-8")
    write_manifest(root)


def edit(root: Path, name: str, old: str, new: str) -> None:
    """Replace the first `old` in the project file `name` (which must contain it) by `new`."""
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
