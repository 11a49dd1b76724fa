"""`backforge import openapi`: public contracts of different styles become specs that validate,
with a report of every operation; contracts that cannot be read change nothing (exit 2).

The contracts are public documents shipped under tests/data/contracts (their licences beside
them): the OpenAPI Initiative's Petstore samples (3.0, `allOf`), its Tic Tac Toe (3.1) and USPTO
(a real API) samples, and Swagger's Petstore in its 3.0 and 3.1 editions (the 3.1 one refers to
schemas by `$id` and `$anchor`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from backforge.cli import main
from backforge.spec import load_spec

CONTRACTS = Path(__file__).parent / "data" / "contracts"
OAI = CONTRACTS / "oai-examples"
SWAGGER = CONTRACTS / "swagger-petstore"


def imported(tmp_path: Path, contract: Path, *extra: str) -> tuple[dict, dict, Path]:
    spec, report = tmp_path / "spec.yaml", tmp_path / "report.json"
    assert (
        main(["import", "openapi", str(contract), "-o", str(spec), "--report", str(report), *extra])
        == 0
    )
    load_spec(spec)  # the spec validates
    return yaml.safe_load(spec.read_text()), json.loads(report.read_text()), spec


def statuses(report: dict) -> dict[str, str]:
    return {op["operation"]: op["status"] for op in report["operations"]}


def reasons(report: dict, operation: str) -> list[str]:
    return next(
        op.get("reasons", []) for op in report["operations"] if op["operation"] == operation
    )


def test_petstore_maps_its_list_its_errors_and_its_pages(tmp_path: Path) -> None:
    spec, report, _ = imported(tmp_path, OAI / "petstore.yaml")
    assert statuses(report) == {
        "GET /pets": "mapped",
        "POST /pets": "changed",
        "GET /pets/{petId}": "changed",
    }
    assert reasons(report, "POST /pets") == ["the id is assigned by the server"]
    assert reasons(report, "GET /pets/{petId}") == ["{petId} is the record's integer id"]
    assert report["counts"] == {"mapped": 1, "changed": 2, "not_mapped": 0}
    assert spec["service"] == {
        "name": "swagger_petstore",
        "title": "Swagger Petstore",
        "version": "1.0.0",
    }
    assert spec["api"] == {
        "base_path": "/v1",  # the server's path
        "pagination": {
            "max_limit": 100,
            "shape": "array",
        },  # `limit` has maximum 100; Pets is an array
        "errors": {
            "media_type": "application/json",
            "members": {"code": "status", "message": "detail"},
        },
        "omit_nulls": True,  # `tag` is optional, and not nullable: it is left out, never null
    }
    assert spec["resources"] == {
        "Pet": {
            "plural": "pets",
            "fields": {"name": {"type": "text", "required": True}, "tag": "text"},
        }
    }


def test_petstore_expanded_merges_all_of_and_reads_filters(tmp_path: Path) -> None:
    spec, report, _ = imported(tmp_path, OAI / "petstore-expanded.yaml")
    assert statuses(report) == {
        "GET /pets": "changed",
        "POST /pets": "changed",
        "GET /pets/{id}": "mapped",
        "DELETE /pets/{id}": "mapped",
    }
    assert reasons(report, "GET /pets") == ["?tags= is ?tag= (one value) or ?tag__in=a,b"]
    assert reasons(report, "POST /pets") == ["answers 201, the contract says 200"]
    pet = spec["resources"]["Pet"]
    # Pet is allOf [NewPet, {id}]: NewPet's fields, and id is the automatic one
    assert pet["fields"] == {"name": {"type": "text", "required": True}, "tag": "text"}
    assert pet["filter"] == ["tag"]
    assert spec["api"]["base_path"] == "/v2"


def test_swagger_petstore_3_0_reports_every_operation(tmp_path: Path) -> None:
    spec, report, path = imported(tmp_path, SWAGGER / "openapi.yaml")
    found = statuses(report)
    assert len(found) == 19 and report["counts"] == {"mapped": 0, "changed": 7, "not_mapped": 12}
    assert found["GET /pet/findByStatus"] == "not_mapped"
    assert found["POST /pet/{petId}"] == "not_mapped"
    assert reasons(report, "POST /pet/{petId}") == [
        "POST on an item is not a create, read, update or delete"
    ]
    assert reasons(report, "GET /store/order/{orderId}") == [
        "/store/order is more than one segment: every resource is served at {base}/{plural}"
    ]
    read = reasons(report, "GET /pet/{petId}")
    assert "photoUrls: a list, stored as JSON: its items are not checked" in read
    assert "API keys are sent in X-API-Key, not 'api_key'" in read
    # /user/{username} names users by a field: the resource's lookup, unique and required
    assert reasons(report, "DELETE /user/{username}") == [
        "username is at most 255 characters (it names records)",
        "answers 204, the contract says 200",
    ]
    assert reasons(report, "POST /user") == [
        "the id is assigned by the server",
        "username is at most 255 characters (it names records)",
        "username is required (it names the record)",
        "answers 201, the contract says 200",
    ]
    assert spec["api"] == {
        "base_path": "/api/v3",
        "field_names": "camelCase",  # photoUrls, firstName, userStatus: as the contract writes
        "omit_nulls": True,
    }
    assert spec["resources"]["Member"]["fields"]["first_name"] == "text"
    assert spec["resources"]["Member"]["lookup"] == "username"
    assert spec["resources"]["Member"]["fields"]["username"] == {
        "type": "string",
        "required": True,
        "unique": True,
    }
    # the accounts take the name User: the contract's users are Members, served at /user
    assert set(spec["resources"]) == {"Pet", "Member"}
    assert spec["resources"]["Member"]["plural"] == "user"
    assert "User is Member: accounts take the name User" in report["notes"]
    assert spec["auth"] == {"users": True, "roles": ["admin", "member"], "api_keys": True}
    assert spec["resources"]["Pet"]["permissions"] == {
        "create": "authenticated",
        "read": "authenticated",
        "delete": "authenticated",
    }
    text = path.read_text()
    assert (
        "      photo_urls: {type: json, required: true}  # a list, stored as JSON: its items are "
        "not checked\n"
    ) in text
    assert "# - GET /pet/findByStatus: /pet/findByStatus is more than one segment" in text


def test_swagger_petstore_3_1_resolves_ids_and_anchors(tmp_path: Path) -> None:
    spec, report, _ = imported(tmp_path, SWAGGER / "openapi-3.1.yaml")
    assert statuses(report) == {
        "PUT /pet": "not_mapped",
        "POST /pet": "changed",
        "GET /pet/{petId}": "changed",
        "WEBHOOK newPet": "not_mapped",
    }
    fields = spec["resources"]["Pet"]["fields"]
    # petDetailsId refers to `/api/v31/components/schemas/petdetails#pet_details_id` (an $anchor)
    assert fields["pet_details_id"] == "bigint"
    # exclusiveMinimum 1 and exclusiveMaximum 10 (3.1 numbers) are min 2 and max 9
    assert fields["available_instances"] == {"type": "int", "min": 2, "max": 9}


def test_the_same_contract_gives_the_same_spec(tmp_path: Path) -> None:
    specs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        specs.append(imported(tmp_path / name, SWAGGER / "openapi.yaml")[2].read_bytes())
    assert specs[0] == specs[1]


@pytest.mark.parametrize(
    ("contract", "expected"),
    [
        (OAI / "tictactoe-3.1.yaml", "GET /board: a single object, not a collection of records"),
        (OAI / "uspto.yaml", "GET /{dataset}/{version}/fields: its path parameters do not name"),
    ],
)
def test_a_contract_without_resources_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], contract: Path, expected: str
) -> None:
    spec = tmp_path / "spec.yaml"
    assert main(["import", "openapi", str(contract), "-o", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "no operation maps to a resource" in err and expected in err
    assert list(tmp_path.iterdir()) == []


def test_relative_file_refs_are_followed(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "book.yaml").write_text(
        "Book:\n  type: object\n  required: [title]\n  properties:\n"
        "    id: {type: integer}\n    title: {type: string, maxLength: 200}\n"
        "    pages: {type: integer, minimum: 1}\n"
        "    status: {type: string, enum: [draft, published]}\n"
        "    publishedOn: {type: string, format: date, nullable: true}\n"
        "    isbn: {anyOf: [{type: string}, {type: 'null'}]}\n"
        "    price: {oneOf: [{type: number}, {type: string, pattern: '^[0-9.]+$'}]}\n"
    )
    (tmp_path / "api.yaml").write_text(
        "openapi: 3.0.3\ninfo: {title: Library, version: '2'}\npaths:\n"
        "  /books:\n    get:\n"
        "      parameters: [{name: offset, in: query, schema: {type: integer, minimum: 0}}]\n"
        "      responses:\n        '200':\n          description: ok\n"
        "          content:\n            application/json:\n              schema:\n"
        "                type: object\n                properties:\n"
        "                  items: {type: array, items: {$ref: 'schemas/book.yaml#/Book'}}\n"
        "  /books/{id}:\n    get:\n"
        "      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]\n"
        "      responses:\n        '200':\n          description: ok\n"
        "          content:\n            application/json:\n"
        "              schema: {$ref: 'schemas/book.yaml#/Book'}\n"
        "        '404': {description: none}\n        '422': {description: bad}\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    spec, report, _ = imported(out, tmp_path / "api.yaml")
    assert spec["resources"]["Book"]["fields"] == {
        "title": {"type": "string", "max_length": 200, "required": True},
        "pages": {"type": "int", "min": 1},
        "status": {"type": "enum", "values": ["draft", "published"]},
        "published_on": "date",
        "isbn": "text",  # anyOf a string and null: a nullable string
        "price": "json",  # oneOf two schemas: any JSON, said so in the report
    }
    assert statuses(report) == {"GET /books": "changed", "GET /books/{id}": "changed"}
    # pages and status are optional and not nullable, publishedOn is nullable: nulls stay
    assert reasons(report, "GET /books/{id}") == [
        "price: oneOf of 2 schemas: stored as JSON, not checked",
        "pages is null when it has no value",
        "status is null when it has no value",
        "price is null when it has no value",
    ]
    # no servers: no base path; pages are {items, …}; publishedOn is camelCase on the wire
    assert spec["api"] == {
        "base_path": "",
        "pagination": {"style": "offset"},  # the list takes ?offset=
        "field_names": "camelCase",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("openapi: 3.0.0\npaths: [\n", "api.yaml:3: not valid YAML"),
        (
            "swagger: '2.0'\npaths: {}\n",
            "api.yaml:1 at /swagger: a Swagger 2.0 document, not OpenAPI 3.0/3.1",
        ),
        (
            "openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths:\n"
            "  /a:\n    get:\n      responses:\n"
            "        '200': {$ref: '#/components/responses/Missing'}\n",
            "api.yaml:7 at /paths/~1a/get/responses/200/$ref: "
            "$ref '#/components/responses/Missing' does not resolve",
        ),
        (
            "openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths:\n"
            "  /a:\n    get:\n      responses:\n"
            "        '200': {$ref: 'other.yaml#/R'}\n",
            "other.yaml: no such file",
        ),
    ],
)
def test_a_contract_that_cannot_be_read_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    contract = tmp_path / "api.yaml"
    contract.write_text(text)
    spec = tmp_path / "spec.yaml"
    assert main(["import", "openapi", str(contract), "-o", str(spec)]) == 2
    assert expected in capsys.readouterr().err
    assert not spec.exists()


def test_an_existing_spec_is_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("mine")
    assert main(["import", "openapi", str(OAI / "petstore.yaml"), "-o", str(spec)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert spec.read_text() == "mine"
    assert main(["import", "openapi", str(OAI / "petstore.yaml"), "-o", str(spec), "--force"]) == 0
    assert spec.read_text().startswith("# Imported from petstore.yaml (OpenAPI 3.0.0)")
