"""The report's OWASP API Security Top 10 (2023) section, derived from the project's facts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from backforge.report.facts import import_graph
from backforge.report.owasp import owasp_top10


def by_id(items: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {item["id"].split(":")[0]: item for item in items}


def test_every_risk_is_answered_for_a_generated_project(bookstore: Path) -> None:
    manifest = json.loads((bookstore / ".backforge" / "manifest.json").read_text())
    openapi = json.loads((bookstore / "openapi.json").read_text())
    checks = [
        {"name": "security", "status": "passed", "figures": {"high": 0, "medium": 0, "low": 0}},
        {
            "name": "tests",
            "status": "passed",
            "figures": {"hostile": {"requests": 451, "server_errors": 0}},
        },
        {"name": "contract", "status": "passed", "figures": {"openapi_matches_served": True}},
    ]
    graph = import_graph(bookstore, manifest["package"], None)
    items = by_id(owasp_top10(bookstore, manifest, openapi, checks, graph))
    assert list(items) == [f"API{n}" for n in range(1, 11)]
    # bookstore has no auth and no owned resources: the report must not claim otherwise
    assert items["API1"]["status"] == "not covered"
    assert items["API2"]["status"] == "not applicable"
    assert items["API5"]["status"] == "not covered"
    assert "tests/test_access.py" not in items["API3"]["tests"]
    api4 = items["API4"]
    assert api4["status"] == "guarded"
    assert any("120/minute per client address" in g for g in api4["guards"])
    assert any("451 hostile requests, 0 answered 5xx" in g for g in api4["guards"])
    assert api4["tests"] == ["tests/test_transport.py", "tests/test_hostile.py"]
    assert items["API6"]["status"] == "partial"
    assert items["API7"]["status"] == "not applicable"
    assert items["API8"]["status"] == "guarded"
    assert any("bandit: 0 high, 0 medium, 0 low" in g for g in items["API8"]["guards"])
    assert any("served /openapi.json" in g for g in items["API9"]["guards"])
    assert "no outbound integrations" in items["API10"]["gaps"][0]


def test_auth_and_ownership_change_the_answers(bookstore: Path, tmp_path: Path) -> None:
    openapi = {"components": {"securitySchemes": {"bearer": {"type": "http"}}}, "paths": {}}
    project = tmp_path / "p"
    (project / "tests").mkdir(parents=True)
    (project / ".backforge").mkdir()
    for name in ("test_auth.py", "test_access.py"):
        (project / "tests" / name).write_text("")
    ir = {
        "auth": {"roles": ["admin"]},
        "resources": [{"name": "Book", "owned": True, "fields": []}],
    }
    (project / ".backforge" / "ir.json").write_text(json.dumps(ir))
    items = by_id(owasp_top10(project, {"package": "p"}, openapi, [], {}))
    assert items["API1"]["status"] == "guarded"
    assert items["API1"]["tests"] == ["tests/test_access.py"]
    assert items["API2"]["tests"] == ["tests/test_auth.py"]
    assert items["API5"]["status"] == "guarded"
    assert items["API4"]["status"] == "partial"  # no core/ratelimit.py in this project
    assert items["API8"]["status"] == "partial"  # no headers module, no bandit run


def test_outbound_calls_are_not_claimed_safe(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "__init__.py").write_text("")
    (tmp_path / "p" / "fetch.py").write_text("import httpx\nhttpx.AsyncClient().get(url)\n")
    (tmp_path / "p" / "local.py").write_text("import json\nfrom p import fetch\n")
    env = tmp_path / "env"  # a virtualenv where `import httpx` resolves
    (env / "lib" / "python3.11" / "site-packages" / "httpx").mkdir(parents=True)
    (env / "lib" / "python3.11" / "site-packages" / "httpx" / "__init__.py").write_text("")
    (env / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\nversion = 3.11.7\n")
    graph = import_graph(tmp_path, "p", env)
    items = by_id(owasp_top10(tmp_path, {"package": "p"}, {}, [], graph))
    assert items["API7"]["gaps"][0].count("p/") == 1  # only the module that imports the client
    assert items["API7"]["status"] == "not covered"
    assert "p/fetch.py" in items["API7"]["gaps"][0]
    assert items["API10"]["status"] == "not covered"
