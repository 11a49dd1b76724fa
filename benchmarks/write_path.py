"""Speed of a generated service's write path on PostgreSQL, against a raw INSERT / UPDATE handler.

The frame of benchmarks/read_path.py (its options, scratch database, seed and sides; see its
docstring), with two writes loaded in alternating rounds instead of the reads:

- create: `POST /api/v1/books`, a valid body each request (title, a unique ISBN made of the
  wrk run's number, the wrk thread's and a counter, a price, a status, a date, one of the 50
  authors and two of the 10 tags);
- update: `PATCH /api/v1/books/{id}` of a random seeded book (a new title and price; no
  If-Match).

Against the raw baseline (benchmarks/baseline_app.py: the body checked against the spec's
constraints in plain Python, INSERT … RETURNING or UPDATE … RETURNING and the tag links, in a
transaction, orjson) and, with --orm, the create and update as FastAPI + SQLAlchemy ORM
tutorials write them (benchmarks/orm_app.py). Prints req/s and p50/p95/p99 per round, the
medians and the ratios. A benchmark, not a test; wrk must be installed. PostgreSQL only (the
baseline's writes are asyncpg's).

    python benchmarks/write_path.py [PROJECT] [--rounds 3] [--duration 10] [--connections 64]
        [--orm] [--cached] [--granian] [--json OUT]
"""

from __future__ import annotations

import itertools
import sys

from read_path import WRK_DONE, Bench, Load, read_sides, run

WRITE_REQUEST = """
local method, template, run, books, clients = "%s", "%s", %d, %d, %d
local counter, made = 0, 0
setup = function(thread)
  thread:set("id", made)
  made = made + 1
end
init = function(args)
  math.randomseed(os.time() * 10 + id)
end
request = function()
  counter = counter + 1
  local c = math.random(0, clients - 1)
  local client = string.format("10.%%d.%%d.%%d", math.floor(c / 65536) %% 256,
                               math.floor(c / 256) %% 256, c %% 256)
  local tag = math.random(1, 10)
  local body = string.format(
    '{"title":"Bench book %%d-%%d-%%d","isbn":"978%%02d%%d%%07d","price":"%%d.99",' ..
    '"status":"published","published_at":"2026-01-01T00:00:00Z","author":%%d,' ..
    '"tags":[%%d,%%d]}',
    run, id, counter, run %% 100, id %% 10, counter %% 10000000, math.random(0, 500),
    math.random(1, 50), tag, tag %% 10 + 1)
  if method == "PATCH" then
    body = string.format('{"title":"Renamed %%d-%%d-%%d","price":"%%d.49"}',
                         run, id, counter, math.random(0, 500))
  end
  local path = template:gsub("{id}", tostring(math.random(1, books)))
  return wrk.format(method, path, {["X-Forwarded-For"] = client,
                                   ["Content-Type"] = "application/json"}, body)
end
"""

WRITES = {"create": ("POST", "/api/v1/books"), "update": ("PATCH", "/api/v1/books/{id}")}


def write_loads(bench: Bench) -> Load:
    """A Lua script per write; every wrk run gets a number of its own (unique ISBNs)."""
    if bench.server.driver != "asyncpg":
        raise SystemExit("write_path.py: PostgreSQL only (the baseline's writes are asyncpg's)")
    runs = itertools.count(1)
    args = bench.args
    return {
        name: lambda _url, m=method, t=template: (
            WRITE_REQUEST % (m, t, next(runs), args.books, args.clients) + WRK_DONE
        )
        for name, (method, template) in WRITES.items()
    }


def main() -> int:
    return run(__doc__.split("\n\n")[0], read_sides, write_loads)


if __name__ == "__main__":
    sys.exit(main())
