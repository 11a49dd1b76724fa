"""The main job end to end: `backforge new` on every example gives a COMPLETE delivery.

Each run generates the project, then verifies it for real: ruff, the generated tests with
coverage, migrations up/down/up and `alembic check`, the server, schemathesis, a smoke load,
metrics and request-id logs, and resilience: SIGTERM with a request in flight, and (on
PostgreSQL) a database outage with readiness flipping to 503 and recovering by itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.cli import main

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
EVERY_EXAMPLE = sorted(path.stem for path in EXAMPLES.glob("*.yaml"))


def run_new(spec: Path, out: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    code = main(["new", str(spec), "-o", str(out), *extra])
    report = json.loads((out / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    return report


def assert_delivered(report: dict) -> None:  # type: ignore[type-arg]
    checks = {c["name"]: c for c in report["checks"]}
    assert report["status"] == "COMPLETE", report["status_block"]
    assert all(c["status"] == "passed" for c in checks.values())
    tests = checks["tests"]["figures"]
    assert tests["failed"] == 0 and tests["passed"] > 50
    assert tests["skipped"] == 0  # generated suites skip nothing: what cannot run is not generated
    assert tests["coverage_percent"] >= 80
    assert tests["hostile"]["requests"] > 100 and tests["hostile"]["server_errors"] == 0
    security = checks["security"]["figures"]
    assert security["high"] == security["medium"] == 0
    assert report["owasp_api_top10"][0]["id"] == "API1:2023"
    contract = checks["contract"]["figures"]
    assert contract["failures"] == 0 and contract["server_errors"] == 0
    assert contract["requests"] > 500
    assert checks["load"]["figures"]["p95_ms"] > 0
    observability = checks["observability"]["figures"]
    assert observability["request_id_echoed"] and observability["request_id_logged"]
    assert observability["requests_counted"] >= checks["load"]["figures"]["requests"]
    resilience = checks["resilience"]["figures"]
    assert resilience["exit_code"] == 0 and resilience["in_flight_status"] < 500
    assert resilience["new_connections_refused"] is True
    assert any("SIGTERM" in note for note in report["operations"]["observability"])
    assert "Dockerfile" in report["operations"]["deployment"]["files"]
    assert report["files_count"] > 40
    assert report["status_block"].startswith("STATUS: COMPLETE")
    if "events" in checks:  # a spec with domain events: every one written was published
        events = checks["events"]["figures"]
        assert events["events_written"] > 0 and events["events_lost"] == 0


@pytest.mark.parametrize("example", EVERY_EXAMPLE)
def test_new_delivers_every_example_on_sqlite(tmp_path: Path, example: str) -> None:
    report = run_new(EXAMPLES / f"{example}.yaml", tmp_path / example)
    assert_delivered(report)
    assert report["service"]["name"] == example
    assert ("events" in {c["name"] for c in report["checks"]}) == (example == "projects")


@pytest.mark.postgres
@pytest.mark.parametrize("example", EVERY_EXAMPLE)
def test_new_delivers_every_example_on_postgresql(tmp_path: Path, example: str) -> None:
    spec = EXAMPLES / f"{example}.yaml"
    report = run_new(spec, tmp_path / example, "--database", POSTGRES, "--fuzz-examples", "15")
    assert_delivered(report)
    assert report["database"]["verified_on"] == "postgresql"
    outage = {c["name"]: c for c in report["checks"]}["resilience"]["figures"]
    assert outage["readiness_flip_seconds"] <= 2.0
    assert outage["status_during_outage"] == 503
    assert outage["recovery_seconds"] is not None
