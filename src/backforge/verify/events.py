"""events (only for a spec with `events:`): after the contract fuzzing and the smoke load, every
change that wrote a domain event to the outbox was published by the relay (the app relays in
its own process by default). Read from the server's /metrics: the changes of the resources and
kinds that have events (`resource_changes_total`, counted after each commit: one event each),
the events published (`outbox_events_published_total`) and dead-lettered, and the p95 of the
lag from commit to publication (`outbox_event_lag_seconds`). Waits up to WAIT seconds for the
relay to catch up; fails if any event is lost (written, neither published nor dead)."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import httpx

from backforge.verify.context import VerifyContext
from backforge.verify.observability import parse_samples
from backforge.verify.project import Project
from backforge.verify.result import Outcome

WAIT = 15.0  # seconds for the relay to publish what the last changes wrote


def events_of(project: Project) -> dict[str, list[str]]:
    """The project's resources with events, and the changes that write one (from
    .backforge/ir.json): their kinds, and the declarative custom actions of a resource whose
    updates write one (each such action is an update, counted under the action's name)."""
    try:
        ir = json.loads((project.root / ".backforge" / "ir.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {r["name"]: _changes(r) for r in ir.get("resources", []) if r.get("events")}


def _changes(resource: dict[str, Any]) -> list[str]:
    actions = [a["name"] for a in resource.get("actions", []) if not a.get("handler")]
    return list(resource["events"]) + (actions if "updated" in resource["events"] else [])


def check(ctx: VerifyContext) -> Outcome:
    url = ctx.need_server()
    wanted = events_of(ctx.project)
    headers = {"Authorization": f"Bearer {ctx.metrics_token}"}
    figures: dict[str, Any] = {}
    deadline = time.monotonic() + WAIT
    with httpx.Client(base_url=url, timeout=10.0, trust_env=False) as http:
        while True:
            response = http.get("/metrics", headers=headers)
            if response.status_code != 200:
                return Outcome(False, {}, "no metrics", f"/metrics answered {response.status_code}")
            figures = figures_of(response.text, wanted)
            if figures["events_lost"] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    lost = figures["events_lost"]
    summary = (
        f"{figures['events_written']} events written, {figures['events_published']} published, "
        f"{lost} lost, p95 lag {figures['lag_p95_seconds']} s"
    )
    detail = f"{lost} event(s) written, neither published nor dead after {WAIT:g} s" if lost else ""
    return Outcome(lost == 0, figures, summary, detail)


def figures_of(text: str, wanted: dict[str, list[str]]) -> dict[str, Any]:
    written = sum(
        value
        for labels, value in parse_samples(text, "resource_changes_total")
        if labels.get("action") in wanted.get(labels.get("resource", ""), [])
    )
    published = _plain(text, "outbox_events_published_total")
    dead = _plain(text, "outbox_events_dead_total")
    return {
        "events_written": int(written),
        "events_published": int(published),
        "events_dead": int(dead),
        "events_lost": max(int(written - published - dead), 0),
        "publish_failures": int(_plain(text, "outbox_publish_failures_total")),
        "lag_p95_seconds": _p95(parse_samples(text, "outbox_event_lag_seconds_bucket")),
    }


def _plain(text: str, name: str) -> float:
    """The value of an unlabelled sample (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def _p95(buckets: list[tuple[dict[str, str], float]]) -> float | None:
    """The upper bound of the histogram bucket that holds the 95th percentile (None: empty)."""
    counts = sorted(
        (math.inf if labels["le"] == "+Inf" else float(labels["le"]), value)
        for labels, value in buckets
        if "le" in labels
    )
    if not counts or counts[-1][1] == 0:
        return None
    total = counts[-1][1]
    for bound, count in counts:
        if count >= 0.95 * total:
            return bound
    return None  # pragma: no cover - the +Inf bucket holds every observation
