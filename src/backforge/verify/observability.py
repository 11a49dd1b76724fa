"""Observability: after the smoke load, /metrics shows the traffic by route template (read
with the METRICS_TOKEN the server runs with; without it, a project that reads that setting
must answer 401), and a request id sent in comes back in the response and in the server's
structured log."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import httpx

from backforge.report.facts import base_path
from backforge.verify.context import VerifyContext
from backforge.verify.load import list_paths
from backforge.verify.result import Outcome

REQUEST_METRIC = "http_requests_total"
LOG_WAIT = 5.0


def check(ctx: VerifyContext) -> Outcome:
    url = ctx.need_server()
    project = ctx.project
    collections = list_paths(project.openapi, base_path(project.manifest, project.openapi))
    figures: dict[str, Any] = {}
    problems: list[str] = []
    with httpx.Client(base_url=url, timeout=10.0, trust_env=False) as http:
        _metrics(http, collections, ctx, figures, problems)
        if collections:
            _request_id(http, collections[0], ctx, figures, problems)
    summary = (
        f"{figures.get('route_series', 0)} route series, "
        f"{figures.get('requests_counted', 0)} requests counted, "
        f"request id {'logged' if figures.get('request_id_logged') else 'not logged'}"
    )
    return Outcome(not problems, figures, summary, "\n".join(problems))


def token_required(ctx: VerifyContext) -> bool:
    """The project's settings read METRICS_TOKEN (older projects serve /metrics openly)."""
    settings = ctx.project.root / ctx.project.package / "core" / "settings.py"
    try:
        return "metrics_token" in settings.read_text(encoding="utf-8")
    except OSError:
        return False


def _metrics(
    http: httpx.Client,
    collections: list[str],
    ctx: VerifyContext,
    figures: dict[str, Any],
    problems: list[str],
) -> None:
    if token_required(ctx):
        anonymous = http.get("/metrics")
        figures["metrics_without_token"] = anonymous.status_code
        if anonymous.status_code != 401:
            problems.append(f"/metrics answered {anonymous.status_code} without METRICS_TOKEN")
    response = http.get("/metrics", headers={"Authorization": f"Bearer {ctx.metrics_token}"})
    if response.status_code != 200:
        problems.append(f"/metrics answered {response.status_code}")
        return
    samples = parse_samples(response.text, REQUEST_METRIC)
    by_route: dict[str, float] = {}
    for labels, value in samples:
        by_route[labels.get("route", "")] = by_route.get(labels.get("route", ""), 0) + value
    figures["route_series"] = len(samples)
    figures["requests_counted"] = int(sum(by_route.get(path, 0) for path in collections))
    load = ctx.results.get("load")
    sent = int((load.figures if load else {}).get("requests", 0))
    figures["requests_sent_by_load"] = sent
    if not samples:
        problems.append(f"/metrics has no {REQUEST_METRIC} samples")
    elif figures["requests_counted"] < sent:
        problems.append(
            f"{REQUEST_METRIC} counts {figures['requests_counted']} requests on the list routes, "
            f"the load sent {sent}"
        )
    raw = [route for route in by_route if any(ch.isdigit() for ch in route.split("/")[-1])]
    if raw:
        problems.append(f"route labels hold raw paths, not templates: {raw[:3]}")


def parse_samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of metric ``name`` in Prometheus text format, as (labels, value)."""
    found = []
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        labels_text, _, value = line[len(name) + 1 :].rpartition("} ")
        labels = {}
        for pair in labels_text.split('",'):
            key, _, raw = pair.partition('="')
            labels[key.strip(",")] = raw.rstrip('"')
        found.append((labels, float(value.split()[0])))
    return found


def _request_id(
    http: httpx.Client,
    path: str,
    ctx: VerifyContext,
    figures: dict[str, Any],
    problems: list[str],
) -> None:
    request_id = f"bf-verify-{secrets.token_hex(8)}"
    response = http.get(path, headers={"X-Request-ID": request_id})
    figures["request_id_echoed"] = response.headers.get("x-request-id") == request_id
    if not figures["request_id_echoed"]:
        problems.append("the response does not echo X-Request-ID")
    figures["request_id_logged"] = False
    deadline = time.monotonic() + LOG_WAIT
    while ctx.server_log is not None and time.monotonic() < deadline:
        for line in ctx.server_log.read_text("utf-8", errors="replace").splitlines():
            if request_id in line and _json_with(line, request_id):
                figures["request_id_logged"] = True
                figures["log_line"] = line[:400]
                return
        time.sleep(0.2)
    problems.append(f"no JSON log line of the server carries the request id {request_id}")


def _json_with(line: str, request_id: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("request_id") == request_id
