"""conformance (with `verify --contract FILE`): the running service against the user's contract.

An operation of the contract (method + path template) the service's own openapi.json does not
have is *missing*, decided statically: both sides' paths are compared under their base paths
(the contract's first `servers[].url`, none → ""), with parameter names set aside
(`/pets/{petId}` is `/pets/{id}`). The others are fuzzed by schemathesis, in the project's
environment, from a scratch directory, at the service's origin + the contract's base path,
with the contract check's hooks and headers (the admin's, for a service with accounts), running
only the checks of KINDS: what the service answers must be what the contract says (statuses,
media types, headers, shapes), it must never fail with a 5xx, and it must refuse what the
contract makes invalid. Not positive_data_acceptance: a service may refuse schema-valid data for
reasons a schema cannot state (a unique value taken, a stale If-Match, a reused idempotency
key), which the project's schemathesis.toml lists per operation of its own contract only; a
service stricter than the user's contract is therefore not reported.

Each operation ends conformant, different (its differences, one example request each),
missing, or not_exercised (no request answered); the check passes only when all are conformant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backforge.contractfile import METHODS, UserContract, base_path
from backforge.verify import contract
from backforge.verify.conformance_events import KINDS, Findings, read_events
from backforge.verify.context import VerifyContext
from backforge.verify.proc import run
from backforge.verify.result import CheckError, Outcome

HOOKS_NOTE = (
    "as in the contract check: no special-use email address is sent and maximum lengths over "
    f"{contract.LONG_TEXT} characters are not probed (verify/contract_hooks.py)"
)


def template(path: str) -> str:
    """A path template with its parameter names set aside: /pets/{petId} → /pets/{}."""
    out, depth = [], 0
    for char in path:
        if char == "{":
            depth += 1
            if depth == 1:
                out.append("{}")
        elif char == "}" and depth:
            depth -= 1
        elif not depth:
            out.append(char)
    return "".join(out)


def service_operations(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, template of the full path) of every operation in the service's openapi.json."""
    prefix = base_path(openapi)
    paths = openapi.get("paths")
    return {
        (method.upper(), template(prefix + str(path)))
        for path, item in (paths if isinstance(paths, dict) else {}).items()
        if isinstance(item, dict)
        for method in METHODS
        if isinstance(item.get(method), dict)
    }


def missing_operations(user: UserContract, openapi: dict[str, Any]) -> list[str]:
    """The keys of the contract's operations the service does not have, in contract order."""
    served = service_operations(openapi)
    prefix = user.base_path
    return [
        op.key
        for op in user.operations
        if (op.method.upper(), template(prefix + op.path)) not in served
    ]


def base_url(origin: str, user: UserContract) -> str:
    """Where the contract's paths are fuzzed: the service's origin + the contract's base path."""
    return origin.rstrip("/") + user.base_path


def command(
    executable: Path,
    user: UserContract,
    url: str,
    work: Path,
    *,
    seed: int,
    examples: int,
    skip: list[str],
    headers: dict[str, str],
) -> list[str]:
    """The schemathesis command line: the contract file, where it is, against `url`."""
    sent = [part for name, value in headers.items() for part in ("--header", f"{name}: {value}")]
    skipped = [part for key in skip for part in ("--exclude-name", key)]
    return [
        str(executable),
        *("--config-file", str(work / "empty-schemathesis.toml")),
        *("run", str(user.path.resolve()), "--url", url),
        *("--checks", ",".join(KINDS), "--mode", "all", "--continue-on-failure"),
        *("--seed", str(seed), "--max-examples", str(examples), "--workers", "1"),
        *("--request-timeout", "10", "--generation-database", "none"),
        *("--report", "json,ndjson", "--report-json-path", str(work / "run.json")),
        *("--report-ndjson-path", str(work / "events.ndjson"), "--no-color"),
        *skipped,
        *sent,
    ]


def check(ctx: VerifyContext) -> Outcome:
    user = ctx.contract
    if user is None:
        raise CheckError("no contract was given (verify --contract FILE)")
    env = ctx.need_env()
    url = base_url(ctx.need_server(), user)
    work = ctx.scratch("conformance")
    (work / "empty-schemathesis.toml").write_text("")
    missing = missing_operations(user, ctx.project.openapi or {})
    figures: dict[str, Any] = {"contract": str(user.path), "base_url": url}
    findings, problem = Findings(), ""
    if len(missing) < len(user.operations):
        argv = command(
            env.bin("schemathesis"),
            user,
            url,
            work,
            seed=ctx.seed,
            examples=ctx.fuzz_examples,
            skip=missing,
            headers=ctx.auth_headers,
        )
        done = run(
            argv, cwd=work, env=contract.hooks_environ(env, work), timeout=contract.TIME_LIMIT
        )
        ran = contract.run_report(work / "run.json")
        if not ran or done.timed_out:
            problem = f"schemathesis did not finish its run\n{done.describe(20)}"
        figures.update(_fuzzing(ctx, ran, work))
        findings = read_events(work / "events.ndjson")
    results = per_operation(user, missing, findings)
    figures.update(_counts(results))
    figures["per_operation"] = results
    ok = not problem and figures["conformant"] == figures["operations"]
    headline = (
        f"{figures['operations']} operations: {figures['conformant']} conformant, "
        f"{figures['different']} different, {figures['missing']} missing"
    )
    if figures["not_exercised"]:
        headline += f", {figures['not_exercised']} not exercised"
    return Outcome(ok, figures, headline, "\n".join(filter(None, [text(results), problem])))


def _fuzzing(ctx: VerifyContext, ran: dict[str, Any], work: Path) -> dict[str, Any]:
    traffic = contract.traffic(work / "events.ndjson")
    return {
        "schemathesis_version": ran.get("schemathesis_version"),
        "checks": list(KINDS),
        "seed": ctx.seed,
        "max_examples": ctx.fuzz_examples,
        "authenticated": bool(ctx.auth_headers),
        "rate_limits": contract.RATE_LIMITS_NOTE,
        "hooks": HOOKS_NOTE,
        "requests": traffic.get("requests", 0),
        "statuses": traffic.get("statuses", {}),
    }


def per_operation(user: UserContract, missing: list[str], found: Findings) -> list[dict[str, Any]]:
    """Every contract operation with its status and differences, in contract order."""
    results = []
    for op in user.operations:
        key = op.key
        entry: dict[str, Any] = {"operation": key}
        if key in missing:
            served = f"{op.method.upper()} {user.base_path}{op.path}"
            detail = f"the service has no operation {served} (in its openapi.json)"
            difference = {"kind": "missing", "check": None, "detail": detail, "request": None}
            entry.update(status="missing", differences=[difference])
        elif found.differences.get(key):
            entry.update(status="different", differences=found.differences[key])
        elif found.answered.get(key):
            entry.update(status="conformant", differences=[])
        else:
            reason = found.errors.get(key, "no request to it was answered")
            entry.update(status="not_exercised", differences=[], reason=reason)
        results.append(entry)
    return results


def _counts(results: list[dict[str, Any]]) -> dict[str, int]:
    statuses = [r["status"] for r in results]
    counts = {"operations": len(results)}
    for status in ("conformant", "different", "missing", "not_exercised"):
        counts[status] = statuses.count(status)
    return counts


def text(results: list[dict[str, Any]]) -> str:
    """The human account: a first line naming every operation that is not conformant, then a
    line per difference with its example request."""
    bad = [r for r in results if r["status"] != "conformant"]
    if not bad:
        return ""
    named = ", ".join(f"{r['operation']} ({_kinds(r)})" for r in bad)
    lines = [f"{len(bad)} of {len(results)} contract operations differ: {named}"]
    for result in bad:
        if result["status"] == "not_exercised":
            lines.append(f"  {result['operation']}: not exercised: {result['reason']}")
        for difference in result["differences"]:
            first = str(difference["detail"]).splitlines()[0]
            lines.append(
                f"  {result['operation']}: {difference['kind']}: {first}{_sent(difference)}"
            )
    return "\n".join(lines)


def _kinds(result: dict[str, Any]) -> str:
    kinds = dict.fromkeys(d["kind"] for d in result["differences"])
    return ", ".join(kinds) or str(result["status"]).replace("_", " ")


def _sent(difference: dict[str, Any]) -> str:
    request = difference.get("request")
    if not request:
        return ""
    check = f" [{difference['check']}]" if difference.get("check") else ""
    return f"{check} e.g. {request['method']} {request['path']} → {request['status']}"
