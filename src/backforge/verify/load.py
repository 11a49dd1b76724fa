"""load: a short, bounded smoke load on the running server's reads, with aiohttp.

What is loaded: the list operations (GET, no path parameter, no required parameter, under the
API base path; the probes and the event streams — `text/event-stream`, the change feeds —
excluded), and the reads that take path parameters (a record by its key, a collection under its
parent) filled with keys of records those lists answer (`read_targets`: at most
RECORDS_PER_TEMPLATE per path template, the lists read once beforehand).

LOAD_CONCURRENCY workers share `load_requests` GET requests, round-robin over the path templates
(each template's URLs in turn), and stop at TIME_CAP seconds whatever the count. Latencies are
measured per request, and reported per template too. Fails on any 5xx, any transport error, or
when no request succeeded.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, defaultdict
from typing import Any, NamedTuple
from urllib.parse import quote

import aiohttp
import httpx

from backforge.report.facts import PROBES, base_path
from backforge.verify.context import VerifyContext
from backforge.verify.result import Outcome
from backforge.verify.server import RATE_LIMITS_NOTE

LOAD_CONCURRENCY = 16
TIME_CAP = 30.0
RECORDS_PER_TEMPLATE = 5  # distinct URLs per path template with parameters
PRIMING_READS = 40  # at most this many lists are read to find keys


class Sample(NamedTuple):
    """One request of the load: its status (or transport error name), seconds, and the path
    template it was made from."""

    outcome: str
    seconds: float
    template: str


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


def read_templates(openapi: dict[str, Any] | None, base_path: str = "") -> list[str]:
    """The GET operations whose only required parameters are in the path: reads of a record,
    and of a collection under a parent."""
    templates = []
    for path, item in sorted(((openapi or {}).get("paths") or {}).items()):
        operation = item.get("get") if isinstance(item, dict) else None
        if operation is None or "{" not in path or path in PROBES:
            continue
        if base_path and not path.startswith(base_path.rstrip("/") + "/"):
            continue
        required = [p for p in operation.get("parameters", []) if p.get("required")]
        if all(p.get("in") == "path" for p in required) and not _streams(operation):
            templates.append(path)
    return templates


def records_in(body: Any) -> list[dict[str, Any]]:
    """The records of a list's answer: a bare array, or the first array of objects in it
    (`items`, or an envelope's `{"books": [...]}`)."""
    if isinstance(body, list):
        return [record for record in body if isinstance(record, dict)]
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                return [record for record in value if isinstance(record, dict)]
    return []


def _key(record: dict[str, Any], name: str, fallback: str | None) -> Any:
    """The value `record` gives the path parameter `name` (or, when it has no such field, the
    one the collection's item path names it by, or its id)."""
    for field in (name, fallback, "id"):
        value = record.get(field) if field else None
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return value
    return None


def read_targets(templates: list[str], read: Any, lists: list[str]) -> list[tuple[str, str]]:
    """(template, URL) pairs for `templates`, their parameters filled from the records the
    collections answer; `read(url)` answers a collection's JSON (None when it cannot be read).
    A template none of whose parameters can be filled is left out."""
    templates_set = set(templates)
    answers: dict[str, list[dict[str, Any]]] = {}
    budget = [PRIMING_READS]

    pool: dict[str, list[dict[str, Any]]] = defaultdict(list)  # records by their URL segment

    def records(collection: str) -> list[dict[str, Any]]:
        if collection not in answers:
            if budget[0] <= 0:
                return []
            budget[0] -= 1
            answers[collection] = records_in(read(collection))
            pool[collection.rpartition("/")[2]] += answers[collection]
        # a collection served only under its parents: the records its nested lists answered
        return answers[collection] or pool[collection.rpartition("/")[2]]

    def item_parameter(prefix: str) -> str | None:
        for template in templates_set:
            head, _, name = template.rpartition("/")
            if head == prefix and name.startswith("{") and name.endswith("}"):
                return name[1:-1]
        return None

    def fill(template: str, prefix_template: str, concrete: str) -> list[str]:
        """Concrete URLs for `template`, whose part before the next parameter is
        `prefix_template`, known as `concrete` so far."""
        rest = template[len(prefix_template) :]
        if "{" not in rest:
            return [concrete + rest]
        before, _, after = rest.partition("{")
        name = after.partition("}")[0]
        collection_template = prefix_template + before.rstrip("/")
        collection = concrete + before.rstrip("/")
        found = []
        fallback = item_parameter(collection_template)
        for record in records(collection)[:RECORDS_PER_TEMPLATE]:
            value = _key(record, name, fallback)
            if value is not None:
                url = f"{collection}/{quote(str(value), safe='')}"
                found += fill(template, f"{collection_template}/{{{name}}}", url)
            if len(found) >= RECORDS_PER_TEMPLATE:
                break
        return found[:RECORDS_PER_TEMPLATE]

    for collection in lists:
        records(collection)
    filled = {template: fill(template, "", "") for template in templates}
    unfilled = [template for template, urls in filled.items() if not urls]
    if unfilled:  # a collection listed only under its parents: what those lists answer
        for template, urls in filled.items():
            if not template.endswith("}"):
                for url in urls:
                    records(url)
        for template in unfilled:
            filled[template] = fill(template, "", "")
    return [(template, url) for template in templates for url in filled[template]]


def _streams(operation: dict[str, Any]) -> bool:
    """Whether the operation answers an event stream (it does not end by itself)."""
    ok = (operation.get("responses") or {}).get("200") or {}
    return "text/event-stream" in (ok.get("content") or {})


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return 0.0
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def interleaved(targets: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`targets` in the order the load sends them: one of each template in turn, so every
    template gets its share whatever its number of URLs."""
    by_template: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for target in targets:
        by_template[target[0]].append(target)
    rounds = max((len(group) for group in by_template.values()), default=0)
    return [group[turn % len(group)] for turn in range(rounds) for group in by_template.values()]


async def hammer(
    url: str,
    paths: list[str] | list[tuple[str, str]],
    total: int,
    concurrency: int,
    cap: float,
    headers: dict[str, str] | None = None,
) -> tuple[list[Sample], float, bool]:
    """Send up to `total` GETs, round-robin over `paths` (URLs, or (template, URL) pairs); each
    answer as a `Sample`, timed from the request's start to its body's last byte.

    The client is aiohttp's, one keep-alive connection per worker: the load measures the
    server, and httpx's asynchronous pool cost more CPU per request than a generated service
    (on the same server and mix, 2 busy cores: about 100 requests per second and a p95 of
    500 ms through httpx, 680 and 65 ms through aiohttp)."""
    targets = [(path, path) if isinstance(path, str) else path for path in paths]
    results: list[Sample] = []
    counter = iter(range(total))
    started = time.perf_counter()
    deadline = started + cap
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=10.0)
    session = aiohttp.ClientSession(url, connector=connector, timeout=timeout, headers=headers)
    async with session:

        async def worker() -> None:
            for index in counter:
                if time.perf_counter() > deadline:
                    return
                template, path = targets[index % len(targets)]
                sent = time.perf_counter()
                try:
                    async with session.get(path, allow_redirects=False) as response:
                        await response.read()
                        outcome = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    outcome = type(exc).__name__
                results.append(Sample(outcome, time.perf_counter() - sent, template))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return results, elapsed, len(results) < total


def check(ctx: VerifyContext) -> Outcome:
    url = ctx.need_server()
    assert url.startswith("http://127.0.0.1:"), "load only ever targets the local server"
    openapi = ctx.project.openapi
    base = base_path(ctx.project.manifest, openapi)
    paths = list_paths(openapi, base)
    if not paths:
        detail = "openapi.json has no GET collection endpoint to load"
        return Outcome(False, {"endpoints": []}, "no list endpoint", detail)
    reads = _targets(url, paths, read_templates(openapi, base), ctx.auth_headers)
    targets = interleaved([(path, path) for path in paths] + reads)
    results, elapsed, capped = asyncio.run(
        hammer(url, targets, ctx.load_requests, LOAD_CONCURRENCY, TIME_CAP, ctx.auth_headers)
    )
    statuses = Counter(sample.outcome for sample in results)
    latencies = sorted(sample.seconds * 1000 for sample in results)
    server_errors = sum(n for code, n in statuses.items() if code.startswith("5"))
    transport = sum(n for code, n in statuses.items() if not code.isdigit())
    ok = sum(n for code, n in statuses.items() if code.startswith("2"))
    figures = {
        "rate_limits": RATE_LIMITS_NOTE,
        "endpoints": list(dict.fromkeys(template for template, _ in targets)),
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
        "per_endpoint": per_template(results),
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


def per_template(results: list[Sample]) -> dict[str, dict[str, float | int]]:
    """Requests, p50 and p95 of each path template."""
    by_template: dict[str, list[float]] = defaultdict(list)
    for sample in results:
        by_template[sample.template].append(sample.seconds * 1000)
    figures: dict[str, dict[str, float | int]] = {}
    for template, latencies in sorted(by_template.items()):
        latencies.sort()
        figures[template] = {
            "requests": len(latencies),
            "p50_ms": round(percentile(latencies, 0.50), 2),
            "p95_ms": round(percentile(latencies, 0.95), 2),
        }
    return figures


def _targets(
    url: str, lists: list[str], templates: list[str], headers: dict[str, str] | None
) -> list[tuple[str, str]]:
    """The reads with path parameters to load, their keys read from the lists once."""
    if not templates:
        return []
    with httpx.Client(base_url=url, timeout=10.0, trust_env=False, headers=headers) as client:

        def read(path: str) -> Any:
            try:
                response = client.get(path)
            except httpx.HTTPError:
                return None
            return response.json() if response.status_code == 200 else None

        return read_targets(templates, read, lists)
