"""Errors as RFC 9457 problem details (`application/problem+json`, or the media type the spec
names), for every failure, with the extension members the spec asks for (PROBLEM_MEMBERS: each
copies a problem member, e.g. `code` the status and `message` the detail)."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model
from sqlalchemy import exc as db_errors
from starlette.exceptions import HTTPException
from starlette.routing import Match

from .spec import IF_MATCH_REQUIRED, PACKAGE, PROBLEM_MEDIA_TYPE, PROBLEM_MEMBERS

logger = logging.getLogger(__name__)

PROBLEM_JSON = PROBLEM_MEDIA_TYPE


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. body.price.")
    message: str
    type: str


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


# The documented schema: the problem members and the spec's extension members, all present.
Problem: type[BaseModel] = create_model(
    "Problem",
    __base__=ProblemDetails,
    __doc__=ProblemDetails.__doc__,
    **{  # type: ignore[call-overload]
        member: (int if source == "status" else str, Field(description=f"The problem's {source}."))
        for member, source in PROBLEM_MEMBERS.items()
    },
)


def problem_body(
    status: int, title: str, detail: str | None, instance: str, **extra: Any
) -> dict[str, Any]:
    """The JSON body of a problem, with the spec's extension members."""
    body = ProblemDetails(
        title=title, status=status, detail=detail, instance=instance, **extra
    ).model_dump(mode="json", exclude_none=True)
    for member, source in PROBLEM_MEMBERS.items():
        body[member] = body.get(source, title)
    return body


class ProblemError(Exception):
    """Raise anywhere to answer with a problem document."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers
        self.extra = extra


class BadRequestError(ProblemError):
    status, title = 400, "Bad Request"


class UnauthorizedError(ProblemError):
    """No valid credentials: the client should authenticate (RFC 9110 §15.5.2)."""

    status, title = 401, "Unauthorized"

    def __init__(self, detail: str, *, error: str | None = None):
        challenge = f'Bearer realm="{PACKAGE}"'
        if error:
            challenge += f', error="{error}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class ForbiddenError(ProblemError):
    status, title = 403, "Forbidden"


class NotFoundError(ProblemError):
    status, title = 404, "Not Found"


class ConflictError(ProblemError):
    status, title = 409, "Conflict"


class PreconditionFailedError(ProblemError):
    status, title = 412, "Precondition Failed"


class PreconditionRequiredError(ProblemError):
    status, title = 428, "Precondition Required"


class UnsupportedMediaTypeError(ProblemError):
    status, title = 415, "Unsupported Media Type"


class UnprocessableError(ProblemError):
    status, title = 422, "Unprocessable Content"


class ServiceUnavailableError(ProblemError):
    status, title = 503, "Service Unavailable"


def problem_doc(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description, "content": {PROBLEM_JSON: {}}}


# Error responses each kind of operation declares in the OpenAPI document.
BAD_REQUEST = {
    400: problem_doc("The request is malformed (an unparsable body, an unknown cursor).")
}
NOT_FOUND = {404: problem_doc("No such resource.")}
CONFLICT = {409: problem_doc("The change conflicts with existing data.")}
UNSUPPORTED = {415: problem_doc("The request body is not application/json.")}
PRECONDITION = {412: problem_doc("If-Match names a version the record is no longer at.")}
if IF_MATCH_REQUIRED:
    PRECONDITION[428] = problem_doc(
        "This API requires If-Match (the ETag of the record) on changes."
    )
INVALID = {422: problem_doc("The request failed validation.")}
UNAUTHORIZED = {401: problem_doc("Missing, invalid or expired credentials.")}
FORBIDDEN = {403: problem_doc("The caller may not do this.")}
# Answers any operation may give: from the transport middleware (core/security.py,
# core/ratelimit.py) and from the server side.
SERVER_ERROR: dict[int | str, dict[str, Any]] = {
    413: problem_doc("The request body is larger than MAX_BODY_BYTES."),
    429: problem_doc(
        "Too many requests; retry after Retry-After seconds (RateLimit-* headers tell the budget)."
    ),
    500: problem_doc("An unexpected error; details are in the server log."),
    503: problem_doc("The database is unavailable; retry after the Retry-After delay."),
}


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, title, detail, request.url.path, **extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


async def _on_problem(request: Request, exc: ProblemError) -> JSONResponse:
    return problem_response(request, exc.status, exc.title, exc.detail, exc.headers, **exc.extra)


async def _on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    title = _TITLES.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    return problem_response(request, exc.status_code, title, detail, headers)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        FieldError(
            field=".".join(str(part) for part in error["loc"]),
            message=error["msg"],
            type=error["type"],
        )
        for error in exc.errors()
    ]
    if any(error.type == "json_invalid" for error in errors):  # a syntax error: 400, not 422
        return problem_response(request, 400, "Bad Request", "The request body is not valid JSON.")
    return problem_response(
        request,
        422,
        "Unprocessable Content",
        "The request failed validation.",
        errors=errors,
    )


async def _on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Connection refused or lost mid-statement, pool exhausted, server starting up or shutting
    down, too many connections, statement timed out, a serialization failure or deadlock: a 503
    the client may retry, not a 500 (the service recovers by itself when the database returns)."""
    logger.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    retry = "1" if transient_conflict(exc) else "5"
    return problem_response(
        request,
        503,
        "Service Unavailable",
        "The database is unavailable; retry shortly.",
        headers={"Retry-After": retry},
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """A database error of no more specific class: 503 when it says the database cannot serve
    now (by SQLSTATE or driver error number), else an unexpected error."""
    if database_unavailable(exc):
        return await _on_database_unavailable(request, exc)
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):  # raised by a driver directly, unwrapped
        return await _on_database_unavailable(request, exc)
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "Internal Server Error", "An unexpected error occurred.")


# SQLSTATE classes (two characters) and codes that mean the database cannot serve right now:
# 08 connection exception, 40 transaction rollback (serialization failure, deadlock), 53
# insufficient resources (too many connections), 57 operator intervention (starting up,
# shutting down, statement timeout), 58 system error; 55P03 lock not available.
_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_UNAVAILABLE_STATES = frozenset({"55P03"})
_CONFLICT_STATES = frozenset({"40001", "40P01"})  # worth retrying at once
# MySQL and MariaDB error numbers of the same kinds: too many connections, shutdown, lock wait
# timeout, deadlock, connection killed, can't connect, server gone away, lost connection.
_UNAVAILABLE_NUMBERS = frozenset(
    {1040, 1053, 1205, 1213, 1317, 1927, 2002, 2003, 2006, 2013, 2055, 4031}
)
_CONFLICT_NUMBERS = frozenset({1205, 1213})


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc`, the driver error a SQLAlchemy error wraps, and what each was raised from."""
    found: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(found) < 10:
        current = pending.pop()
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return found


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return state if isinstance(state, str) else None


_MYSQL_DRIVERS = frozenset({"aiomysql", "asyncmy", "pymysql", "MySQLdb", "mariadb"})


def _number(exc: BaseException) -> int | None:
    """The error number of a MySQL driver's error (its first argument)."""
    if type(exc).__module__.split(".")[0] not in _MYSQL_DRIVERS:
        return None
    first = exc.args[0] if exc.args else None
    return first if isinstance(first, int) and not isinstance(first, bool) else None


def database_unavailable(exc: BaseException) -> bool:
    for cause in _causes(exc):
        if isinstance(cause, _UNAVAILABLE) or type(cause).__name__ == "InterfaceError":
            return True
        if getattr(cause, "connection_invalidated", False):
            return True
        state = _sqlstate(cause)
        if state is not None and (
            state[:2] in _UNAVAILABLE_CLASSES or state in _UNAVAILABLE_STATES
        ):
            return True
        if _number(cause) in _UNAVAILABLE_NUMBERS:
            return True
    return False


def transient_conflict(exc: BaseException) -> bool:
    """A serialization failure or deadlock: the same transaction, run again, may well pass."""
    for cause in _causes(exc):
        if _sqlstate(cause) in _CONFLICT_STATES or _number(cause) in _CONFLICT_NUMBERS:
            return True
    return False


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path supports, not only those of the first route that matched it."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _on_problem)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _on_http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation_error)  # type: ignore[arg-type]
    for unavailable in _UNAVAILABLE:
        app.add_exception_handler(unavailable, _on_database_unavailable)
    app.add_exception_handler(db_errors.DBAPIError, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected)


# Failures to reach the database, as opposed to errors in what a request asked of it.
_UNAVAILABLE = (
    db_errors.OperationalError,
    db_errors.InterfaceError,
    db_errors.TimeoutError,
    ConnectionError,
    TimeoutError,
)
