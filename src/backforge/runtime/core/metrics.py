"""Prometheus metrics, served at GET /metrics in the text exposition format.

Per route template: `http_requests_total{method,route,status_class}`,
`http_request_errors_total{method,route}` (5xx) and `http_request_duration_seconds{method,route}`;
`http_requests_in_flight`; the database pool (`db_pool_size`, `db_pool_checked_out`, read when
scraped); records changed (`resource_changes_total{resource,action}`) and the process itself.

When METRICS_TOKEN is set, /metrics answers only a request with `Authorization: Bearer
<METRICS_TOKEN>` (401 otherwise); production refuses to start without it unless
METRICS_PUBLIC=true says that only a private network reaches the port.

With several worker processes, set PROMETHEUS_MULTIPROC_DIR to a directory they share, emptied
before they start: every worker writes its samples there and /metrics adds them all up.
"""

import hmac
import os
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .errors import UnauthorizedError
from .routing import AppRoute

METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

disable_created_metrics()  # no *_created series: half the series, and Prometheus needs none

REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by route template and status class.",
    ["method", "route", "status_class"],
)
ERRORS = Counter(
    "http_request_errors_total", "HTTP requests answered with a 5xx status.", ["method", "route"]
)
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time taken to answer HTTP requests.",
    ["method", "route"],
    buckets=BUCKETS,
)
IN_FLIGHT = Gauge(
    "http_requests_in_flight", "HTTP requests being answered.", multiprocess_mode="livesum"
)
RESOURCE_CHANGES = Counter(
    "resource_changes_total",
    "Records created, updated or deleted, by resource.",
    ["resource", "action"],
)

router = APIRouter(route_class=AppRoute)


# The labelled series of each (method, route, status class), looked up once: `labels()` checks
# and locks on every call. Bounded: methods outside METHODS are OTHER, routes are templates.
_series: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "OTHER"
    key = (method, route, status // 100)
    series = _series.get(key)
    if series is None:
        series = _series[key] = (
            REQUESTS.labels(method, route, f"{status // 100}xx"),
            ERRORS.labels(method, route) if status >= 500 else None,
            DURATION.labels(method, route),
        )
    requests, errors, duration = series
    requests.inc()
    if errors is not None:
        errors.inc()
    duration.observe(seconds)


class DatabasePoolCollector(Collector):
    """The connection pools of this process, read at scrape time; pools that do not count their
    connections (SQLite in memory) report nothing."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        database = getattr(self.app.state, "database", None)
        pool = database.engine.pool if database is not None else None
        for name, documentation, method in (
            ("db_pool_size", "Connections the pool keeps open.", "size"),
            ("db_pool_checked_out", "Connections in use by requests.", "checkedout"),
        ):
            read = getattr(pool, method, None)
            if callable(read):
                yield GaugeMetricFamily(name, documentation, value=read())
        reads = getattr(database, "reads", None)
        counts = reads.counts() if reads is not None else None
        if counts is not None:  # PostgreSQL: the read pool's own connections
            size, in_use = counts
            yield GaugeMetricFamily(
                "db_read_pool_size", "Connections the read pool has open.", value=size
            )
            yield GaugeMetricFamily(
                "db_read_pool_in_use", "Read pool connections in use by requests.", value=in_use
            )


def scrape_registry(app: FastAPI) -> CollectorRegistry:
    """Every worker's samples when PROMETHEUS_MULTIPROC_DIR is set, else this process's own."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(DatabasePoolCollector(app))
    return registry


@router.get("/metrics", include_in_schema=False)
def prometheus_metrics(request: Request) -> Response:
    token = request.app.state.settings.metrics_token
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}".encode()
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise UnauthorizedError("/metrics needs the METRICS_TOKEN as a bearer token.")
    data = generate_latest(scrape_registry(request.app))
    return Response(data, media_type=CONTENT_TYPE_PLAIN_0_0_4)
