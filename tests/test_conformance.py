"""verify --contract FILE, without a server: which contract operations the service lacks (base path
and parameter names taken into account), where they are fuzzed, how a bad contract is refused
(exit 2, the file and the JSON pointer named, nothing written), and how a recorded schemathesis
run is attributed to the contract's operations (tests/data/conformance, see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from verify_miniproject import write_project

from backforge.cli import main
from backforge.contractfile import base_path, load_contract
from backforge.errors import ContractError
from backforge.verify.conformance import (
    base_url,
    missing_operations,
    per_operation,
    template,
    text,
)
from backforge.verify.conformance_events import Findings, read_events

DATA = Path(__file__).parent / "data" / "conformance"
SERVICE = {  # the service's own openapi.json, as far as matching reads it
    "openapi": "3.1.0",
    "paths": {
        "/api/v1/pets": {"get": {}, "post": {}},
        "/api/v1/pets/{id}": {"get": {}, "delete": {}, "parameters": []},
        "/healthz": {"get": {}},
    },
}


def contract(tmp_path: Path, document: dict[str, Any], name: str = "contract.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def openapi(paths: dict[str, Any], servers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}}
    if servers is not None:
        document["servers"] = servers
    document["paths"] = paths
    return document


VARIABLES = {"scheme": {"default": "https"}, "base": {"default": "b1", "enum": ["b1", "b2"]}}
OK = {"responses": {"200": {"description": "ok"}}}


def test_parameter_names_are_set_aside_in_path_templates() -> None:
    assert template("/pets/{petId}") == template("/pets/{id}") == "/pets/{}"
    assert template("/a/{x}/b/{y}.json") == "/a/{}/b/{}.json"
    assert template("/pets") != template("/pets/")


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        (None, ""),
        ([], ""),
        ([{"url": "http://petstore.swagger.io/v1"}], "/v1"),
        ([{"url": "https://api.example.com/api/v1/"}, {"url": "/other"}], "/api/v1"),
        ([{"url": "/v2"}], "/v2"),
        ([{"url": "v2"}], "/v2"),
        ([{"url": "/"}], ""),
        ([{"url": "http://example.com"}], ""),
        ([{"url": "{scheme}://x.io/{base}", "variables": VARIABLES}], "/b1"),
    ],
)
def test_the_base_path_is_the_path_of_the_first_server(
    servers: list[dict[str, Any]] | None, expected: str
) -> None:
    assert base_path(openapi({}, servers)) == expected


def test_the_contract_is_fuzzed_at_the_service_origin_and_its_base_path(tmp_path: Path) -> None:
    servers = [{"url": "http://petstore.swagger.io/v1"}]
    user = load_contract(contract(tmp_path, openapi({"/pets": {"get": OK}}, servers)))
    assert base_url("http://127.0.0.1:8123", user) == "http://127.0.0.1:8123/v1"
    bare = load_contract(contract(tmp_path, openapi({"/pets": {"get": OK}}), "bare.json"))
    assert base_url("http://127.0.0.1:8123/", bare) == "http://127.0.0.1:8123"


def test_missing_operations_are_decided_under_the_base_path_with_any_parameter_names(
    tmp_path: Path,
) -> None:
    paths = {
        "/pets": {"get": OK, "post": OK, "put": OK},  # PUT: the service has no such method
        "/pets/{petId}": {"get": OK, "delete": OK, "parameters": []},  # renamed: still there
        "/pets/{petId}/toys": {"get": OK},  # no such path
        "/healthz": {"get": OK},  # /api/v1/healthz: not served under the base path
    }
    servers = [{"url": "https://pets.example/api/v1"}]
    user = load_contract(contract(tmp_path, openapi(paths, servers)))
    keys = [op.key for op in user.operations]
    assert keys == [
        "GET /pets",
        "PUT /pets",
        "POST /pets",
        "GET /pets/{petId}",
        "DELETE /pets/{petId}",
        "GET /pets/{petId}/toys",
        "GET /healthz",
    ]
    missing = missing_operations(user, SERVICE)
    assert missing == ["PUT /pets", "GET /pets/{petId}/toys", "GET /healthz"]
    # without servers, the contract's paths are the service's full paths
    user = load_contract(contract(tmp_path, openapi({"/healthz": {"get": OK}}), "root.json"))
    assert missing_operations(user, SERVICE) == []


def test_a_relative_file_ref_is_followed_where_the_contract_is(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "pets.yaml").write_text(
        "pets:\n  get:\n    responses:\n      '200': {$ref: '#/ok'}\nok: {description: ok}\n"
    )
    path = tmp_path / "contract.yaml"
    path.write_text(
        "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n"
        "paths:\n  /api/v1/pets:\n    $ref: 'parts/pets.yaml#/pets'\n"
    )
    user = load_contract(path)
    assert [op.key for op in user.operations] == ["GET /api/v1/pets"]
    assert missing_operations(user, SERVICE) == []


BAD = {
    "not YAML": ("c.yaml", "openapi: 3.1.0\npaths: [unclosed\n", ["c.yaml:", "not valid YAML"]),
    "not JSON": ("c.json", '{"openapi": "3.1.0",\n  "paths": }', ["c.json:2", "not valid JSON"]),
    "a list": ("c.yaml", "- openapi\n", ["c.yaml", "not an OpenAPI document"]),
    "empty": ("c.yaml", "\n", ["c.yaml", "the file is empty"]),
    "no version": ("c.yaml", "paths: {}\n", ["c.yaml", "no `openapi` version"]),
    "swagger": ("c.yaml", "swagger: '2.0'\npaths: {}\n", ["c.yaml:1 at /swagger", "Swagger 2.0"]),
    "version 2.5": ("c.yaml", "openapi: 2.5.0\npaths: {}\n", ["at /openapi", "use 3.0 or 3.1"]),
    "no operation": ("c.yaml", "openapi: 3.1.0\npaths: {}\n", ["c.yaml", "no operation"]),
    "local ref": (
        "c.yaml",
        "openapi: 3.0.3\npaths:\n  /pets:\n    get:\n      responses:\n"
        "        '200': {$ref: '#/components/responses/Nope'}\n",
        ["c.yaml:6 at /paths/~1pets/get/responses/200/$ref", "'#/components/responses/Nope'"],
    ),
    "missing file": (
        "c.yaml",
        "openapi: 3.0.3\npaths:\n  /pets:\n    $ref: 'gone.yaml#/pets'\n",
        ["gone.yaml: no such file (named by the $ref at", "c.yaml /paths/~1pets/$ref"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_contract_is_refused_before_anything_runs(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, body, expected = BAD[case]
    project = write_project(tmp_path / "notes")
    before = sorted(p.relative_to(project) for p in project.rglob("*"))
    bad = tmp_path / name
    bad.write_text(body, encoding="utf-8")
    assert main(["verify", str(project), "--contract", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "in the contract:" in err and "nothing was written." in err
    for part in expected:
        assert part in err, err
    assert sorted(p.relative_to(project) for p in project.rglob("*")) == before
    with pytest.raises(ContractError):
        load_contract(bad)


def test_a_contract_that_does_not_exist_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write_project(tmp_path / "notes")
    assert main(["verify", str(project), "--contract", str(tmp_path / "nope.yaml")]) == 2
    assert f"{tmp_path / 'nope.yaml'}: no such file" in capsys.readouterr().err
    assert not (project / "backforge-report.json").exists()


def test_new_refuses_a_bad_contract_before_generating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "shop"
    spec = Path(__file__).parents[1] / "examples" / "bookstore.yaml"
    assert main(["new", str(spec), "-o", str(out), "--contract", str(tmp_path / "x.json")]) == 2
    assert "x.json: no such file" in capsys.readouterr().err
    assert not out.exists()


def test_quick_refuses_a_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = write_project(tmp_path / "notes")
    good = contract(tmp_path, openapi({"/pets": {"get": OK}}))
    assert main(["verify", "--quick", str(project), "--contract", str(good)]) == 2
    assert "--contract needs the running service" in capsys.readouterr().err
    assert not (project / "backforge-report.json").exists()


def test_a_recorded_run_is_attributed_to_the_contracts_operations() -> None:
    """The recorded run: tests/data/conformance/contract.json against bookstore (its README)."""
    user = load_contract(DATA / "contract.json")
    bookstore = {"openapi": "3.1.0", "paths": {"/api/v1/authors/{id}": {"get": {}}}}
    bookstore["paths"]["/api/v1/tags"] = {"get": {}, "post": {}}
    bookstore["paths"]["/api/v1/tags/{id}"] = {"get": {}}
    missing = missing_operations(user, bookstore)
    assert missing == ["GET /publishers"]
    findings = read_events(DATA / "events.ndjson")
    results = {r["operation"]: r for r in per_operation(user, missing, findings)}
    assert {key: r["status"] for key, r in results.items()} == {
        "GET /authors/{authorId}": "different",
        "GET /tags": "conformant",
        "POST /tags": "different",
        "GET /tags/{id}": "different",
        "GET /publishers": "missing",
    }
    kinds = {key: [d["kind"] for d in r["differences"]] for key, r in results.items()}
    assert kinds["GET /authors/{authorId}"] == ["shape"]
    assert kinds["POST /tags"] == ["status"]
    assert kinds["GET /tags/{id}"] == ["accepts_invalid"]  # its required query is ignored
    assert kinds["GET /publishers"] == ["missing"]
    status = results["POST /tags"]["differences"][0]
    assert status["check"] == "status_code_conformance"
    assert status["request"] == {"method": "POST", "path": "/api/v1/tags", "status": 201}
    assert status["detail"].startswith("Undocumented status code: Received: 201")
    shape = results["GET /authors/{authorId}"]["differences"][0]
    assert shape["check"] == "response_schema_conformance"
    assert shape["request"]["path"].startswith("/api/v1/authors/")
    assert '"nickname" is a required property' in shape["detail"]
    missing_one = results["GET /publishers"]["differences"][0]
    assert missing_one["request"] is None and "GET /api/v1/publishers" in missing_one["detail"]
    # the unsatisfiable query parameter: schemathesis said so, for that operation
    assert "Nothing satisfies `minimum: 5`" in findings.errors["GET /tags/{id}"]
    first = text(list(results.values())).splitlines()[0]
    assert first == (
        "4 of 5 contract operations differ: GET /authors/{authorId} (shape), "
        "POST /tags (status), GET /tags/{id} (accepts_invalid), GET /publishers (missing)"
    )


def test_an_operation_no_request_reached_is_not_exercised(tmp_path: Path) -> None:
    user = load_contract(contract(tmp_path, openapi({"/a": {"get": OK}, "/b": {"get": OK}})))
    findings = Findings(answered={"GET /a": 3}, errors={"GET /b": "cannot generate data"})
    results = per_operation(user, [], findings)
    assert [(r["operation"], r["status"]) for r in results] == [
        ("GET /a", "conformant"),
        ("GET /b", "not_exercised"),
    ]
    assert results[1]["reason"] == "cannot generate data"
    assert "GET /b (not exercised)" in text(results)
