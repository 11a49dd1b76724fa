"""security: bandit over the generated package (tests excluded), JSON output.

`bandit -r <package> -c <config> -f json` with a config that excludes tests and runs every
plugin. Findings are counted by severity (and confidence) from the JSON report; the check passes
only with no medium or high severity finding. Low ones are reported, with where they are.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from backforge.verify.context import VerifyContext
from backforge.verify.proc import run
from backforge.verify.result import CheckError, Outcome

SEVERITIES = ("HIGH", "MEDIUM", "LOW")
CONFIG = "exclude_dirs: ['tests', 'migrations']\n"
SHOWN = 10


def check(ctx: VerifyContext) -> Outcome:
    env = ctx.need_env()
    root, package = ctx.project.root, ctx.project.package
    work = ctx.scratch("security")
    config = work / "bandit.yaml"
    config.write_text(CONFIG)
    output = work / "bandit.json"
    argv = [
        str(env.bin("bandit")),
        "-r",
        package,
        "-c",
        str(config),
        "-f",
        "json",
        "-o",
        str(output),
        "-q",
    ]
    done = run(argv, cwd=root, env=env.environ(), timeout=300)
    data = read_report(output)
    if data is None:  # exit 1 means findings; anything else without a report is a fault
        raise CheckError(f"bandit wrote no report\n{done.describe(15)}")
    figures = figures_of(data, root)
    figures["tool"] = "bandit"
    figures["target"] = package
    figures["excluded"] = ["tests", "migrations"]
    blocking = figures["high"] + figures["medium"]
    headline = (
        f"bandit: {figures['high']} high, {figures['medium']} medium, {figures['low']} low "
        f"in {figures['lines_scanned']} lines"
    )
    detail = ""
    if blocking:
        lines = [f for f in figures["findings"] if f.split(" ", 1)[0] in ("HIGH", "MEDIUM")]
        detail = f"{blocking} medium/high finding(s):\n" + "\n".join(lines[:SHOWN])
    if figures["errors"]:
        detail = (detail + "\n" if detail else "") + f"bandit could not scan: {figures['errors']}"
    return Outcome(not blocking and not figures["errors"], figures, headline, detail)


def read_report(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def figures_of(data: dict[str, Any], root: Path) -> dict[str, Any]:
    """Counts by severity, the scanned size, and one line per finding."""
    results = data.get("results") or []
    counts = {s.lower(): 0 for s in SEVERITIES}
    findings = []
    for item in results:
        severity = str(item.get("issue_severity", "")).upper()
        if severity.lower() in counts:
            counts[severity.lower()] += 1
        name = str(item.get("filename", "?"))
        if name.startswith(str(root)):
            name = name[len(str(root)) :].lstrip("/")
        findings.append(
            f"{severity} {item.get('test_id', '?')} {name}:{item.get('line_number', '?')} "
            f"{item.get('issue_text', '')} (confidence {item.get('issue_confidence', '?')})"
        )
    totals = (data.get("metrics") or {}).get("_totals") or {}
    return {
        **counts,
        "lines_scanned": int(totals.get("loc", 0)),
        "nosec": int(totals.get("nosec", 0)),
        "errors": [str(e.get("filename", e)) for e in data.get("errors") or []],
        "findings": findings,
    }
