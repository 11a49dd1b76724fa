"""The spec fuzzer end to end: fuzzed valid specs become projects whose own suites pass.

Each drawn spec (fixed seed) is generated and its project's own test suite is run in the shared
pinned environment (the one `backforge verify` builds or reuses), without coverage: two projects
at a time, or one per pytest-xdist worker (SPECFUZZ_WORKERS). On PostgreSQL, each project's
migrations also go up, down, up and pass `alembic check`
(verify's own migrations check) before the suite runs against a scratch database.

How many specs: SPECFUZZ_SQLITE (default 25) and SPECFUZZ_POSTGRES (default 5), in tests of
SPECFUZZ_CHUNK specs each (default 5, so that pytest-xdist workers share them); the seed is
SPECFUZZ_SEED. The slow run of the docs is `SPECFUZZ_SQLITE=200 SPECFUZZ_POSTGRES=40`. A failure
lists each failing spec and keeps its YAML under SPECFUZZ_KEEP (default a temporary directory):
shrink it, save it under tests/specs/fuzz/, and fix the generator; test_regressions runs them.
Every failure fails the test: a generated test must hold for any valid spec.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from specfuzz import to_yaml, valid_specs

from backforge.verify import migrations
from backforge.verify.context import VerifyContext
from backforge.verify.environment import ProjectEnv, ensure_env
from backforge.verify.project import load_project
from backforge.verify.scratchdb import scratch_database

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
REGRESSIONS = sorted((ROOT / "tests" / "specs" / "fuzz").glob("*.yaml"))
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED = int(os.environ.get("SPECFUZZ_SEED", "20261204"))
SQLITE_SPECS = int(os.environ.get("SPECFUZZ_SQLITE", "25"))
POSTGRES_SPECS = int(os.environ.get("SPECFUZZ_POSTGRES", "5"))
# Specs per test: chunks let several test processes (pytest-xdist) share the work evenly.
CHUNK = int(os.environ.get("SPECFUZZ_CHUNK", "5"))
# Projects tested at once in a test: one under pytest-xdist (its workers are the parallelism).
WORKERS = int(
    os.environ.get("SPECFUZZ_WORKERS", "1" if "PYTEST_XDIST_WORKER" in os.environ else "2")
)


def chunks(count: int) -> list[tuple[int, int]]:
    """[first, last) index ranges of CHUNK specs covering `count`."""
    return [(first, min(first + CHUNK, count)) for first in range(0, count, CHUNK)]


@functools.cache
def draw_specs(count: int, *, salt: int = 0) -> list[str]:
    """`count` distinct fuzzed specs as YAML, the same ones for the same seed."""
    found: list[str] = []

    # The same budget for every count up to 10, so that a smaller count draws the first specs
    # of a larger one (the stream of examples depends on the seed and the budget only).
    @seed(SEED + salt)
    @settings(
        max_examples=max(count, 10) * 4,
        phases=[Phase.generate],
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(valid_specs())
    def collect(data: dict) -> None:  # type: ignore[type-arg]
        text = to_yaml(data)
        # one resource with one bare field says little; the minimal examples come first
        if len(found) < count and text not in found and len(text) > 120:
            found.append(text)

    collect()
    assert len(found) == count, f"drew only {len(found)} distinct specs of {count}"
    return found


@dataclass
class Run:
    """One fuzzed spec: what happened to it, and how long each step took."""

    index: int
    spec: Path
    failed_tests: list[str] = field(default_factory=list)
    error: str = ""
    passed: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error and not self.failed_tests


_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+?)(?: - |$)", re.MULTILINE)
_PASSED = re.compile(r"(\d+) passed")
_SKIPPED = re.compile(r"\b\d+ skipped\b")


def _suite(env: ProjectEnv, root: Path, extra: dict[str, str], run: Run) -> None:
    started = time.monotonic()
    # the projects' addopts hold -q already: a second one would hide the summary counted below
    done = subprocess.run(
        [str(env.python), "-m", "pytest", "-p", "no:cacheprovider", "--maxfail=25", "-rfEs"],
        cwd=root,
        env=env.environ(extra),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    run.seconds["suite"] = time.monotonic() - started
    run.failed_tests = sorted(set(_FAILED.findall(done.stdout)))
    counts = _PASSED.findall(done.stdout)
    run.passed = int(counts[-1]) if counts else 0
    if done.returncode != 0 and not run.failed_tests:
        run.error = "the suite did not run:\n" + "\n".join(done.stdout.splitlines()[-30:])
    elif run.failed_tests:
        run.error = "\n".join(done.stdout.splitlines()[-40:])
    elif _SKIPPED.search(done.stdout):
        # what a spec gives no way to exercise is not generated; a skip would count as a pass
        run.error = "tests were skipped:\n" + "\n".join(done.stdout.splitlines()[-20:])


def _generate(spec: Path, out: Path, run: Run) -> bool:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "backforge.cli", "generate", str(spec), "-o", str(out)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    run.seconds["generate"] = time.monotonic() - started
    if done.returncode != 0:
        run.error = f"generate exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done.returncode == 0


def _postgres(env: ProjectEnv, root: Path, work: Path, run: Run) -> None:
    """verify's migrations check (up, down, up, alembic check), then the suite on PostgreSQL."""
    work.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        ctx = VerifyContext(load_project(root), work, stack, database_url=POSTGRES, env=env)
        started = time.monotonic()
        outcome = migrations.check(ctx)
        run.seconds["migrations"] = time.monotonic() - started
        if not outcome.ok:
            run.error = f"migrations: {outcome.headline}\n{outcome.detail}"
            return
        with scratch_database(ctx, "tests") as url:
            _suite(env, root, {"DATABASE_URL": url, "TEST_DATABASE_URL": url}, run)


def _one(index: int, text: str, keep: Path, database: str, env_holder: list[ProjectEnv]) -> Run:
    spec = keep / f"{database}-{index:03d}.yaml"
    spec.write_text(text, encoding="utf-8")
    run = Run(index, spec)
    with tempfile.TemporaryDirectory(prefix=f"specfuzz-{index}-") as tmp:
        out = Path(tmp) / "project"
        if not _generate(spec, out, run):
            return run
        env = env_holder[0] if env_holder else ensure_env(out)
        if database == "postgresql":
            _postgres(env, out, Path(tmp) / "verify", run)
        else:
            _suite(env, out, {}, run)
    return run


def shared_env() -> ProjectEnv:
    """The pinned environment verify uses, found (or built) from a project generated for it: one
    with a cache, events and webhooks, whose requirements add the optional packages (cashews,
    the broker client, standardwebhooks) to every spec's."""
    with tempfile.TemporaryDirectory(prefix="specfuzz-env-") as tmp:
        spec = Path(tmp) / "spec.yaml"
        probe = {
            "service": {"name": "probe"},
            "api": {"cache": {"ttl": "60s"}},
            "auth": {"users": True, "roles": ["admin", "member"]},
            "resources": {"A": {"fields": {"b": "int"}, "events": ["created"]}},
            "webhooks": {},
        }
        spec.write_text(to_yaml(probe))
        run = Run(0, spec)
        assert _generate(spec, Path(tmp) / "p", run), run.error
        return ensure_env(Path(tmp) / "p")


def run_fuzzed(texts: list[str], first: int, database: str, keep: Path) -> list[Run]:
    """Generate and test every spec (numbered from `first`), WORKERS at a time, in the shared
    environment."""
    env = [shared_env()]
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(
            pool.map(
                lambda item: _one(item[0], item[1], keep, database, env),
                enumerate(texts, start=first),
            )
        )


def _summary(runs: list[Run], seconds: float) -> str:
    suites = [r.seconds.get("suite", 0.0) for r in runs]
    lines = [
        f"{len(runs)} fuzzed specs in {seconds:.0f} s (suites {sum(suites):.0f} s, "
        f"slowest {max(suites):.0f} s); {sum(r.passed for r in runs)} generated tests passed; "
        f"{sum(not r.ok for r in runs)} failed"
    ]
    for run in runs:
        if not run.ok:
            lines.append(f"--- {run.spec}: {', '.join(run.failed_tests) or 'error'}")
            lines.append(run.error)
    return "\n".join(lines)


@pytest.fixture
def keep() -> Iterator[Path]:
    configured = os.environ.get("SPECFUZZ_KEEP")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        yield path
    else:
        with tempfile.TemporaryDirectory(prefix="specfuzz-keep-") as tmp:
            yield Path(tmp)


def _check(runs: list[Run], started: float, capsys: pytest.CaptureFixture[str]) -> None:
    summary = _summary(runs, time.monotonic() - started)
    with capsys.disabled():
        print("\n" + summary.splitlines()[0])
        for line in summary.splitlines()[1:]:
            if line.startswith("---"):
                print(line)
    assert all(r.ok for r in runs), summary


def _ids(span: tuple[int, int]) -> str:
    return f"{span[0]}-{span[1] - 1}"


@pytest.mark.parametrize("span", chunks(SQLITE_SPECS), ids=_ids)
def test_fuzzed_specs_pass_their_own_suites_on_sqlite(
    span: tuple[int, int], keep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    texts = draw_specs(SQLITE_SPECS)[span[0] : span[1]]
    _check(run_fuzzed(texts, span[0], "sqlite", keep), started, capsys)


@pytest.mark.postgres
@pytest.mark.parametrize("span", chunks(POSTGRES_SPECS), ids=_ids)
def test_fuzzed_specs_migrate_and_pass_their_suites_on_postgresql(
    span: tuple[int, int], keep: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    texts = draw_specs(POSTGRES_SPECS, salt=1)[span[0] : span[1]]
    _check(run_fuzzed(texts, span[0], "postgresql", keep), started, capsys)


@pytest.mark.parametrize("spec", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regressions(spec: Path, tmp_path: Path) -> None:
    """Each shrunk spec that once broke a generated project: its suite passes now, on SQLite."""
    run = _one(0, spec.read_text("utf-8"), tmp_path, "sqlite", [])
    assert run.ok, run.error
