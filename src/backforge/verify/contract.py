"""contract: schemathesis against the running server, positive and negative data, every check.

The served /openapi.json must equal the project's openapi.json. Then
`schemathesis run URL/openapi.json --checks all --mode all --seed S --max-examples N` runs from a
scratch directory (so nothing lands in the project) with the project's schemathesis.toml when it
ships one, else an empty config. Figures come from schemathesis' JSON run report and its NDJSON
events (every request and response). Passes only with 0 failures, 0 errors and no 5xx answer.
schemathesis loads verify/contract_hooks.py, which leaves two things to the generated tests, as
the figures say: the special-use look-ahead of email fields (it costs the fuzzer minutes), and
the maximum length of long text (over LONG_TEXT characters: the fuzzer's too-long strings cost
it seconds per operation; test_hostile sends maxLength + 1 characters to every text field).
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from backforge.verify.context import VerifyContext
from backforge.verify.proc import run
from backforge.verify.projectenv import ProjectEnv
from backforge.verify.result import Outcome
from backforge.verify.server import RATE_LIMITS_NOTE

CONFIG = "schemathesis.toml"
HOOKS = Path(__file__).with_name("contract_hooks.py")  # run by schemathesis, see its docstring
LOOKAHEAD_EMAIL = '"pattern": "^(?!.*@'  # an email field's look-ahead, as json.dumps writes it
TIME_LIMIT = 600.0
LONG_TEXT = 4096  # characters; a longer maxLength is left to the generated tests


def command(
    executable: Path,
    url: str,
    config: Path,
    work: Path,
    *,
    seed: int,
    examples: int,
    headers: dict[str, str] | None = None,
) -> list[str]:
    """The schemathesis command line verify runs (as the admin, for a service with accounts)."""
    sent = [
        part for name, value in (headers or {}).items() for part in ("--header", f"{name}: {value}")
    ]
    return [
        str(executable),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--origin",
        url,
        "--checks",
        "all",
        "--mode",
        "all",
        "--seed",
        str(seed),
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(work / "run.json"),
        "--report-ndjson-path",
        str(work / "events.ndjson"),
        "--no-color",
        *sent,
    ]


def check(ctx: VerifyContext) -> Outcome:
    env = ctx.need_env()
    url = ctx.need_server()
    work = ctx.scratch("contract")
    figures: dict[str, Any] = {}
    figures["openapi_matches_served"] = _served_openapi(url) == ctx.project.openapi
    config = ctx.project.root / CONFIG
    if config.is_file():
        figures["config"] = _config_summary(config)
    else:
        config = work / "empty-schemathesis.toml"
        config.write_text("")
    executable = env.bin("schemathesis")
    argv = command(
        executable,
        url,
        config,
        work,
        seed=ctx.seed,
        examples=ctx.fuzz_examples,
        headers=ctx.auth_headers,
    )
    figures["authenticated"] = bool(ctx.auth_headers)
    environ = hooks_environ(env, work)
    left = left_to_generated_tests(ctx.project.openapi)
    if left:
        figures["left_to_generated_tests"] = left
    done = run(argv, cwd=work, env=environ, timeout=TIME_LIMIT)
    figures["seed"] = ctx.seed
    figures["rate_limits"] = RATE_LIMITS_NOTE
    figures["max_examples"] = ctx.fuzz_examples
    figures.update(run_report(work / "run.json"))
    figures.update(traffic(work / "events.ndjson"))
    problems = _problems(figures, done.ok)
    if problems and (done.timed_out or "operations_tested" not in figures):
        problems.append(done.describe(20))
    elif problems:
        problems.append(_failures_text(done.output))
    if figures.get("server_errors"):
        problems.append(ctx.server_log_tail())
    headline = (
        f"{figures.get('operations_tested', 0)} operations, {figures.get('requests', 0)} requests, "
        f"{figures.get('failures', '?')} failures, {figures.get('server_errors', '?')} 5xx"
    )
    return Outcome(not problems, figures, headline, "\n".join(problems))


def hooks_environ(env: ProjectEnv, work: Path) -> dict[str, str]:
    """The environment schemathesis runs in from `work`, with contract_hooks.py loaded."""
    shutil.copyfile(HOOKS, work / f"{HOOKS.stem}.py")
    return env.environ(
        {
            "SCHEMATHESIS_HOOKS": HOOKS.stem,
            "PYTHONPATH": str(work),
            "BACKFORGE_LONG_TEXT": str(LONG_TEXT),
        }
    )


def left_to_generated_tests(openapi: dict[str, Any]) -> list[str]:
    """What contract_hooks.py keeps from the fuzzer for this contract, and which test proves it."""
    left = []
    if LOOKAHEAD_EMAIL in json.dumps(openapi):
        left.append(
            "the special-use domain look-ahead of email fields (tests/test_unit_core.py): "
            "the fuzzer sends no special-use address"
        )
    long_text = sorted(set(_long_text(openapi.get("components", {}).get("schemas", {}))))
    if long_text:
        left.append(
            f"the maximum length of text over {LONG_TEXT} characters ({', '.join(long_text)}; "
            "tests/test_hostile.py sends one character more): the fuzzer sends no longer string"
        )
    return left


def _long_text(schemas: dict[str, Any]) -> list[str]:
    """`Schema.field` for each property that takes a string longer than LONG_TEXT."""
    return [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, prop in schema.get("properties", {}).items()
        if any(
            isinstance(branch.get("maxLength"), int) and branch["maxLength"] > LONG_TEXT
            for branch in (prop, *prop.get("anyOf", ()))
        )
    ]


def _served_openapi(url: str) -> object:
    try:
        response = httpx.get(f"{url}/openapi.json", timeout=10, trust_env=False)
        return response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None


def _problems(figures: dict[str, Any], exited_ok: bool) -> list[str]:
    problems = []
    if "invalid" in figures.get("config", {}):
        problems.append(f"{CONFIG} is not valid TOML: {figures['config']['invalid']}")
    if not figures["openapi_matches_served"]:
        problems.append("openapi.json differs from the /openapi.json the server serves")
    if "operations_tested" not in figures:
        problems.append("schemathesis wrote no run report")
        return problems
    if figures["operations_tested"] == 0:
        problems.append("schemathesis tested no operation")
    if figures["failures"]:
        codes = ", ".join(f"{f['code']} {f['title']} ({f['count']})" for f in figures["failed"])
        problems.append(f"{figures['failures']} failure(s): {codes}")
    if figures["errors"]:
        problems.append(f"{figures['errors']} error(s) while testing")
    if figures.get("server_errors"):
        problems.append(f"{figures['server_errors']} response(s) with a 5xx status")
    if not exited_ok and not problems:
        problems.append("schemathesis exited with an error")
    return problems


def run_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    operations, cases = data.get("operations", {}), data.get("test_cases", {})
    keys = ("code", "title", "count", "operations")
    failed = [{key: f.get(key) for key in keys} for f in data.get("failures", [])]
    return {
        "schemathesis_version": data.get("schemathesis_version"),
        "operations_total": operations.get("total", 0),
        "operations_tested": operations.get("tested", 0),
        "test_cases": cases.get("generated", 0),
        "failures": cases.get("unique_failures", 0),
        "failed": failed,
        "errors": len(data.get("errors", [])) + operations.get("errored", 0),
        "phases": {name: p.get("status") for name, p in data.get("phases", {}).items()},
        "complete": bool(data.get("complete")),
    }


def traffic(path: Path) -> dict[str, Any]:
    """Every response schemathesis recorded, counted by status code."""
    if not path.is_file():
        return {}
    statuses = Counter[str]()
    with path.open(encoding="utf-8") as events:
        for line in events:
            if '"ScenarioFinished"' not in line:
                continue
            recorder = json.loads(line)["ScenarioFinished"].get("recorder") or {}
            for interaction in (recorder.get("interactions") or {}).values():
                response = interaction.get("response")
                statuses[str(response["status_code"]) if response else "none"] += 1
    server_errors = sum(n for code, n in statuses.items() if code.startswith("5"))
    return {
        "requests": sum(statuses.values()),
        "server_errors": server_errors,
        "statuses": dict(sorted(statuses.items())),
    }


def _failures_text(output: str, limit: int = 40) -> str:
    """The FAILURES section of schemathesis' output, shortened."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if "FAILURES" in line), len(lines) - limit)
    return "\n".join(lines[max(start, 0) : max(start, 0) + limit])


def _config_summary(path: Path) -> dict[str, Any]:
    """What the project's schemathesis.toml changes, reported so nothing is weakened silently."""
    try:
        return {"file": CONFIG, "settings": tomllib.loads(path.read_text("utf-8"))}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return {"file": CONFIG, "invalid": str(exc)}
