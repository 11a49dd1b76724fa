"""load: a short, bounded smoke load on the running server's list endpoints, with httpx.

LOAD_CONCURRENCY workers share `load_requests` GET requests, round-robin over the list operations
(GET, no path parameter, no required parameter, under the API base path; the probes and the
event streams — `text/event-stream`, the change feeds — excluded),
and stop at TIME_CAP seconds whatever the count. Latencies are measured per request. Fails on
any 5xx, any transport error, or when no request succeeded.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from typing import Any

import httpx

from backforge.report.facts import PROBES, base_path
from backforge.verify.context import VerifyContext
from backforge.verify.result import Outcome
from backforge.verify.server import RATE_LIMITS_NOTE

LOAD_CONCURRENCY = 16
TIME_CAP = 30.0


def list_paths(openapi: dict[str, Any] | None, base_path: str = "") -> list[str]:
    """The GET operations that need no parameter: the collections."""
    paths = []
    for path, item in sorted(((openapi or {}).get("paths") or {}).items()):
        operation = item.get("get") if isinstance(item, dict) else None
        if operation is None or "{" in path or path in PROBES:
            continue
        if base_path and not path.startswith(base_path.rstrip("/") + "/"):
            continue
        required = [p for p in operation.get("parameters", []) if p.get("required")]
        if not required and not _streams(operation):
            paths.append(path)
    return paths


def _streams(operation: dict[str, Any]) -> bool:
    """Whether the operation answers an event stream (it does not end by itself)."""
    ok = (operation.get("responses") or {}).get("200") or {}
    return "text/event-stream" in (ok.get("content") or {})


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


async def hammer(
    url: str,
    paths: list[str],
    total: int,
    concurrency: int,
    cap: float,
    headers: dict[str, str] | None = None,
) -> tuple[list[tuple[str, float]], float, bool]:
    """Send up to `total` GETs; each answer as (status or error name, seconds)."""
    results: list[tuple[str, float]] = []
    counter = iter(range(total))
    started = time.perf_counter()
    deadline = started + cap
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.AsyncClient(
        base_url=url, timeout=10.0, limits=limits, trust_env=False, headers=headers
    )
    async with client:

        async def worker() -> None:
            for index in counter:
                if time.perf_counter() > deadline:
                    return
                sent = time.perf_counter()
                try:
                    response = await client.get(paths[index % len(paths)])
                    outcome = str(response.status_code)
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                results.append((outcome, time.perf_counter() - sent))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return results, elapsed, len(results) < total


def check(ctx: VerifyContext) -> Outcome:
    url = ctx.need_server()
    assert url.startswith("http://127.0.0.1:"), "load only ever targets the local server"
    openapi = ctx.project.openapi
    paths = list_paths(openapi, base_path(ctx.project.manifest, openapi))
    if not paths:
        detail = "openapi.json has no GET collection endpoint to load"
        return Outcome(False, {"endpoints": []}, "no list endpoint", detail)
    results, elapsed, capped = asyncio.run(
        hammer(url, paths, ctx.load_requests, LOAD_CONCURRENCY, TIME_CAP, ctx.auth_headers)
    )
    statuses = Counter(outcome for outcome, _ in results)
    latencies = sorted(seconds * 1000 for _, seconds in results)
    server_errors = sum(n for code, n in statuses.items() if code.startswith("5"))
    transport = sum(n for code, n in statuses.items() if not code.isdigit())
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    figures = {
        "rate_limits": RATE_LIMITS_NOTE,
        "endpoints": paths,
        "concurrency": LOAD_CONCURRENCY,
        "requests": len(results),
        "errors": len(results) - ok,
        "server_errors": server_errors,
        "transport_errors": transport,
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(elapsed, 3),
        "time_capped": capped,
        "rps": round(len(results) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "max_ms": round(latencies[-1], 2) if latencies else 0.0,
    }
    problems = []
    if server_errors:
        problems.append(f"{server_errors} response(s) with a 5xx status")
    if transport:
        problems.append(f"{transport} request(s) failed in transport")
    if not ok:
        problems.append("no request succeeded: " + ", ".join(sorted(statuses)))
    if server_errors or transport:
        problems.append(ctx.server_log_tail())
    headline = f"{len(results)} requests, {figures['rps']} rps, p95 {figures['p95_ms']} ms"
    return Outcome(not problems, figures, headline, "\n".join(problems))
