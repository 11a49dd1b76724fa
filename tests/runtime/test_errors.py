"""core/errors.py: problem documents (RFC 9457) for raised errors, HTTP errors and validation
failures, and which database errors mean "unavailable, retry"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from asgiclient import Client
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import exc as db_errors
from svc.core import errors


class Item(BaseModel):
    name: str
    price: int


@pytest.fixture
def service(client: Callable[[Any], Client]) -> Client:
    """An app with the error handlers and routes that fail in the ways tested below."""
    app = FastAPI()
    errors.install_error_handlers(app)

    @app.get("/items/{item_id}")
    async def read(item_id: int) -> dict[str, int]:
        raise errors.NotFoundError(f"No item {item_id}.", headers={"X-Probe": "1"})

    @app.post("/items")
    async def create(item: Item) -> Item:
        return item

    @app.delete("/items/{item_id}")
    async def delete(item_id: int) -> None:
        raise db_errors.OperationalError("DELETE", {}, ConnectionRefusedError("refused"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    return client(app)


def test_a_raised_problem_error_answers_with_its_problem_document(service: Client) -> None:
    response = service.get("/items/7")
    assert response.status_code == 404
    assert response.headers["content-type"] == errors.PROBLEM_JSON
    assert response.headers["x-probe"] == "1"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No item 7.",
        "instance": "/items/7",
        "code": 404,  # the spec's extension members (tests/runtime/conftest.py)
        "message": "No item 7.",
    }


def test_extension_members_copy_the_title_when_there_is_no_detail() -> None:
    body = errors.problem_body(418, "I'm a teapot", None, "/tea")
    assert body == {
        "type": "about:blank",
        "title": "I'm a teapot",
        "status": 418,
        "instance": "/tea",
        "code": 418,
        "message": "I'm a teapot",
    }


def test_the_documented_problem_schema_requires_the_extension_members() -> None:
    schema = errors.Problem.model_json_schema()
    assert schema["title"] == "Problem"
    assert {"title", "status", "code", "message"} <= set(schema["required"])
    assert schema["properties"]["code"]["type"] == "integer"


def test_validation_errors_name_each_field(service: Client) -> None:
    response = service.request("POST", "/items", json={"name": "pen", "price": "cheap"})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "The request failed validation."
    assert [(e["field"], e["type"]) for e in body["errors"]] == [("body.price", "int_parsing")]


def test_a_body_that_is_not_json_gets_one_message(service: Client) -> None:
    response = service.request(
        "POST", "/items", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "The request body is not valid JSON."
    assert "errors" not in response.json()


def test_405_lists_every_method_the_path_allows(service: Client) -> None:
    response = service.request("PUT", "/items/7")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert response.json()["title"] == "Method Not Allowed"


def test_an_unreachable_database_is_a_503_to_retry(service: Client) -> None:
    response = service.request("DELETE", "/items/7")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["title"] == "Service Unavailable"


def test_an_unexpected_error_is_a_500_without_details(service: Client) -> None:
    response = service.get("/boom")
    assert response.status_code == 500
    assert response.json()["detail"] == "An unexpected error occurred."
    assert "a bug" not in response.text


def test_the_bearer_challenge_names_the_service() -> None:
    error = errors.UnauthorizedError("Token expired.", error="invalid_token")
    assert error.headers == {"WWW-Authenticate": 'Bearer realm="svc", error="invalid_token"'}


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def wrapped(driver_error: Exception) -> db_errors.DBAPIError:
    return db_errors.DBAPIError("SELECT 1", {}, driver_error)


@pytest.mark.parametrize(
    ("sqlstate", "unavailable", "conflict"),
    [
        ("08006", True, False),  # connection failure
        ("40001", True, True),  # serialization failure: retry at once
        ("40P01", True, True),  # deadlock
        ("57014", True, False),  # statement timeout
        ("55P03", True, False),  # lock not available
        ("23505", False, False),  # unique violation: the request's own fault
    ],
)
def test_database_errors_are_told_apart_by_sqlstate(
    sqlstate: str, unavailable: bool, conflict: bool
) -> None:
    error = wrapped(DriverError(sqlstate))
    assert errors.database_unavailable(error) is unavailable
    assert errors.transient_conflict(error) is conflict


def test_the_cause_of_a_wrapped_error_is_followed() -> None:
    try:
        try:
            raise DriverError("53300")  # too many connections
        except DriverError as cause:
            raise ValueError("while reading") from cause
    except ValueError as error:
        assert errors.database_unavailable(error)


def test_precondition_documents_428_only_when_if_match_is_required() -> None:
    assert errors.PRECONDITION.keys() == {412}  # the test spec: IF_MATCH_REQUIRED = False
