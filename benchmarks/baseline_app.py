"""The raw baseline of benchmarks/read_path.py: Starlette + an asyncpg pool + orjson, no framework.

Serves the same two documents as a generated bookstore, from the same SQL statements and round
trips the generated service sends (the row or page, then the linked tag ids of those rows), with
nothing else on the path: no validation, no middleware, no metrics, no logs. Run by the benchmark:

    BASELINE_DSN=postgresql://… uvicorn baseline_app:app --app-dir benchmarks
"""

import base64
import decimal
import os
from contextlib import asynccontextmanager

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
    routes=[Route("/api/v1/books", list_books), Route("/api/v1/books/{id}", get_book)],
    lifespan=lifespan,
)
