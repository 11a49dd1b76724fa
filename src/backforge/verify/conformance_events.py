"""What schemathesis found, per contract operation, read from its NDJSON events.

A failed check in a finished scenario names the operation it tested ("GET /pets/{petId}": the
method and the path template as the contract writes them; its case may be a probe with another
method); it becomes a difference of that operation, kept once per check and failure title, with
its first example request. An operation with at least one answered
request was exercised; an error schemathesis reports for one (it could not generate data, say)
is kept as that operation's reason for not being exercised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The checks conformance runs, and the kind of difference a failure of each is.
KINDS = {
    "not_a_server_error": "server_error",
    "status_code_conformance": "status",
    "content_type_conformance": "media_type",
    "response_headers_conformance": "headers",
    "response_schema_conformance": "shape",
    "negative_data_rejection": "accepts_invalid",
}
DETAIL_LIMIT = 1500  # characters of schemathesis' failure message kept per difference


@dataclass
class Findings:
    """Per operation key ("GET /pets/{petId}"): differences, requests answered, errors."""

    differences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answered: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, operation: str, difference: dict[str, Any]) -> None:
        """Keep `difference` unless the operation has one with the same check and title."""
        kept = self.differences.setdefault(operation, [])
        if all(_distinct(difference, other) for other in kept):
            kept.append(difference)


def _distinct(one: dict[str, Any], other: dict[str, Any]) -> bool:
    """Not the same failure: another check, or another title (the detail's first part)."""
    return (one["check"], _title(one)) != (other["check"], _title(other))


def _title(difference: dict[str, Any]) -> str:
    return str(difference["detail"]).partition(":")[0]


def read_events(path: Path) -> Findings:
    """The findings in a schemathesis NDJSON events file (empty when there is none)."""
    findings = Findings()
    if not path.is_file():
        return findings
    with path.open(encoding="utf-8") as events:
        for line in events:
            event = json.loads(line)
            if "ScenarioFinished" in event:
                _scenario(event["ScenarioFinished"].get("recorder") or {}, findings)
            elif "NonFatalError" in event:
                error = event["NonFatalError"]
                findings.errors.setdefault(str(error.get("label")), _error_text(error))
    return findings


def _scenario(recorder: dict[str, Any], findings: Findings) -> None:
    cases = recorder.get("cases") or {}
    interactions = recorder.get("interactions") or {}
    for case_id, case in cases.items():
        value = case.get("value") or {}
        operation = f"{str(value.get('method', '')).upper()} {value.get('path', '')}"
        interaction = interactions.get(case_id) or {}
        if interaction.get("response"):
            findings.answered[operation] = findings.answered.get(operation, 0) + 1
        for result in (recorder.get("checks") or {}).get(case_id, []):
            if result.get("status") == "failure" and result.get("name") in KINDS:
                failure = (result.get("failure_info") or {}).get("failure") or {}
                # the operation tested: a case may probe another method on its path
                tested = str(failure.get("operation") or operation)
                findings.add(tested, _difference(result["name"], failure, interaction))


def _difference(check: str, failure: dict[str, Any], interaction: dict[str, Any]) -> dict[str, Any]:
    title = str(failure.get("title") or check)
    message = str(failure.get("message") or "").strip()
    detail = f"{title}: {message}" if message else title
    if len(detail) > DETAIL_LIMIT:
        detail = detail[: DETAIL_LIMIT - 1] + "…"
    return {
        "kind": KINDS[check],
        "check": check,
        "detail": detail,
        "request": _request(interaction),
    }


def _request(interaction: dict[str, Any]) -> dict[str, Any]:
    """The example request: method, path (with the query) as sent, and the status answered."""
    request = interaction.get("request") or {}
    url = urlsplit(str(request.get("uri", "")))
    target = url.path + (f"?{url.query}" if url.query else "")
    response = interaction.get("response") or {}
    return {
        "method": request.get("method"),
        "path": target,
        "status": response.get("status_code"),
    }


def _error_text(error: dict[str, Any]) -> str:
    value = error.get("value")
    text = (value.get("message") or value.get("type")) if isinstance(value, dict) else value
    return str(text or "").strip() or "schemathesis could not test it"
