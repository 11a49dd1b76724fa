"""verify's events check: its figures from a /metrics text, and that it runs only for projects
whose spec has events."""

from __future__ import annotations

import json
from pathlib import Path

from backforge.verify.events import events_of, figures_of
from backforge.verify.project import Project

METRICS = """\
# TYPE resource_changes_total counter
resource_changes_total{resource="Book",action="created"} 7.0
resource_changes_total{resource="Book",action="updated"} 3.0
resource_changes_total{resource="Book",action="deleted"} 2.0
resource_changes_total{resource="Author",action="created"} 5.0
# TYPE outbox_events_published_total counter
outbox_events_published_total 8.0
outbox_events_dead_total 0.0
outbox_publish_failures_total 1.0
outbox_event_lag_seconds_bucket{le="0.01"} 1.0
outbox_event_lag_seconds_bucket{le="0.05"} 6.0
outbox_event_lag_seconds_bucket{le="0.1"} 8.0
outbox_event_lag_seconds_bucket{le="+Inf"} 8.0
"""


def test_only_the_changes_with_events_count_and_the_missing_are_lost() -> None:
    figures = figures_of(METRICS, {"Book": ["created", "deleted"]})
    assert figures == {
        "events_written": 9,
        "events_published": 8,
        "events_dead": 0,
        "events_lost": 1,
        "publish_failures": 1,
        "lag_p95_seconds": 0.1,
    }
    caught_up = METRICS.replace(
        "outbox_events_published_total 8.0", "outbox_events_published_total 9.0"
    )
    assert figures_of(caught_up, {"Book": ["created", "deleted"]})["events_lost"] == 0


def test_without_published_events_there_is_no_lag() -> None:
    figures = figures_of("", {"Book": ["created"]})
    assert figures["events_written"] == figures["events_lost"] == 0
    assert figures["lag_p95_seconds"] is None


def test_the_check_runs_only_for_a_project_with_events(tmp_path: Path) -> None:
    project = Project(root=tmp_path, package="shelf", manifest={})
    assert events_of(project) == {}  # no IR: nothing to check
    (tmp_path / ".backforge").mkdir()
    ir = {"resources": [{"name": "Author"}, {"name": "Book", "events": ["created"]}]}
    (tmp_path / ".backforge" / "ir.json").write_text(json.dumps(ir), encoding="utf-8")
    assert events_of(project) == {"Book": ["created"]}


def test_a_declarative_action_of_a_resource_whose_updates_have_events_writes_one(
    tmp_path: Path,
) -> None:
    project = Project(root=tmp_path, package="shelf", manifest={})
    (tmp_path / ".backforge").mkdir()
    actions = [{"name": "publish", "handler": False}, {"name": "flag", "handler": True}]
    ir = {
        "resources": [
            {"name": "Book", "events": ["created", "updated"], "actions": actions},
            {"name": "Note", "events": ["created"], "actions": actions},
        ]
    }
    (tmp_path / ".backforge" / "ir.json").write_text(json.dumps(ir), encoding="utf-8")
    wanted = events_of(project)
    assert wanted == {"Book": ["created", "updated", "publish"], "Note": ["created"]}
    text = METRICS + 'resource_changes_total{resource="Book",action="publish"} 4.0\n'
    assert figures_of(text, wanted)["events_written"] == 7 + 3 + 4
