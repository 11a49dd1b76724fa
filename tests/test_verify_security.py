"""The security check's reading of bandit's JSON report."""

from __future__ import annotations

from pathlib import Path

from backforge.verify.security import figures_of


def test_findings_are_counted_by_severity(tmp_path: Path) -> None:
    data = {
        "results": [
            {
                "issue_severity": "HIGH",
                "issue_confidence": "HIGH",
                "test_id": "B602",
                "filename": f"{tmp_path}/pkg/run.py",
                "line_number": 3,
                "issue_text": "shell=True",
            },
            {
                "issue_severity": "LOW",
                "issue_confidence": "HIGH",
                "test_id": "B101",
                "filename": f"{tmp_path}/pkg/a.py",
                "line_number": 9,
                "issue_text": "assert",
            },
        ],
        "metrics": {"_totals": {"loc": 120, "nosec": 1}},
        "errors": [],
    }
    figures = figures_of(data, tmp_path)
    assert (figures["high"], figures["medium"], figures["low"]) == (1, 0, 1)
    assert figures["lines_scanned"] == 120 and figures["nosec"] == 1
    assert figures["findings"][0] == "HIGH B602 pkg/run.py:3 shell=True (confidence HIGH)"


def test_a_clean_report_has_no_findings(tmp_path: Path) -> None:
    figures = figures_of({"results": [], "metrics": {"_totals": {"loc": 10}}}, tmp_path)
    assert figures["high"] == figures["medium"] == figures["low"] == 0
    assert figures["findings"] == [] and figures["errors"] == []
