"""tests: the project's own pytest suite under coverage, on a scratch database.

Counts come from pytest's JUnit XML (xunit1, which names each test's file); line coverage of the
generated package from `coverage json`. Fails on any failed or erroring test, on no test at all,
and on line coverage under MIN_COVERAGE percent. On Python >= 3.12 coverage measures through
sys.monitoring (COVERAGE_CORE=sysmon): the same line figures at a fraction of the C tracer's cost.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backforge.verify.context import VerifyContext
from backforge.verify.proc import Completed, run
from backforge.verify.result import Outcome
from backforge.verify.scratchdb import engine_of, scratch_database

MIN_COVERAGE = 80.0
KINDS = ("passed", "failed", "errors", "skipped")


# Generated modules that the project's conftest collects on some databases only.
DATABASE_ONLY = {
    "tests/test_outage.py": (
        "postgresql",
        "cuts a PostgreSQL server's connections through a proxy; this database cannot be cut",
    ),
}


def not_run(root: Path, database: str) -> list[dict[str, str]]:
    """The generated test modules that do not run on `database`, and why (never skipped and
    counted: they are not collected)."""
    return [
        {"test": test, "reason": f"runs on {needs} only: {why}"}
        for test, (needs, why) in DATABASE_ONLY.items()
        if database != needs and (root / test).is_file()
    ]


def check(ctx: VerifyContext) -> Outcome:
    env = ctx.need_env()
    root, package = ctx.project.root, ctx.project.package
    work = ctx.scratch("tests")
    junit, cov_json = work / "junit.xml", work / "coverage.json"
    py = str(env.python)
    with scratch_database(ctx, "tests") as url:
        # the contract names DATABASE_URL; generated suites also read TEST_DATABASE_URL
        scratch = {"DATABASE_URL": url, "TEST_DATABASE_URL": url}
        hostile = work / "hostile.json"
        core = coverage_core(env.python_version)
        environ = env.environ(
            {
                **scratch,
                "COVERAGE_FILE": str(work / ".coverage"),
                "COVERAGE_CORE": core,
                "HOSTILE_REPORT": str(hostile),
            }
        )
        coverage_run = [py, "-m", "coverage", "run", f"--source={package}"]
        pytest_args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        argv = [*coverage_run, *pytest_args, "-o", "junit_family=xunit1"]
        pytest = run(argv, cwd=root, env=environ, timeout=900)
    if any(work.glob(".coverage.*")):
        run([py, "-m", "coverage", "combine"], cwd=root, env=environ, timeout=120)
    run([py, "-m", "coverage", "json", "-o", str(cov_json)], cwd=root, env=environ, timeout=120)

    modules = junit_counts(junit, root) if junit.is_file() else {}
    totals = Counter[str]()
    for counts in modules.values():
        totals.update(counts)
    if not modules:
        totals.update(summary_counts(pytest.output))
    coverage = coverage_figures(cov_json)
    figures: dict[str, Any] = {kind: totals[kind] for kind in KINDS}
    figures["database"] = engine_of(ctx.database_url)
    figures.update(coverage)
    figures["coverage_core"] = core
    figures["modules"] = {name: dict(counts) for name, counts in sorted(modules.items())}
    figures["hostile"] = hostile_figures(hostile)
    figures["not_run"] = not_run(root, figures["database"])
    problems = _problems(pytest, totals, coverage, junit)
    unwritten = unwritten_handlers(root, package, env.python, environ)
    if unwritten:
        figures["unwritten_handlers"] = unwritten
        problems.append(
            "handler actions not written yet (they answer 501): "
            + "; ".join(f"{u['action']}: add `{u['method']}` to {u['file']}" for u in unwritten)
        )
    unhandled = unwritten_consumers(root, package, env.python, environ)
    if unhandled:
        figures["unwritten_consumers"] = unhandled
        problems.append(
            "event handlers not written yet (their events wait in the inbox): "
            + "; ".join(
                f"{u['subscription']}: add `{u['function']}` to {u['file']}" for u in unhandled
            )
        )
    if figures["hostile"].get("server_errors"):
        problems.append(f"{figures['hostile']['server_errors']} hostile request(s) got a 5xx")
    headline = f"{totals['passed']} passed, {totals['failed'] + totals['errors']} failed"
    if coverage.get("coverage_percent") is not None:
        headline += f", coverage {coverage['coverage_percent']}%"
    if figures["hostile"]:
        hostile_counts = figures["hostile"]
        headline += (
            f"; {hostile_counts['requests']} hostile requests, "
            f"{hostile_counts['server_errors']} 5xx"
        )
    return Outcome(not problems, figures, headline, "\n".join(problems))


def coverage_core(python: tuple[int, int]) -> str:
    """sys.monitoring where the interpreter has it (3.12+), else the C tracer."""
    return "sysmon" if python >= (3, 12) else "ctrace"


def hostile_figures(path: Path) -> dict[str, Any]:
    """What tests/test_hostile.py counted: requests sent, 5xx among them, statuses."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or "requests" not in data:
        return {}
    keys = ("requests", "cases", "server_errors", "statuses")
    return {key: data.get(key) for key in keys}


# Asks the project which handler methods its `<Resource>Actions` classes lack (argv[1]: JSON
# [[module, class, [method, ...]], ...]); prints the missing ones as JSON [[module, method]].
_MISSING_METHODS = """
import importlib, json, sys
missing = []
for module, name, methods in json.loads(sys.argv[1]):
    found = getattr(importlib.import_module(module), name, None)
    missing += [[module, m] for m in methods if not callable(getattr(found, m, None))]
print(json.dumps(missing))
"""


def unwritten_handlers(
    root: Path, package: str, python: Path, environ: Mapping[str, str]
) -> list[dict[str, str]]:
    """The handler actions (`handler: true`) whose method the user's `<resource>/actions.py`
    does not define yet, as the project itself answers (it imports the classes): the service
    answers them 501, so it is not delivered."""
    try:
        ir = json.loads((root / ".backforge" / "ir.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    wanted, where = [], {}
    for resource in ir.get("resources", []):
        handlers = [a["name"] for a in resource.get("actions", []) if a.get("handler")]
        if handlers:
            module = f"{package}.{resource['module']}.actions"
            wanted.append([module, f"{resource['name']}Actions", handlers])
            where[module] = resource["name"], f"{package}/{resource['module']}/actions.py"
    if not wanted:
        return []
    asked = run(
        [python, "-c", _MISSING_METHODS, json.dumps(wanted)], cwd=root, env=environ, timeout=120
    )
    try:
        missing = json.loads(asked.output.strip().splitlines()[-1]) if asked.ok else []
    except (ValueError, IndexError):
        missing = []  # the project does not import: its tests say why
    return [
        {"action": f"{where[m][0]}.{method}", "method": method, "file": where[m][1]}
        for m, method in missing
    ]


# Asks the project which subscriptions have no handler yet (its consumers package imports each
# consumers/<name>.py); prints their names as JSON.
_UNHANDLED = """
import importlib, json, sys
consumers = importlib.import_module(sys.argv[1] + ".consumers")
print(json.dumps(sorted(consumers.NAMES - set(consumers.handlers()))))
"""


def unwritten_consumers(
    root: Path, package: str, python: Path, environ: Mapping[str, str]
) -> list[dict[str, str]]:
    """The subscriptions (`consumes`) whose `consumers/<name>.py` defines no `handle` yet, as
    the project itself answers: their events are never handled, so it is not delivered."""
    try:
        ir = json.loads((root / ".backforge" / "ir.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not ir.get("consumers"):
        return []
    asked = run([python, "-c", _UNHANDLED, package], cwd=root, env=environ, timeout=120)
    try:
        missing = json.loads(asked.output.strip().splitlines()[-1]) if asked.ok else []
    except (ValueError, IndexError):
        missing = []  # the project does not import: its tests say why
    return [
        {
            "subscription": name,
            "function": "async def handle(event, session)",
            "file": f"{package}/consumers/{name}.py",
        }
        for name in missing
    ]


def _problems(
    pytest: Completed, totals: Counter[str], coverage: dict[str, Any], junit: Path
) -> list[str]:
    problems = []
    if totals["failed"] or totals["errors"]:
        names = ", ".join(_failing(junit)[:8])
        problems.append(f"{totals['failed']} failed, {totals['errors']} errors: {names}")
    elif not pytest.ok:
        problems.append(pytest.describe(15))
    elif totals["passed"] == 0:
        problems.append("no test passed")
    percent = coverage.get("coverage_percent")
    if percent is None:
        problems.append("coverage was not measured")
    elif percent < MIN_COVERAGE:
        problems.append(f"line coverage {percent}% is under {MIN_COVERAGE:.0f}%")
    if problems and pytest.output and not pytest.ok:
        problems.append(pytest.describe(15))
    return list(dict.fromkeys(problems))


def _outcome(case: ET.Element) -> str:
    for child, kind in (("failure", "failed"), ("error", "errors"), ("skipped", "skipped")):
        if case.find(child) is not None:
            return kind
    return "passed"


def _module(case: ET.Element, root: Path) -> str:
    file = case.get("file")
    if file:
        return file
    parts = (case.get("classname") or "").split(".")
    for end in range(len(parts), 0, -1):
        candidate = Path(*parts[:end]).with_suffix(".py")
        if (root / candidate).is_file():
            return candidate.as_posix()
    return ".".join(parts) or "?"


def junit_counts(path: Path, root: Path) -> dict[str, Counter[str]]:
    modules: dict[str, Counter[str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        counts = modules.setdefault(_module(case, root), Counter({k: 0 for k in KINDS}))
        counts[_outcome(case)] += 1
    return modules


def _failing(path: Path) -> list[str]:
    if not path.is_file():
        return []
    names = []
    for case in ET.parse(path).getroot().iter("testcase"):
        if _outcome(case) in ("failed", "errors"):
            names.append(f"{case.get('classname', '')}::{case.get('name', '')}")
    return names


_SUMMARY = re.compile(r"(\d+) (passed|failed|errors?|skipped)\b")


def summary_counts(output: str) -> Counter[str]:
    """Counts from pytest's closing line (the last line naming any), when no JUnit file exists."""
    counts = Counter[str]()
    for line in reversed(output.splitlines()):
        found = _SUMMARY.findall(line)
        if found:
            for number, kind in found:
                counts["errors" if kind.startswith("error") else kind] += int(number)
            break
    return counts


def coverage_figures(path: Path) -> dict[str, Any]:
    try:
        totals = json.loads(path.read_text())["totals"]
    except (OSError, ValueError, KeyError):
        return {"coverage_percent": None}
    statements, covered = int(totals["num_statements"]), int(totals["covered_lines"])
    percent = round(100.0 * covered / statements, 1) if statements else 0.0
    return {"coverage_percent": percent, "statements": statements, "covered_lines": covered}
