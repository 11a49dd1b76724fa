"""The raw baseline of benchmarks/read_path.py on MySQL / MariaDB: baseline_app.py's twin over an
asyncmy pool (Starlette + orjson, no framework).

The same two documents from the same SQL statements and round trips the generated service sends
there (the row or page, then the linked tag ids of those rows; nulls sort last by `price IS
NULL`, as MySQL has no NULLS LAST), with nothing else on the path. Datetimes come back naive, in
UTC, as stored; orjson writes them with their +00:00. Run by the benchmark:

    BASELINE_DSN=mysql://… uvicorn baseline_app_mysql:app --app-dir benchmarks
"""

import base64
import decimal
import os
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

import asyncmy
import orjson
from asyncmy.cursors import DictCursor
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = "id, created_at, updated_at, version, title, isbn, price, status, published_at, author_id"
GET_BOOK = f"SELECT {COLUMNS} FROM book WHERE id = %s"
LIST_BOOKS = (
    f"SELECT {COLUMNS} FROM book WHERE status = %s "
    "ORDER BY price IS NULL, price DESC, id DESC LIMIT %s"
)
TAGS_OF = "SELECT book_id, tag_id FROM book_tags WHERE book_id IN ({}) ORDER BY book_id, tag_id"


def default(value: object) -> str:
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError


def json_response(document: object, status: int = 200) -> Response:
    body = orjson.dumps(document, default=default, option=orjson.OPT_NAIVE_UTC)
    return Response(body, status, media_type="application/json")


async def with_tags(connection: asyncmy.Connection, rows: list[dict]) -> list[dict]:
    items = []
    for item in rows:
        item["author"] = item.pop("author_id")
        item["tags"] = []
        items.append(item)
    by_id = {item["id"]: item for item in items}
    if by_id:
        async with connection.cursor() as cursor:
            await cursor.execute(TAGS_OF.format(", ".join(["%s"] * len(by_id))), list(by_id))
            for book_id, tag_id in await cursor.fetchall():
                by_id[book_id]["tags"].append(tag_id)
    return items


async def get_book(request) -> Response:
    try:
        book_id = int(request.path_params["id"])
    except ValueError:
        return json_response({"title": "Unprocessable"}, 422)
    async with request.app.state.pool.acquire() as connection:
        async with connection.cursor(DictCursor) as cursor:
            await cursor.execute(GET_BOOK, (book_id,))
            row = await cursor.fetchone()
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
        async with connection.cursor(DictCursor) as cursor:
            await cursor.execute(LIST_BOOKS, (status, limit + 1))
            rows = await cursor.fetchall()
        items = await with_tags(connection, rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        raw = orjson.dumps(["-price", str(last["price"]), last["id"]])
        next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return json_response({"items": items, "next_cursor": next_cursor, "limit": limit})


@asynccontextmanager
async def lifespan(app: Starlette):
    url = urlsplit(os.environ["BASELINE_DSN"])
    app.state.pool = await asyncmy.create_pool(
        minsize=5,
        maxsize=15,
        host=url.hostname or "127.0.0.1",
        port=url.port or 3306,
        user=unquote(url.username or "root"),
        password=unquote(url.password or ""),
        database=url.path.lstrip("/"),
        charset="utf8mb4",
        autocommit=True,  # reads only: no transaction to begin or end
    )
    try:
        yield
    finally:
        app.state.pool.close()
        await app.state.pool.wait_closed()


app = Starlette(
    routes=[Route("/api/v1/books", list_books), Route("/api/v1/books/{id}", get_book)],
    lifespan=lifespan,
)
