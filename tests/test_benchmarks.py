"""The benchmark scripts parse their options and build their loads (no load, no server here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import read_path  # noqa: E402
import write_path  # noqa: E402


def test_read_path_parses_its_sides() -> None:
    args = read_path.parse_args("x", ["--orm", "--cached", "--granian", "--redis", "redis://h/3"])
    assert (args.orm, args.cached, args.granian, args.redis) == (True, True, True, "redis://h/3")
    assert args.connections == 64 and args.spec == read_path.BOOKSTORE


def test_the_cached_spec_caches_every_resource(tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("service: {name: s}\napi:\n  base_path: /api\nresources: {}\n")
    assert "api:\n  cache: {ttl: 60s}\n  base_path: /api\n" in (
        read_path.cached_spec(spec, tmp_path).read_text()
    )
    spec.write_text("service: {name: s}\nresources: {}\n")
    assert read_path.cached_spec(spec, tmp_path).read_text().endswith("api:\n  cache: {ttl: 60s}\n")


def bench() -> read_path.Bench:
    args = read_path.parse_args("x", [])
    return read_path.Bench(
        args,
        read_path.SERVERS["postgresql"],
        Path(),
        read_path.Cleanup(),
        Path(),
        "p",
        None,  # type: ignore[arg-type]
    )


def test_read_loads_end_with_the_result_line() -> None:
    loads = read_path.read_loads(argparse.Namespace(books=500, clients=20000))
    assert set(loads) == set(read_path.ENDPOINTS)
    script = loads["get_by_id"]("http://x")
    assert '"/api/v1/books/{id}", 500, 20000' in script and "RESULT" in script


def test_every_write_load_has_a_run_number_of_its_own() -> None:
    loads = write_path.write_loads(bench())
    first, second = loads["create"]("u"), loads["create"]("u")
    assert '"POST", "/api/v1/books", 1,' in first and '"POST", "/api/v1/books", 2,' in second
    assert '"PATCH", "/api/v1/books/{id}", 3,' in loads["update"]("u")
    assert "978%02d%d%07d" in first  # 13 digits: the ISBN pattern of the bookstore


def test_the_baseline_checks_bodies_as_the_spec_says() -> None:
    import baseline_app

    good = {"title": "T", "isbn": "9781234567890", "price": "1.99", "author": 3, "tags": [2, 1]}
    columns = baseline_app.columns_of(good, ("title", "author"))
    assert columns is not None and columns["author_id"] == 3 and columns["tags"] == [1, 2]
    for bad in ({**good, "isbn": "123"}, {**good, "price": "-1"}, {**good, "extra": 1}):
        assert baseline_app.columns_of(bad) is None
    assert baseline_app.columns_of({"price": "2.50"}) is not None  # PATCH: any subset
