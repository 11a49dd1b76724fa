"""The parts of the checks that read tool output and compute figures, on known inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backforge.verify.contract import (
    LONG_TEXT,
    command,
    left_to_generated_tests,
    run_report,
    traffic,
)
from backforge.verify.load import (
    Sample,
    interleaved,
    list_paths,
    per_template,
    percentile,
    read_targets,
    read_templates,
    records_in,
)
from backforge.verify.testsuite import coverage_figures, junit_counts, summary_counts

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.test_notes" name="test_a" file="tests/test_notes.py" line="1"/>
<testcase classname="tests.test_notes" name="test_b" file="tests/test_notes.py" line="5">
  <failure message="assert 1 == 2">boom</failure></testcase>
<testcase classname="tests.test_notes.TestX" name="test_c"><skipped message="later"/></testcase>
<testcase classname="tests.test_unit_x" name="test_d"><error message="fixture">e</error></testcase>
<testcase classname="tests.test_unit_x" name="test_e"/>
</testsuite></testsuites>
"""


def test_junit_counts_by_module(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    for name in ("test_notes.py", "test_unit_x.py"):
        (tmp_path / "tests" / name).write_text("")
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    counts = {name: dict(c) for name, c in junit_counts(path, tmp_path).items()}
    assert counts == {
        "tests/test_notes.py": {"passed": 1, "failed": 1, "errors": 0, "skipped": 1},
        "tests/test_unit_x.py": {"passed": 1, "failed": 0, "errors": 1, "skipped": 0},
    }


def test_pytest_closing_line() -> None:
    output = "..F\nFAILED tests/x.py::t\n2 passed, 1 failed, 1 error, 3 skipped in 0.3s\nwarn: x\n"
    assert summary_counts(output) == {"passed": 2, "failed": 1, "errors": 1, "skipped": 3}
    assert summary_counts("no tests ran in 0.01s\n") == {}


def test_line_coverage_not_branch(tmp_path: Path) -> None:
    path = tmp_path / "coverage.json"
    totals = {"num_statements": 200, "covered_lines": 173, "percent_covered": 70.0}
    path.write_text(json.dumps({"totals": totals}))
    assert coverage_figures(path) == {
        "coverage_percent": 86.5,
        "statements": 200,
        "covered_lines": 173,
    }
    assert coverage_figures(tmp_path / "missing.json") == {"coverage_percent": None}


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, q) for q in (0.5, 0.95, 0.99, 1.0)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) == 0.0


def test_load_uses_collections_only() -> None:
    get = {"get": {"responses": {"200": {}}}}
    openapi = {
        "paths": {
            "/healthz": get,
            "/readyz": get,
            "/api/v1/notes": {**get, "post": {}},
            "/api/v1/notes/{note_id}": get,
            "/api/v1/search": {"get": {"parameters": [{"name": "q", "required": True}]}},
            "/api/v1/tags": {"get": {"parameters": [{"name": "limit", "required": False}]}},
            "/api/v1/tags/export": {"post": {}},
            "/api/v1/tags/events": {  # a change feed: a stream, not a collection
                "get": {"responses": {"200": {"content": {"text/event-stream": {}}}}}
            },
            "/other": get,
        }
    }
    assert list_paths(openapi, "/api/v1") == ["/api/v1/notes", "/api/v1/tags"]
    assert list_paths(openapi) == ["/api/v1/notes", "/api/v1/tags", "/other"]
    assert list_paths(None) == []


def test_schemathesis_reports(tmp_path: Path) -> None:
    report = {
        "schemathesis_version": "4.32.5",
        "operations": {"total": 6, "tested": 6, "errored": 0},
        "test_cases": {"generated": 120, "unique_failures": 1},
        "failures": [
            {
                "code": "ST201",
                "title": "Schema-violating request accepted",
                "count": 1,
                "operations": ["POST /api/v1/notes"],
                "severity": "medium",
            }
        ],
        "errors": [],
        "phases": {"coverage": {"status": "failure"}, "fuzzing": {"status": "success"}},
        "complete": True,
    }
    (tmp_path / "run.json").write_text(json.dumps(report))
    figures = run_report(tmp_path / "run.json")
    assert figures["operations_tested"] == 6 and figures["test_cases"] == 120
    assert figures["failures"] == 1 and figures["errors"] == 0
    assert figures["failed"] == [
        {
            "code": "ST201",
            "title": "Schema-violating request accepted",
            "count": 1,
            "operations": ["POST /api/v1/notes"],
        }
    ]
    assert figures["phases"] == {"coverage": "failure", "fuzzing": "success"}
    assert run_report(tmp_path / "missing.json") == {}

    def finished(*codes: int | None) -> str:
        interactions = {
            str(i): {"response": None if code is None else {"status_code": code}}
            for i, code in enumerate(codes)
        }
        return json.dumps({"ScenarioFinished": {"recorder": {"interactions": interactions}}})

    events = [json.dumps({"Initialize": {}}), finished(200, 422, 500), finished(201, None)]
    (tmp_path / "events.ndjson").write_text("\n".join(events) + "\n")
    assert traffic(tmp_path / "events.ndjson") == {
        "requests": 5,
        "server_errors": 1,
        "statuses": {"200": 1, "201": 1, "422": 1, "500": 1, "none": 1},
    }


def test_schemathesis_command_line(tmp_path: Path) -> None:
    argv = command(
        Path("/env/bin/schemathesis"),
        "http://127.0.0.1:8123",
        tmp_path / "schemathesis.toml",
        tmp_path,
        seed=7,
        examples=30,
    )
    text = " ".join(argv)
    assert text.startswith(
        f"/env/bin/schemathesis --config-file {tmp_path}/schemathesis.toml run "
        "http://127.0.0.1:8123/openapi.json --origin http://127.0.0.1:8123 "
        "--checks all --mode all --seed 7 --max-examples 30"
    )


def test_what_the_fuzzer_leaves_to_the_generated_tests_is_named() -> None:
    def text(limit: int) -> dict[str, object]:
        return {"type": "string", "maxLength": limit}

    schemas = {
        "NoteCreate": {
            "properties": {
                "body": {"anyOf": [text(LONG_TEXT + 1), {"type": "null"}]},
                "title": text(LONG_TEXT),
            }
        },
        "NoteUpdate": {"properties": {"body": text(100_000)}},
    }
    [left] = left_to_generated_tests({"components": {"schemas": schemas}})
    assert "NoteCreate.body, NoteUpdate.body;" in left and "title" not in left
    assert "tests/test_hostile.py" in left
    email = {"type": "string", "format": "email", "pattern": "^(?!.*@[^@]*\\.test$)"}
    contract = {"components": {"schemas": {"Account": {"properties": {"email": email}}}}}
    [left] = left_to_generated_tests(contract)
    assert "special-use" in left
    assert left_to_generated_tests({"components": {"schemas": {"A": {"properties": {}}}}}) == []


def test_load_reads_records_by_the_keys_its_lists_answer() -> None:
    get = {"get": {"responses": {"200": {}}}}
    openapi = {
        "paths": {
            "/api/v1/questions": get,
            "/api/v1/questions/{slug}": get,
            "/api/v1/questions/{slug}/answers": get,
            "/api/v1/answers/{id}": get,
            "/api/v1/answers/{answerId}/comments": get,
            "/api/v1/questions/{slug}/vote": {"put": {}},
            "/api/v1/tags/{id}": {  # a read that needs a query parameter: not loaded
                "get": {"parameters": [{"name": "q", "in": "query", "required": True}]}
            },
        }
    }
    templates = read_templates(openapi, "/api/v1")
    assert templates == [
        "/api/v1/answers/{answerId}/comments",
        "/api/v1/answers/{id}",
        "/api/v1/questions/{slug}",
        "/api/v1/questions/{slug}/answers",
    ]
    answers = {  # an envelope, a page object, and a question without answers
        "/api/v1/questions": {"questions": [{"slug": "a b"}, {"slug": "c"}], "questionsCount": 2},
        "/api/v1/questions/a%20b/answers": {"items": [{"id": 7}], "next_cursor": None},
        "/api/v1/questions/c/answers": {"items": [], "next_cursor": None},
    }
    read: list[str] = []

    def answer(path: str) -> Any:
        read.append(path)
        return answers.get(path)

    targets = read_targets(templates, answer, ["/api/v1/questions"])
    assert targets == [
        # answers are listed under their questions only: those lists name them, by the
        # parameter of the answers' item path when a path names an answer otherwise
        ("/api/v1/answers/{answerId}/comments", "/api/v1/answers/7/comments"),
        ("/api/v1/answers/{id}", "/api/v1/answers/7"),
        ("/api/v1/questions/{slug}", "/api/v1/questions/a%20b"),
        ("/api/v1/questions/{slug}", "/api/v1/questions/c"),
        ("/api/v1/questions/{slug}/answers", "/api/v1/questions/a%20b/answers"),
        ("/api/v1/questions/{slug}/answers", "/api/v1/questions/c/answers"),
    ]
    assert len(read) == len(set(read))  # each list read once
    assert "/api/v1/questions/c/answers" in read
    assert records_in([{"id": 1}, 2]) == [{"id": 1}]
    assert records_in({"count": 0, "questions": []}) == []


def test_load_interleaves_templates_and_reports_each() -> None:
    targets = [("/a", "/a"), ("/b/{id}", "/b/1"), ("/b/{id}", "/b/2")]
    assert interleaved(targets) == [
        ("/a", "/a"),
        ("/b/{id}", "/b/1"),
        ("/a", "/a"),
        ("/b/{id}", "/b/2"),
    ]
    samples = [
        Sample("200", 0.010, "/a"),
        Sample("200", 0.030, "/a"),
        Sample("404", 0.002, "/b/{id}"),
    ]
    assert per_template(samples) == {
        "/a": {"requests": 2, "p50_ms": 10.0, "p95_ms": 30.0},
        "/b/{id}": {"requests": 1, "p50_ms": 2.0, "p95_ms": 2.0},
    }
