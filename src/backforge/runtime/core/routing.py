"""The routes of the API, on the application's own router, and the hot reads' fast path.

Every router here carries its full path and its routes go on the application's router as they
are (main.py), built once per process: an included router costs every request FastAPI's
matching through it, and every new application (each test makes one) its routes' set-up again.
`AppRoute` keeps what inclusion gave: the application's dependency overrides apply.

FastAPI answers a request by solving the endpoint's dependencies through its general solver,
opening two exit stacks and wrapping the handler for exceptions; for a read by id that costs
more CPU than the read itself. A `DirectRoute` is declared and documented like any other (on a
router with `route_class=DirectRoute`) but solves what its endpoint needs directly, while the
application's `state.fast_reads` (the FAST_READS setting) is on; off, FastAPI answers.
"""

import inspect
from collections.abc import Callable
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.params import Param
from fastapi.routing import APIRoute, request_response
from pydantic import BaseModel, ValidationError, create_model
from starlette.datastructures import QueryParams
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .db import release_reads
from .schemas import query_reader
from .spec import API_PREFIX as API_PREFIX  # the routers' prefix, imported from here


class AppRoute(APIRoute):
    """A route of the application's own router, made once and shared by every application
    of the process; while an application has dependency overrides (tests), FastAPI's handler
    is made again with them."""

    overridable: ASGIApp | None = None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Starlette's matching alone: the route is never in an included router, so FastAPI's
        look-up of an including router is not needed."""
        match, child_scope = Route.matches(self, scope)
        if match != Match.NONE:
            child_scope["route"] = self
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["app"].dependency_overrides and scope["method"] in (self.methods or ()):
            await self.answer_by_fastapi(scope, receive, send)
            return
        await super().handle(scope, receive, send)

    async def answer_by_fastapi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own answer, with the application's dependency overrides (the handler made
        with the route does not know the application)."""
        app = scope["app"]
        if self.overridable is None or self.dependency_overrides_provider is not app:
            self.dependency_overrides_provider = app
            self.overridable = request_response(self.get_route_handler())
        await self.overridable(scope, receive, send)


class DirectRoute(AppRoute):
    """An endpoint of path and header parameters, at most one query parameter model, the
    Request and dependencies that need nothing but the Request and one another (the session,
    the caller, security schemes), returning a Response: no body, no cookies.

    As FastAPI does, the dependencies are solved first (each once per request), then the path
    and header parameters are validated, together in one call of a model made of their own
    fields, and the query model in one more (`query_reader`): values and 422 errors are what
    FastAPI would give, and the OpenAPI document is FastAPI's, from the same signature. While
    the application has dependency overrides, or FAST_READS is off, FastAPI answers. An
    endpoint that needs more is refused when the route is declared."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependant = self.dependant
        models = [f for f in dependant.query_params if _is_model(f.field_info.annotation)]
        refused = _unsupported(dependant, top=True)
        if len(models) != len(dependant.query_params) or len(models) > 1:
            refused.append("query parameters other than one model")
        if refused:
            raise TypeError(
                f"{endpoint.__name__} cannot be a DirectRoute: it takes {', '.join(refused)}"
            )
        fields = [*dependant.path_params, *dependant.header_params]
        self.params = create_model(  # type: ignore[call-overload]
            f"{endpoint.__name__}_params",
            **{field.name: _model_field(field.field_info) for field in fields},
        )
        # Where each parameter is read and where its errors point, e.g. ("header", "if-match").
        self.sources = {
            field.name: (cast(Param, field.field_info).in_.value, field.alias) for field in fields
        }
        self.headers = {
            field.alias.lower().encode("latin-1"): field.name for field in dependant.header_params
        }
        # Path parameters named otherwise in the path than in the endpoint (`{userName}`).
        self.renamed = {f.alias: f.name for f in dependant.path_params if f.alias != f.name}
        self.query: tuple[str, Callable[[QueryParams], tuple[Any, list[Any]]]] | None = None
        if models:
            model = cast(type[BaseModel], models[0].field_info.annotation)  # see _is_model above
            self.query = (models[0].name, query_reader(model))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["app"]
        general = app.dependency_overrides or not getattr(app.state, "fast_reads", True)
        if scope["method"] not in (self.methods or ()) or general:
            await super().handle(scope, receive, send)  # a 405, or FastAPI's answer
            return
        request = Request(scope, receive, send)
        values = await _solve(self.dependant, request, {})
        parameters, errors = self.read_params(scope)
        values.update(parameters)
        if self.query is not None:
            name, read = self.query
            values[name], query_errors = read(request.query_params)
            if query_errors:  # in FastAPI's order: path, query, then header errors
                in_path = [error for error in errors if error["loc"][0] == "path"]
                errors = [*in_path, *query_errors, *errors[len(in_path) :]]
        if errors:
            raise RequestValidationError(errors)
        response = await self.endpoint(**values)
        await release_reads(scope)
        await response(scope, receive, send)

    def read_params(self, scope: Scope) -> tuple[dict[str, Any], list[Any]]:
        """The path and header parameters, validated, or their errors (path ones first)."""
        given = dict(scope["path_params"])  # path parameters go by their own names
        if self.renamed:
            given = {self.renamed.get(key, key): value for key, value in given.items()}
        if self.headers:
            for key, value in scope["headers"]:
                name = self.headers.get(key)
                if name is not None and name not in given:  # the first, as Starlette's get
                    given[name] = value.decode("latin-1")
        try:
            return dict(self.params.model_validate(given).__dict__), []
        except ValidationError as exc:
            sources = self.sources
            errors = [
                {**error, "loc": (*sources[str(error["loc"][0])], *error["loc"][1:])}
                for error in exc.errors(include_url=False)
            ]
            return {}, sorted(errors, key=lambda error: error["loc"][0] != "path")


def location(request: Request, name: str, /, **params: Any) -> str:
    """The URL of a named route, for a Location header: under PUBLIC_URL when it is set, else a
    relative path (RFC 9110 §10.2.2 allows it). Never built from the request's Host header,
    which the client chooses. Parameter values are percent-encoded (a key may hold spaces)."""
    segments = {key: quote(str(value), safe="") for key, value in params.items()}
    path = str(request.app.url_path_for(name, **segments))
    base: str | None = request.app.state.settings.public_url
    if base:
        return base.rstrip("/") + path
    root: str = request.scope.get("root_path", "")
    return root + path


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _model_field(info: Any) -> tuple[Any, Any]:
    """A parameter as a field of a plain model: its type and constraints, its default."""
    default = ... if info.is_required() else info.default
    if not info.metadata:
        return info.annotation, default
    return Annotated[(info.annotation, *info.metadata)], default


def _unsupported(dependant: Dependant, top: bool = False) -> list[str]:
    """What of `dependant` a DirectRoute cannot give (nothing, for the endpoint it supports)."""
    needs: dict[str, object] = {
        "a body": dependant.body_params,
        "cookies": dependant.cookie_params,
        "the Response": dependant.response_param_name,
        "background tasks": dependant.background_tasks_param_name,
        "security scopes": dependant.security_scopes_param_name,
    }
    if not top:  # a dependency: nothing from the request but the Request itself
        needs["parameters"] = [*dependant.path_params, *dependant.query_params]
        needs["headers"] = dependant.header_params
        call: Any = dependant.call  # a function, or an object with __call__ (security schemes)
        run = call if inspect.isroutine(call) else call.__call__
        needs["a dependency that is not a coroutine"] = not inspect.iscoroutinefunction(run)
    refused = [name for name, needed in needs.items() if needed]
    for dependency in dependant.dependencies:
        refused += [need for need in _unsupported(dependency) if need not in refused]
    return refused


async def _solve(dependant: Dependant, request: Request, solved: dict[Any, Any]) -> dict[str, Any]:
    """The arguments `dependant` gets from its dependencies and the Request; each dependency
    is called once per request, as FastAPI caches it."""
    values: dict[str, Any] = {}
    for dependency in dependant.dependencies:
        call = dependency.call
        if call in solved and dependency.use_cache:
            values[dependency.name] = solved[call]  # type: ignore[index]
            continue
        value = await call(**await _solve(dependency, request, solved))  # type: ignore[misc]
        solved[call] = values[dependency.name] = value  # type: ignore[index]
    for name in (dependant.request_param_name, dependant.http_connection_param_name):
        if name is not None:
            values[name] = request
    return values
