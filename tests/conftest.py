"""Shared fixtures: example specs and a small inline-spec writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from backforge.generate import generate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# golden: generated projects (test_golden.py), their own tests included; runtime: the runtime's
# unit tests, which run in the generated-project environment (test_runtime.py)
collect_ignore = ["golden", "runtime"]


@pytest.fixture(scope="session")
def bookstore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/bookstore.yaml generated once for every test that only reads the project."""
    return generate(
        EXAMPLES / "bookstore.yaml", tmp_path_factory.mktemp("g") / "bookstore"
    ).directory


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str], Path]:
    """Write an inline YAML spec (dedented) into a temporary file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


# Rough seconds per end-to-end test (from `scripts/test.sh --durations`), to order them only:
# the longest start first, spread over the workers, so no long run is left for the end.
E2E_SECONDS = {
    "test_specfuzz_e2e.py::test_fuzzed_specs_migrate_and_pass_their_suites_on_postgresql": 170,
    "test_specfuzz_e2e.py::test_fuzzed_specs_pass_their_own_suites_on_sqlite": 100,
    "test_evolve_e2e.py": 60,
    "test_owned_through_e2e.py": 50,
    "test_e2e_new.py": 45,
    "test_dependency_order_e2e.py": 40,
    "test_e2e_mysql.py": 40,
    "test_e2e_any_spec.py": 90,
    "test_import_openapi_e2e.py": 15,
    "test_import_database_e2e.py": 35,
    "test_import_database_sqlite_e2e.py": 30,
    "test_conformance_e2e.py": 40,
    "test_evolve_accounts_renames_e2e.py": 20,
    "test_marks_e2e.py": 150,
    "test_together_e2e.py": 160,
    "test_actions_e2e.py": 120,
    "test_consumers_e2e.py": 90,
    "test_cache_e2e.py": 60,
    "test_events_e2e.py": 50,
    "test_webhooks_e2e.py": 40,
    "test_feed_e2e.py": 30,
}
OTHER_E2E_SECONDS = 10


def expected_seconds(item: pytest.Item) -> float:
    if item.get_closest_marker("e2e") is None:
        return 0.0
    module, _, name = item.nodeid.rpartition("/")[2].partition("::")
    base = name.partition("[")[0]
    seconds = E2E_SECONDS.get(f"{module}::{base}", E2E_SECONDS.get(module, OTHER_E2E_SECONDS))
    # the fuzzer's later chunks hold larger specs ("[15-19]": 15)
    chunk = name.partition("[")[2].partition("-")[0]
    return seconds + (int(chunk) if chunk.isdigit() else 0)


def worker_count(config: pytest.Config) -> int:
    workerinput = getattr(config, "workerinput", None)
    return int(workerinput["workercount"]) if workerinput else 1


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """End-to-end tests first, longest first, dealt out over the pytest-xdist workers: the
    worksteal scheduler hands each worker an equal contiguous share of this list, so each share
    starts with its part of the long runs (the one that finishes early steals from the other)."""
    cost = {item.nodeid: expected_seconds(item) for item in items}
    ranked = sorted(items, key=lambda item: -cost[item.nodeid])
    workers = worker_count(config)
    sizes, left = [], len(items)
    for index in range(workers):  # the shares as worksteal cuts them
        sizes.append(left // (workers - index))
        left -= sizes[-1]
    shares: list[list[pytest.Item]] = [[] for _ in range(workers)]
    totals = [0.0] * workers
    for item in (i for i in ranked if cost[i.nodeid] > 0):
        open_shares = [n for n in range(workers) if len(shares[n]) < sizes[n]]
        share = min(open_shares, key=lambda n: (totals[n], n))
        shares[share].append(item)
        totals[share] += cost[item.nodeid]
    rest = iter(i for i in ranked if cost[i.nodeid] == 0)
    for share, size in zip(shares, sizes, strict=True):
        share += [next(rest) for _ in range(size - len(share))]
    items[:] = [item for share in shares for item in share]
