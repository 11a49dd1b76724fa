"""The read path of a generated service on PostgreSQL, over HTTP, as production runs it.

GET by id and list read on the service's own asyncpg pool, outside SQLAlchemy: every kind of
value (JSON, decimal, dates and times, enums, references, many-to-many links) must come back
as it was stored, reads must take turns for a pool much smaller than the requests in flight
without failing, and the pool must show in /metrics with nothing left in use.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from evolve_support import Database, postgres_database
from live_service import serve

from backforge.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

SPEC = """\
service: {name: catalog}
resources:
  Label:
    fields:
      name: {type: string, max_length: 40, required: true, unique: true}
  Item:
    fields:
      title: {type: string, max_length: 80, required: true}
      price: {type: decimal, precision: 10, scale: 2, min: 0}
      stock: {type: int, min: 0}
      released_on: date
      restocked_at: datetime
      state: {type: enum, values: [draft, live]}
      details: json
      labels: {type: many, to: Label}
    filter: [state]
    sort: [price, title]
"""
IN_FLIGHT = 40  # requests at once, against DB_READ_POOL_SIZE=2


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found.group(1))


def test_reads_on_the_read_pool_return_what_was_stored(tmp_path: Path) -> None:
    spec = tmp_path / "catalog.yaml"
    spec.write_text(SPEC)
    project = tmp_path / "catalog"
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    environ = {"DB_READ_POOL_SIZE": "2", "RATE_LIMIT_ENABLED": "false"}
    with postgres_database(project) as url:
        Database(project, url).must("upgrade", "head")
        environ["DATABASE_URL"] = url
        with serve(project, "catalog", environ, tmp_path / "serve.log") as live:
            api = f"{live.url}/api/v1"
            labels = [
                httpx.post(f"{api}/labels", json={"name": name}, timeout=10).json()["id"]
                for name in ("new", "sale")
            ]
            created = []
            for n in range(5):
                body = {
                    "title": f"Item {n}",
                    "price": f"{n}.25",  # distinct prices: the page's order is exact
                    "stock": n,
                    "released_on": "2026-01-0" + str(n + 1),
                    "restocked_at": f"2026-03-04T05:06:0{n}.123456Z",
                    "state": "live" if n % 2 else "draft",
                    "details": {"size": [n, n + 1], "note": "ünïcode", "nested": {"ok": True}},
                    "labels": labels[: n % 3],
                }
                response = httpx.post(f"{api}/items", json=body, timeout=10)
                assert response.status_code == 201, response.text
                created.append(response.json())

            for item in created:
                read = httpx.get(f"{api}/items/{item['id']}", timeout=10)
                assert read.status_code == 200
                assert read.json() == item
                assert read.headers["etag"] == f'"{item["version"]}"'
            page = httpx.get(f"{api}/items", params={"state": "live", "sort": "-price"}).json()
            live_items = sorted(
                (i for i in created if i["state"] == "live"), key=lambda i: -float(i["price"])
            )
            assert page["items"] == live_items

            first = created[0]["id"]
            with ThreadPoolExecutor(IN_FLIGHT) as pool:
                answers = list(
                    pool.map(
                        lambda n: httpx.get(f"{api}/items/{first + n % 5}", timeout=30),
                        range(IN_FLIGHT * 3),
                    )
                )
            assert [a.status_code for a in answers] == [200] * (IN_FLIGHT * 3)

            scraped = httpx.get(f"{live.url}/metrics", timeout=10).text
            assert 1 <= metric(scraped, "db_read_pool_size") <= 2
            assert metric(scraped, "db_read_pool_in_use") == 0
