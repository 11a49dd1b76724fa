"""The report's operations section (R3): observability notes, deployment considerations and
follow-up work, read from the project's files and the figures its checks measured."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEPLOYMENT_FILES = (
    "Dockerfile",
    "compose.yaml",
    "deploy/k8s/kustomization.yaml",
    "deploy/k8s/migration-job.yaml",
    "deploy/grafana/dashboard.json",
    "deploy/prometheus/alerts.yaml",
    ".github/workflows/ci.yaml",
    "RUNBOOK.md",
)


def operations(
    root: Path, manifest: Mapping[str, Any], checks: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    figures = {c["name"]: c.get("figures") or {} for c in checks}
    package = manifest.get("package", "")
    has = {name: (root / name).is_file() for name in DEPLOYMENT_FILES}
    return {
        "observability": _observability(root, package, figures),
        "deployment": {
            "files": sorted(name for name, present in has.items() if present),
            "considerations": _considerations(has, package),
        },
        "follow_up": _follow_up(manifest, figures),
    }


def _observability(root: Path, package: str, figures: Mapping[str, Any]) -> list[str]:
    core = root / package / "core"
    notes = []
    if (core / "metrics.py").is_file():
        notes.append(
            "Prometheus metrics at /metrics: http_requests_total, http_request_duration_seconds "
            "and http_request_errors_total by route template, in-flight requests, database pool "
            "gauges, resource_changes_total; set PROMETHEUS_MULTIPROC_DIR with several workers"
        )
    if (core / "logging.py").is_file():
        notes.append(
            "structured logs (LOG_FORMAT=json in production) with a request id on every line, "
            "taken from X-Request-ID or traceparent and echoed in the response; secrets and "
            "write-only fields are redacted"
        )
    if (core / "tracing.py").is_file():
        notes.append(
            "OpenTelemetry traces (FastAPI, SQLAlchemy, httpx) exported over OTLP/HTTP when "
            "OTEL_EXPORTER_OTLP_ENDPOINT is set; off and free otherwise"
        )
    notes.append("probes: /healthz (liveness), /readyz (database), /startupz (schema at head)")
    resilience = figures.get("resilience", {})
    if "readiness_flip_seconds" in resilience:
        notes.append(
            f"measured: readiness turned 503 {resilience['readiness_flip_seconds']} s after a "
            f"database outage and recovered {resilience.get('recovery_seconds')} s after it ended"
        )
    if "drain_seconds" in resilience:
        notes.append(
            f"measured: SIGTERM with a request in flight drained in {resilience['drain_seconds']} s"
            f" (in-flight answer {resilience.get('in_flight_status')}, exit "
            f"{resilience.get('exit_code')})"
        )
    return notes


def _considerations(has: Mapping[str, bool], package: str) -> list[str]:
    notes = [
        "processes are stateless: scale out behind a load balancer; keep replicas * "
        "(DB_POOL_SIZE + DB_MAX_OVERFLOW) below the database's max_connections",
        "run `alembic upgrade head` (the migration Job) before rolling out a new image; "
        "take a backup first and prefer expand/contract migrations for zero downtime",
        "secrets (DATABASE_URL) come from the environment only; keep them in a secret store",
        f"the container runs `python -m {package}.serve`: SIGTERM drains in-flight requests "
        "within GRACEFUL_TIMEOUT and exits 0",
    ]
    if has.get("RUNBOOK.md"):
        notes.append("RUNBOOK.md covers deploy, scale, migrate, roll back, rotate secrets, alerts")
    return notes


def _follow_up(manifest: Mapping[str, Any], figures: Mapping[str, Any]) -> list[str]:
    follow_up = [str(note) for note in manifest.get("notes") or []]
    outage = figures.get("resilience", {}).get("outage")
    if outage:
        follow_up.append(
            f"database outage {outage}; verify with --database postgresql://… to measure it"
        )
    return follow_up
