"""The read cache of a generated service, for real: two cached processes sharing Redis and an
uncached oracle (the same spec without `cache`) on one PostgreSQL database.

The correctness harness interleaves, from a seeded random generator, writes on either cached
process (creates, replaces, patches, links and unlinks, deletes that cascade or set null) with
reads of records and list pages on both, and compares every read with the oracle's answer
after the write was acknowledged: a difference is a stale read. The outage test routes one
process's Redis through a TCP proxy and cuts it: every read must still answer what the
database holds, and go on doing so once Redis is back.
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from evolve_support import Database, postgres_database
from live_service import Live, serve

from backforge.cli import main
from backforge.verify.tcpproxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

REDIS = ("127.0.0.1", 6379)
SPEC = """\
service: {{name: shelves}}
api:
{cache}  pagination: {{default_limit: 10, max_limit: 50}}
resources:
  Shelf:
    plural: shelves
    fields:
      name: {{type: string, max_length: 40, required: true}}
  Tag:
    fields:
      name: {{type: string, max_length: 40, required: true}}
  Book:
    fields:
      title: {{type: string, max_length: 80, required: true}}
      copies: {{type: int, min: 0}}
      shelf: {{type: ref, to: Shelf, required: true, on_delete: cascade}}
      previous: {{type: ref, to: Shelf, on_delete: set_null}}
      tags: {{type: many, to: Tag}}
    filter: [shelf, copies]
    sort: [title, copies]
"""
WRITES = 220  # random writes in the harness, each followed by reads on both cached processes
BOUND_SECONDS = 60


def generate(tmp_path: Path, name: str, cached: bool) -> Path:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(SPEC.format(cache="  cache: {ttl: 60s}\n" if cached else ""))
    project = tmp_path / name
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    return project


@contextmanager
def services(
    tmp_path: Path, redis_urls: list[str]
) -> Iterator[tuple[list[httpx.Client], httpx.Client]]:
    """A cached process per Redis URL and the uncached oracle, on one new database."""
    cached, oracle = generate(tmp_path, "cached", True), generate(tmp_path, "oracle", False)
    prefix = f"bf-test-{secrets.token_hex(6)}"  # keys of our own in the shared Redis
    with postgres_database(cached) as url, ExitStack() as stack:
        Database(cached, url).must("upgrade", "head")
        base = {
            "DATABASE_URL": url,
            "RATE_LIMIT_ENABLED": "false",
            "ENVIRONMENT": "development",
            "CURSOR_SECRET": "cache-harness-" + "c" * 32,  # one key: the same cursors
        }
        lives: list[Live] = []
        for n, redis_url in enumerate(redis_urls):
            environ = {**base, "REDIS_URL": redis_url, "CACHE_PREFIX": prefix}
            lives.append(
                stack.enter_context(serve(cached, "shelves", environ, tmp_path / f"{n}.log"))
            )
        truth = stack.enter_context(serve(oracle, "shelves", base, tmp_path / "oracle.log"))
        clients = [
            stack.enter_context(httpx.Client(base_url=f"{live.url}/api/v1", timeout=10))
            for live in lives
        ]
        yield clients, stack.enter_context(httpx.Client(base_url=f"{truth.url}/api/v1", timeout=10))


class Harness:
    """Random writes and the reads that check them; counts what happened."""

    def __init__(self, cached: list[httpx.Client], oracle: httpx.Client, seed: int) -> None:
        self.cached, self.oracle = cached, oracle
        self.rng = random.Random(seed)
        self.ids: dict[str, list[int]] = {"shelves": [], "tags": [], "books": []}
        self.figures: Counter[str] = Counter()
        self.stale: list[str] = []

    def writer(self) -> httpx.Client:
        return self.rng.choice(self.cached)

    def some(self, path: str) -> int | None:
        return self.rng.choice(self.ids[path]) if self.ids[path] else None

    def write(self) -> None:
        rng, ids = self.rng, self.ids
        choice = rng.random()
        http = self.writer()
        self.figures["writes"] += 1
        if choice < 0.08 or not ids["shelves"]:
            made = http.post("/shelves", json={"name": f"shelf {rng.randrange(10**6)}"})
            assert made.status_code == 201, made.text
            ids["shelves"].append(made.json()["id"])
        elif choice < 0.14 or not ids["tags"]:
            made = http.post("/tags", json={"name": f"tag {rng.randrange(10**6)}"})
            assert made.status_code == 201, made.text
            ids["tags"].append(made.json()["id"])
        elif choice < 0.40 or not ids["books"]:
            made = http.post("/books", json=self.book())
            assert made.status_code == 201, made.text
            ids["books"].append(made.json()["id"])
        elif choice < 0.55:
            answer = http.put(f"/books/{self.some('books')}", json=self.book())
            assert answer.status_code in (200, 404), answer.text
        elif choice < 0.65:
            copies = rng.randrange(20)
            answer = http.patch(f"/books/{self.some('books')}", json={"copies": copies})
            assert answer.status_code in (200, 404), answer.text
        elif choice < 0.78 and ids["tags"]:
            verb = rng.choice([http.put, http.delete])
            answer = verb(f"/books/{self.some('books')}/tags/{self.some('tags')}")
            assert answer.status_code in (204, 404, 409), answer.text
        elif choice < 0.84:
            self.delete("books")
        elif choice < 0.92:
            self.delete("tags")  # its link rows go: the books that listed it change
        else:
            self.delete("shelves")  # its books go (cascade), others lose `previous`

    def book(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "title": f"book {rng.randrange(10**6)}",
            "copies": rng.randrange(20),
            "shelf": self.some("shelves"),
            "previous": rng.choice([None, self.some("shelves")]),
            "tags": rng.sample(self.ids["tags"], min(len(self.ids["tags"]), rng.randrange(3))),
        }

    def delete(self, path: str) -> None:
        id = self.some(path)
        if id is None:
            return
        answer = self.writer().delete(f"/{path}/{id}")
        assert answer.status_code in (204, 404), answer.text
        self.ids[path].remove(id)
        if path == "shelves":  # the cascade took some books: forget the ones that are gone
            self.ids["books"] = [b for b in self.ids["books"] if self.exists(f"/books/{b}")]

    def exists(self, url: str) -> bool:
        return self.oracle.get(url).status_code == 200

    def reads(self) -> None:
        rng = self.rng
        for _ in range(3):
            kind = rng.random()
            if kind < 0.5 and self.ids["books"]:
                url, params = f"/books/{self.some('books')}", {}
            elif kind < 0.8:
                params = {"limit": rng.choice([5, 10, 50])}
                if self.ids["shelves"] and rng.random() < 0.5:
                    params["shelf"] = self.some("shelves")
                url = "/books"
            else:
                url, params = f"/shelves/{self.some('shelves') or 1}", {}
            self.compare(url, params)

    def compare(self, url: str, params: dict[str, Any]) -> None:
        truth = self.oracle.get(url, params=params)
        for n, http in enumerate(self.cached):
            for _ in range(2):  # a miss, then (mostly) a hit
                answer = http.get(url, params=params)
                self.figures["reads"] += 1
                self.figures[answer.headers.get("x-cache", "uncached")] += 1
                same = answer.status_code == truth.status_code and (
                    answer.status_code != 200 or answer.json() == truth.json()
                )
                if answer.status_code == 200 and url.count("/") == 2:
                    same = same and answer.headers["etag"] == truth.headers["etag"]
                if not same:
                    self.stale.append(f"process {n} {url} {params}: {answer.text} != {truth.text}")
                    self.figures["stale"] += 1


def generation_reads(http: httpx.Client) -> Counter[str]:
    """A process's `cache_generation_reads_total` by source: kept (no round trip) or asked."""
    text = http.get(str(http.base_url.copy_with(path="/metrics"))).text
    found: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("cache_generation_reads_total{"):
            source = line.split('source="', 1)[1].split('"', 1)[0]
            found[source] += int(float(line.rsplit(" ", 1)[1]))
    return found


def test_two_cached_processes_never_serve_a_stale_read(tmp_path: Path) -> None:
    redis = f"redis://{REDIS[0]}:{REDIS[1]}/0"
    with services(tmp_path, [redis, redis]) as (cached, oracle):
        harness = Harness(cached, oracle, seed=15)
        started = time.monotonic()
        for _ in range(WRITES):
            harness.write()
            harness.reads()
        seconds = time.monotonic() - started
        sources = [generation_reads(http) for http in cached]
    figures = harness.figures
    print(
        f"cache harness: {figures['writes']} writes, {figures['reads']} reads "
        f"({figures['hit']} hits, {figures['miss']} misses, {figures['bypass']} bypassed), "
        f"{figures['stale']} stale, in {seconds:.1f} s; generations kept/asked per process: "
        + ", ".join(f"{s['kept']}/{s['asked']}" for s in sources)
    )
    assert harness.stale == [], harness.stale[:5]
    assert figures["hit"] > figures["reads"] // 4 and figures["miss"] > 0
    assert all(s["kept"] > 0 for s in sources)  # reads without a round trip for generations
    assert seconds < BOUND_SECONDS


def test_a_redis_outage_serves_what_the_database_holds(tmp_path: Path) -> None:
    proxy = TcpProxy(REDIS)
    port = proxy.start()
    try:
        with services(tmp_path, [f"redis://127.0.0.1:{port}/0"]) as (cached, oracle):
            harness = Harness(cached, oracle, seed=16)
            for _ in range(30):  # records, and a warm cache
                harness.write()
                harness.reads()
            warm = harness.figures["hit"]
            proxy.cut()
            for _ in range(30):  # writes whose invalidation Redis does not take, and reads
                harness.write()
                harness.reads()
            down = Counter(harness.figures)
            proxy.restore()
            # the cache tries Redis again a second after its last error (a connection the cut
            # broke may fail once more): reads, checked as ever, until one is a hit again
            deadline = time.monotonic() + 20
            while harness.figures["hit"] == down["hit"] and time.monotonic() < deadline:
                harness.reads()
                time.sleep(0.2)
            for _ in range(30):
                harness.write()
                harness.reads()
    finally:
        proxy.close()
    figures = harness.figures
    print(
        f"redis outage: {figures['reads']} reads ({warm} hits before the cut, "
        f"{down['bypass']} bypassed while cut, {figures['hit'] - down['hit']} hits after), "
        f"{figures['writes']} writes, {figures['stale']} stale"
    )
    assert harness.stale == [], harness.stale[:5]
    assert warm > 0 and down["bypass"] > 0 and figures["hit"] > down["hit"]
