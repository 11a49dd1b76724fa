"""Observability in a generated project: its modules, wiring, pins, documentation and manifest.

The behaviour (request ids, JSON logs, redaction, metrics, tracing) is tested by the generated
project's own tests/test_observability.py, which `backforge new` runs; this checks the structure.
"""

from __future__ import annotations

import json
from pathlib import Path

from backforge.generate import MANIFEST

PINNED = (
    "structlog",
    "prometheus-client",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-instrumentation-fastapi",
    "opentelemetry-instrumentation-sqlalchemy",
    "opentelemetry-instrumentation-httpx",
    "httpx",
)
METRICS = (
    "http_requests_total",
    "http_request_errors_total",
    "http_request_duration_seconds",
    "http_requests_in_flight",
    "db_pool_size",
    "db_pool_checked_out",
    "resource_changes_total",
)
VARIABLES = (
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "PROMETHEUS_MULTIPROC_DIR",
)


def test_the_observability_modules_and_their_tests_are_generated(bookstore: Path) -> None:
    core = bookstore / "bookstore" / "core"
    for module in ("logging", "middleware", "metrics", "tracing"):
        assert (core / f"{module}.py").is_file(), module
    assert (bookstore / "tests" / "test_observability.py").is_file()


def test_the_app_wires_logging_middleware_metrics_and_tracing(bookstore: Path) -> None:
    main = (bookstore / "bookstore" / "main.py").read_text()
    for wiring in (
        "configure_logging(settings",
        "app.add_middleware(MetricsMiddleware)",
        "metrics.router,",
        "tracing.instrument_app(app, settings)",
        "tracing.instrument_database(",
        "install_request_context(app)",
    ):
        assert wiring in main, wiring
    service = (bookstore / "bookstore" / "core" / "service.py").read_text()
    for action in ("created", "updated", "deleted"):
        assert f'RESOURCE_CHANGES.labels(self.resource, "{action}").inc()' in service


def test_tracing_imports_opentelemetry_only_inside_functions(bookstore: Path) -> None:
    tracing = (bookstore / "bookstore" / "core" / "tracing.py").read_text()
    top_level = [line for line in tracing.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in top_level if "opentelemetry" in line]


def test_the_metric_names_are_the_documented_ones(bookstore: Path) -> None:
    metrics = (bookstore / "bookstore" / "core" / "metrics.py").read_text()
    readme = (bookstore / "README.md").read_text()
    for name in METRICS:
        assert f'"{name}"' in metrics, name
        assert f"`{name}`" in readme, name


def test_the_libraries_are_pinned_at_runtime(bookstore: Path) -> None:
    pins = dict(
        line.split("==", 1)
        for line in (bookstore / "requirements.txt").read_text().splitlines()
        if "==" in line
    )
    for name in PINNED:
        assert pins.get(name), name
    sdk = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http")
    instrumentations = [name for name in pins if name.startswith("opentelemetry-instrumentation-")]
    assert len({pins[name] for name in sdk}) == 1  # one release of the API/SDK line
    assert len({pins[name] for name in instrumentations}) == 1  # and of its contrib line


def test_settings_are_documented_and_in_the_manifest(bookstore: Path) -> None:
    manifest = json.loads((bookstore / MANIFEST).read_text())
    env_example = (bookstore / ".env.example").read_text()
    readme = (bookstore / "README.md").read_text()
    names = {setting["name"] for setting in manifest["settings"]}
    for variable in VARIABLES:
        assert variable in names, variable
        assert variable in env_example, variable
        assert variable in readme, variable
    middleware = " ".join(manifest["middleware"])
    assert "request context" in middleware
    assert "Prometheus metrics" in middleware
    assert "OpenTelemetry" in middleware
    assert "## Observability" in readme
