"""The raw baseline of benchmarks/read_path.py: Starlette + an asyncpg pool + orjson, no framework.

Serves the same two documents as a generated bookstore, from the same SQL statements and round
trips the generated service sends (the row or page, then the linked tag ids of those rows), with
nothing else on the path: no validation, no middleware, no metrics, no logs. And the create of
benchmarks/write_path.py: `POST /api/v1/books` checks the body against the spec's constraints in
plain Python, then one INSERT … RETURNING and one INSERT of the tag links in a transaction;
`PATCH /api/v1/books/{id}` the same with UPDATE … RETURNING and the row's tag ids.
Run by the benchmarks:

    BASELINE_DSN=postgresql://… uvicorn baseline_app:app --app-dir benchmarks
"""

import base64
import decimal
import os
import re
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = "id, created_at, updated_at, version, title, isbn, price, status, published_at, author_id"
GET_BOOK = f"SELECT {COLUMNS} FROM book WHERE id = $1"
LIST_BOOKS = (
    f"SELECT {COLUMNS} FROM book WHERE status = $1 ORDER BY price DESC NULLS LAST, id DESC LIMIT $2"
)
TAGS_OF = (
    "SELECT book_id, tag_id FROM book_tags WHERE book_id = ANY($1::bigint[]) "
    "ORDER BY book_id, tag_id"
)

NEW_BOOK = ("title", "isbn", "price", "status", "published_at", "author_id")
INSERT_BOOK = (
    "INSERT INTO book (title, isbn, price, status, published_at, author_id, created_at, "
    f"updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1) RETURNING {COLUMNS}"
)
UPDATE_BOOK = (
    "UPDATE book SET {sets}updated_at = $2, version = version + 1 WHERE id = $1 "
    f"RETURNING {COLUMNS}"
)
UNLINK_TAGS = "DELETE FROM book_tags WHERE book_id = $1"
LINK_TAGS = "INSERT INTO book_tags (book_id, tag_id) SELECT $1, unnest($2::bigint[])"
ISBN = re.compile(r"97[89][0-9]{10}")
STATUSES = frozenset({"draft", "published", "retired"})
FIELDS = frozenset({"title", "isbn", "price", "status", "published_at", "author", "tags"})
PRICE_MAX = decimal.Decimal("99999999.99")


class Connection(asyncpg.Connection):
    """No reset query on release: the handlers leave no session state behind."""

    def get_reset_query(self) -> str:
        return ""


def default(value: object) -> str:
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError


def json_response(document: object, status: int = 200) -> Response:
    body = orjson.dumps(document, default=default)
    return Response(body, status, media_type="application/json")


async def with_tags(connection: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[dict]:
    items = []
    for row in rows:
        item = dict(row)
        item["author"] = item.pop("author_id")
        item["tags"] = []
        items.append(item)
    by_id = {item["id"]: item for item in items}
    if by_id:
        for book_id, tag_id in await connection.fetch(TAGS_OF, list(by_id)):
            by_id[book_id]["tags"].append(tag_id)
    return items


async def get_book(request) -> Response:
    try:
        book_id = int(request.path_params["id"])
    except ValueError:
        return json_response({"title": "Unprocessable"}, 422)
    async with request.app.state.pool.acquire() as connection:
        row = await connection.fetchrow(GET_BOOK, book_id)
        if row is None:
            return json_response({"title": "Not Found"}, 404)
        (item,) = await with_tags(connection, [row])
    response = json_response(item)
    response.headers["etag"] = f'"{item["version"]}"'
    return response


async def list_books(request) -> Response:
    status = request.query_params.get("status", "published")
    limit = min(int(request.query_params.get("limit", "20")), 100)
    async with request.app.state.pool.acquire() as connection:
        rows = await connection.fetch(LIST_BOOKS, status, limit + 1)
        items = await with_tags(connection, rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        raw = orjson.dumps(["-price", str(last["price"]), last["id"]])
        next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return json_response({"items": items, "next_cursor": next_cursor, "limit": limit})


def positive_id(value: object) -> bool:
    return type(value) is int and 0 < value <= 2**53 - 1


def as_price(value: object) -> decimal.Decimal | None:
    if value is None:
        return None
    price = decimal.Decimal(str(value))
    if not 0 <= price <= PRICE_MAX or price != round(price, 2):
        raise ValueError(value)
    return price


def as_datetime(value: object) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)  # type: ignore[arg-type]
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment


def checked(test: object) -> object:
    """A converter from a test: the value itself when it passes, else ValueError."""

    def convert(value: object) -> object:
        if not test(value):  # type: ignore[operator]
            raise ValueError(value)
        return value

    return convert


def is_title(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200 and "\x00" not in value


def is_tags(value: object) -> bool:
    return isinstance(value, list) and len(value) <= 100 and all(map(positive_id, value))


CONVERT = {  # body field → (column, value for the database or ValueError)
    "title": ("title", checked(is_title)),
    "isbn": ("isbn", checked(lambda v: v is None or (isinstance(v, str) and ISBN.fullmatch(v)))),
    "price": ("price", as_price),
    "status": ("status", checked(lambda v: v in STATUSES)),
    "published_at": ("published_at", as_datetime),
    "author": ("author_id", checked(positive_id)),
    "tags": ("tags", checked(is_tags)),
}


def columns_of(body: object, required: tuple[str, ...] = ()) -> dict[str, object] | None:
    """Column → value from a body that keeps the spec's constraints, else None."""
    if not isinstance(body, dict) or not FIELDS.issuperset(body):
        return None
    if not all(name in body for name in required):
        return None
    try:
        values = {CONVERT[k][0]: CONVERT[k][1](v) for k, v in body.items()}  # type: ignore[operator]
    except (decimal.InvalidOperation, TypeError, ValueError):
        return None
    if "tags" in values:
        values["tags"] = sorted(set(values["tags"]))  # type: ignore[call-overload]
    return values


async def read_body(request) -> object:
    try:
        return orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None


def written(item: dict, status: int) -> Response:
    item["author"] = item.pop("author_id")
    response = json_response(item, status)
    response.headers["etag"] = f'"{item["version"]}"'
    return response


async def create_book(request) -> Response:
    values = columns_of(await read_body(request), ("title", "author"))
    if values is None:
        return json_response({"title": "Unprocessable"}, 422)
    tags = values.pop("tags", [])
    values.setdefault("status", "draft")
    columns = [values.get(c) for c in NEW_BOOK]
    try:
        async with request.app.state.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(INSERT_BOOK, *columns, datetime.now(UTC))
            if tags:
                await connection.execute(LINK_TAGS, row["id"], tags)
    except asyncpg.UniqueViolationError:
        return json_response({"title": "Conflict"}, 409)
    except asyncpg.ForeignKeyViolationError:
        return json_response({"title": "Unprocessable"}, 422)
    response = written({**row, "tags": tags}, 201)
    response.headers["location"] = f"/api/v1/books/{row['id']}"
    return response


async def update_book(request) -> Response:
    try:
        book_id = int(request.path_params["id"])
    except ValueError:
        return json_response({"title": "Unprocessable"}, 422)
    values = columns_of(await read_body(request))
    if values is None:
        return json_response({"title": "Unprocessable"}, 422)
    tags = values.pop("tags", None)
    sets = ", ".join(f"{column} = ${n}" for n, column in enumerate(values, start=3))
    statement = UPDATE_BOOK.format(sets=sets + ", " if sets else "")
    try:
        async with request.app.state.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow(statement, book_id, datetime.now(UTC), *values.values())
            if row is None:
                return json_response({"title": "Not Found"}, 404)
            if tags is not None:
                await connection.execute(UNLINK_TAGS, book_id)
                await connection.execute(LINK_TAGS, book_id, tags)
            (item,) = await with_tags(connection, [row])
    except asyncpg.UniqueViolationError:
        return json_response({"title": "Conflict"}, 409)
    except asyncpg.ForeignKeyViolationError:
        return json_response({"title": "Unprocessable"}, 422)
    response = json_response(item)
    response.headers["etag"] = f'"{item["version"]}"'
    return response


@asynccontextmanager
async def lifespan(app: Starlette):
    app.state.pool = await asyncpg.create_pool(
        os.environ["BASELINE_DSN"], min_size=5, max_size=15, connection_class=Connection
    )
    try:
        yield
    finally:
        await app.state.pool.close()


app = Starlette(
    routes=[
        Route("/api/v1/books", list_books),
        Route("/api/v1/books", create_book, methods=["POST"]),
        Route("/api/v1/books/{id}", get_book),
        Route("/api/v1/books/{id}", update_book, methods=["PATCH"]),
    ],
    lifespan=lifespan,
)
