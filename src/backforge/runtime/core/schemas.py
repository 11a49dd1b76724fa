"""Base classes of every request and response schema."""

import types
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Union, get_args, get_origin
from urllib.parse import urlencode

from fastapi import Request, Response
from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)
from pydantic_core import to_json
from starlette.datastructures import QueryParams

from .errors import UnsupportedMediaTypeError
from .spec import PAGINATION


class InputModel(BaseModel):
    """Request bodies and query parameters: unknown keys are refused, not ignored."""

    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


class OutputModel(BaseModel):
    """Response bodies: only the fields a schema lists are ever serialised."""

    model_config = ConfigDict(populate_by_name=True)


def _without_nulls(schema: dict[str, Any]) -> None:
    """A nullable property becomes its type alone, and optional: it is left out when null."""
    optional = set()
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf")
        if isinstance(options, list) and {"type": "null"} in options and len(options) == 2:
            del prop["anyOf"]
            prop.update(next(o for o in options if o != {"type": "null"}))
            optional.add(name)
        if "default" in prop and prop["default"] is None:
            del prop["default"]
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in optional]


class CompactOutputModel(OutputModel):
    """A record whose fields without a value are left out (`api.omit_nulls`): never null on
    the wire, so the documented schema of each optional field is its type alone."""

    model_config = ConfigDict(populate_by_name=True, json_schema_extra=_without_nulls)

    # Without a return annotation: with one, the documented schema would be the annotation's.
    @model_serializer(mode="wrap")
    def _omit_nulls(self, serialize: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        return {key: value for key, value in serialize(self).items() if value is not None}


Params = TypeVar("Params", bound=BaseModel)


def query_reader(model: type[Params]) -> Callable[[QueryParams], tuple[Params | None, list[Any]]]:
    """Reads `model` from a query string in one validation, as FastAPI's
    `Annotated[model, Query()]` does (same values, same errors) for a fraction of its CPU:
    FastAPI inspects every field's annotation on every request. Gives the model or the errors."""
    sequences = {f.alias or n for n, f in model.model_fields.items() if _sequence(f.annotation)}
    fields = {f.alias or n for n, f in model.model_fields.items()}

    def read(query: QueryParams) -> tuple[Params | None, list[Any]]:
        data: dict[str, Any] = {}
        for key in query:
            if key in sequences:
                data[key] = query.getlist(key)
            elif key in fields:
                data[key] = query[key]
            else:  # an unknown parameter: the model refuses it
                given = query.getlist(key)
                data[key] = given[0] if len(given) == 1 else given
        try:
            return model.model_validate(data), []
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            return None, [{**error, "loc": ("query", *error["loc"])} for error in errors]

    return read


def _sequence(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_sequence(arg) for arg in get_args(annotation))
    return origin in (list, set, tuple, frozenset)


def json_response(model: BaseModel, headers: Mapping[str, str] | None = None) -> Response:
    """`model` as a 200 JSON response, serialised once, as FastAPI would serialise it.

    Routes that return it declare `response_model` for the OpenAPI document only: FastAPI
    would otherwise validate the model a second time before serialising it."""
    body = model.__pydantic_serializer__.to_json(model, by_alias=True)
    return Response(body, media_type="application/json", headers=headers)


_NEXT = {"description": 'The next page (RFC 8288, rel="next"), absent on the last page.'}
_TOTAL = {"description": "How many records match the filters.", "schema": {"type": "integer"}}
PAGE_LINKS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "One page of records; the next one is in the Link header.",
        "headers": {
            "Link": {**_NEXT, "schema": {"type": "string"}},
            **({"X-Total-Count": _TOTAL} if PAGINATION == "offset" else {}),
        },
    }
}


def array_response(request: Request, page: BaseModel) -> Response:
    """A page (`items` and its cursor or offset) as a bare JSON array of its items: the next
    page, if any, in a Link header relative to the request (RFC 8288) and, when paging by
    offset, the number of matching records in X-Total-Count."""
    headers: dict[str, str] = {}
    data = page.__dict__
    if PAGINATION == "cursor":
        if data["next_cursor"]:
            headers["Link"] = _next_link(request, cursor=data["next_cursor"])
    else:
        headers["X-Total-Count"] = str(data["total"])
        if data["offset"] + data["limit"] < data["total"]:
            headers["Link"] = _next_link(request, offset=data["offset"] + data["limit"])
    body = to_json(data["items"], by_alias=True)
    return Response(body, media_type="application/json", headers=headers)


def _next_link(request: Request, **changes: Any) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    query = urlencode([*kept, *((k, str(v)) for k, v in changes.items())])
    return f'<{request.url.path}?{query}>; rel="next"'


async def require_json(request: Request) -> None:
    """Refuse a request body that is not JSON with 415, before it is parsed."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaTypeError("Send the request body as application/json.")
