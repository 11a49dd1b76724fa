"""The report's OWASP API Security Top 10 (2023) section: for each risk, what guards against it in
this generated service and which generated test shows it, derived from the project's files and
the figures its checks measured. A risk nothing in the project addresses says so.

Each item: id, name, status ("guarded", "partial", "not covered", "not applicable"), guards
(what is in place), tests (project files that exercise it, only those that exist) and gaps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from backforge.report.facts import library_of

HTTP_CLIENTS = frozenset({"httpx", "requests", "aiohttp", "urllib3", "pycurl"})


def owasp_top10(
    root: Path,
    manifest: Mapping[str, Any],
    openapi: Mapping[str, Any],
    checks: Sequence[Mapping[str, Any]],
    graph: Mapping[str, list[str]],
) -> list[dict[str, Any]]:
    """``graph``: what each module of the package imports (``facts.import_graph``)."""
    facts = _facts(root, manifest, openapi, {c["name"]: c for c in checks}, graph)
    return [item(facts) for item in ITEMS]


def _facts(
    root: Path,
    manifest: Mapping[str, Any],
    openapi: Mapping[str, Any],
    checks: Mapping[str, Mapping[str, Any]],
    graph: Mapping[str, list[str]],
) -> dict[str, Any]:
    package = str(manifest.get("package", ""))
    core = root / package / "core"
    ir = _read_json(root / ".backforge" / "ir.json")
    resources = ir.get("resources") or []
    schemes = (openapi.get("components") or {}).get("securitySchemes") or {}
    tests = {p.relative_to(root).as_posix() for p in (root / "tests").glob("test_*.py")}
    outbound = sorted(  # the modules that import an HTTP client library
        module
        for module, imported in graph.items()
        if HTTP_CLIENTS.intersection(filter(None, map(library_of, imported)))
    )
    figures = {name: check.get("figures") or {} for name, check in checks.items()}
    webhooks = f"{package}/core/delivery.py" if ir.get("webhooks") else None
    return {
        "webhooks": webhooks,  # the module that sends webhooks, SSRF-guarded
        "unguarded": [module for module in outbound if module != webhooks],
        "auth": bool(schemes) or "tests/test_auth.py" in tests,
        "owned": any(r.get("owned") for r in resources),
        "roles": bool((ir.get("auth") or {}).get("roles")),
        "rate_limits": (core / "ratelimit.py").is_file(),
        "limits": (ir.get("limit_anonymous"), ir.get("limit_authenticated")),
        "headers": (core / "security.py").is_file(),
        "redacted": sorted(
            f["name"] for r in resources for f in r.get("fields", []) if not f.get("readable", 1)
        ),
        "max_limit": ir.get("max_limit"),
        "tests": tests,
        "outbound": outbound,
        "figures": figures,
        "statuses": {name: check.get("status") for name, check in checks.items()},
        "endpoints": sum(len(v) for v in (openapi.get("paths") or {}).values()),
    }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _entry(
    facts: Mapping[str, Any],
    code: str,
    name: str,
    status: str,
    guards: list[str],
    tests: list[str],
    gaps: list[str] | None = None,
) -> dict[str, Any]:
    present = [t for t in tests if t in facts["tests"]]
    if status == "guarded" and len(present) < len([t for t in tests if t.startswith("tests/")]):
        status = "partial"  # a test the guard relies on is missing from the project
    return {
        "id": f"{code}:2023",
        "name": name,
        "status": status,
        "guards": guards,
        "tests": present,
        "gaps": gaps or [],
    }


def _hostile(facts: Mapping[str, Any]) -> str:
    hostile = facts["figures"].get("tests", {}).get("hostile") or {}
    if not hostile:
        return "tests/test_hostile.py sends hostile input to every endpoint"
    return (
        f"measured: {hostile.get('requests')} hostile requests, "
        f"{hostile.get('server_errors')} answered 5xx, database unchanged after each refusal"
    )


def api1(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Broken Object Level Authorization"
    if facts["auth"] and facts["owned"]:
        guards = ["owned records are looked up with their owner: another user's record is 404"]
        return _entry(facts, "API1", name, "guarded", guards, ["tests/test_access.py"])
    guards = ["ids are validated integers (1..2^53-1); unknown ids are 404"]
    gaps = [
        "no owned resources (or no authentication) in this service: every caller may read "
        "every record the permissions open; object-level checks do not apply"
    ]
    return _entry(facts, "API1", name, "not covered", guards, ["tests/test_hostile.py"], gaps)


def api2(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Broken Authentication"
    if facts["auth"]:
        guards = [
            "token authentication (see tests): tampered, expired and alg=none tokens are "
            "401; refresh tokens rotate and reuse is refused"
        ]
        if facts["rate_limits"]:
            guards.append("log-in attempts are rate limited (core/ratelimit.py hit())")
        return _entry(facts, "API2", name, "guarded", guards, ["tests/test_auth.py"])
    gaps = ["no authentication is generated for this service: the API is open to every caller"]
    return _entry(facts, "API2", name, "not applicable", [], [], gaps)


def api3(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Broken Object Property Level Authorization"
    guards = [
        "input schemas forbid unknown and read-only keys (id, version, timestamps): mass "
        "assignment is 422",
        "output schemas list their fields; ORM rows are never serialised wholesale",
    ]
    if facts["redacted"]:
        guards.append(f"write-only/hidden fields never returned: {', '.join(facts['redacted'])}")
    tests = ["tests/test_hostile.py", *sorted(t for t in facts["tests"] if _resource_test(t))[:1]]
    if facts["auth"]:
        tests.append("tests/test_access.py")
    return _entry(facts, "API3", name, "guarded", guards, tests)


def _resource_test(name: str) -> bool:
    generic = {
        "hostile",
        "transport",
        "health",
        "queries",
        "conditional",
        "deployment",
        "hooks",
        "observability",
        "serve",
        "unit_core",
        "auth",
        "access",
    }
    stem = name.removeprefix("tests/test_").removesuffix(".py")
    return name.startswith("tests/test_") and stem not in generic


def api4(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Unrestricted Resource Consumption"
    guards = [
        f"page size bounded (at most {facts['max_limit']}), `__in` filters at most 50 values, "
        "search text at most 200 characters",
        "request bodies bounded (MAX_BODY_BYTES, 413, counted while streaming) and JSON "
        "nesting bounded (MAX_JSON_DEPTH, 400)",
        "database statement timeout (DB_STATEMENT_TIMEOUT_MS) and bounded connection pool",
    ]
    status = "partial"
    gaps = []
    if facts["rate_limits"]:
        anonymous, authenticated = facts["limits"]
        guards.append(
            f"rate limits: {anonymous} per client address, {authenticated} per identity "
            "(RATE_LIMIT_*), shared across processes through Redis when REDIS_URL is set"
        )
        status = "guarded"
    else:
        gaps.append("no rate limiting")
    guards.append(_hostile(facts))
    tests = ["tests/test_transport.py", "tests/test_hostile.py"]
    return _entry(facts, "API4", name, status, guards, tests, gaps)


def api5(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Broken Function Level Authorization"
    if facts["auth"] and facts["roles"]:
        guards = [
            "each action checks the caller's role against the spec's permissions; "
            "routes are closed unless the spec opens them"
        ]
        return _entry(facts, "API5", name, "guarded", guards, ["tests/test_access.py"])
    gaps = ["no roles or authentication in this service: every function is open to every caller"]
    return _entry(facts, "API5", name, "not covered", [], [], gaps)


def api6(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Unrestricted Access to Sensitive Business Flows"
    gaps = [
        "no flow-specific protection (captcha, per-flow quotas, device checks) is generated;"
        " add them in hooks for flows that need them"
    ]
    if facts["rate_limits"]:
        guards = ["generic per-address and per-identity rate limits slow automated abuse"]
        return _entry(facts, "API6", name, "partial", guards, ["tests/test_transport.py"], gaps)
    return _entry(facts, "API6", name, "not covered", [], [], gaps)


def api7(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Server Side Request Forgery"
    if facts["unguarded"]:
        gaps = ["outbound HTTP calls found, not checked for SSRF: " + ", ".join(facts["unguarded"])]
        return _entry(facts, "API7", name, "not covered", [], [], gaps)
    if facts["webhooks"]:
        guards = [
            "webhook URLs are resolved and refused when any address is private, loopback, "
            "link-local (the metadata address 169.254.169.254), multicast, reserved or "
            "unique-local IPv6, at registration (422) and again before every delivery, which "
            "connects to the address checked; no credentials in URLs, https only in production, "
            f"redirects not followed ({facts['webhooks']})"
        ]
        gaps = ["WEBHOOK_ALLOW_PRIVATE_TARGETS=true turns the guard off: never in production"]
        return _entry(facts, "API7", name, "guarded", guards, ["tests/test_webhooks.py"], gaps)
    guards = [
        "the generated service fetches no URL: url fields are validated and stored, never "
        "requested (no outbound HTTP client call in the package)"
    ]
    return _entry(facts, "API7", name, "not applicable", guards, [])


def api8(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Security Misconfiguration"
    guards = [
        "errors are RFC 9457 problem documents without internals; a last-resort handler logs "
        "the request id and answers a generic 500",
        "settings validated at start; secrets only from the environment",
    ]
    tests = []
    if facts["headers"]:
        guards.append(
            "security headers on every response (nosniff, X-Frame-Options DENY, no-referrer, "
            "CSP, CORP; HSTS when configured; no-store on errors); CORS off unless CORS_ORIGINS"
        )
        tests.append("tests/test_transport.py")
    bandit = facts["figures"].get("security") or {}
    if "high" in bandit:
        guards.append(
            f"bandit: {bandit['high']} high, {bandit['medium']} medium, {bandit['low']} low "
            "findings in the package"
        )
    status = (
        "guarded"
        if facts["headers"] and facts["statuses"].get("security") == "passed"
        else "partial"
    )
    return _entry(facts, "API8", name, status, guards, tests)


def api9(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Improper Inventory Management"
    guards = [
        f"openapi.json documents all {facts['endpoints']} operations; the manifest lists every "
        "generated file and its spec hash; the API version is in the base path",
    ]
    contract = facts["figures"].get("contract") or {}
    if contract.get("openapi_matches_served"):
        guards.append(
            "verified: the served /openapi.json equals the committed openapi.json, and "
            "schemathesis exercised every documented operation"
        )
    return _entry(facts, "API9", name, "guarded", guards, [])


def api10(facts: Mapping[str, Any]) -> dict[str, Any]:
    name = "Unsafe Consumption of APIs"
    if facts["webhooks"] and not facts["unguarded"]:
        guards = [
            "webhook deliveries read only the receiver's status and a capped Retry-After, "
            "never its body; no redirects are followed; timeouts are bounded"
        ]
        return _entry(facts, "API10", name, "guarded", guards, ["tests/test_webhooks.py"])
    if facts["outbound"]:
        gaps = ["outbound integrations found; their answers are not validated by generated code"]
        return _entry(facts, "API10", name, "not covered", [], [], gaps)
    gaps = ["no outbound integrations are generated: nothing consumes third-party APIs"]
    return _entry(facts, "API10", name, "not applicable", [], [], gaps)


ITEMS = (api1, api2, api3, api4, api5, api6, api7, api8, api9, api10)
