"""Plain ASGI middleware around every HTTP request: its request id and access log, its metrics.

The request id is the caller's `X-Request-ID` when that is 1-128 characters of
`[A-Za-z0-9._:-]`, else the trace id of a valid W3C `traceparent`, else a new random one. It is
bound to every log line of the request and echoed as `X-Request-ID` on every response, errors
included. Each request then gets one access log line (event "request"); the probes and /metrics
only at DEBUG level.
"""

import logging
import random
import re
import time

import structlog
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics
from .spec import PACKAGE

REQUEST_ID = b"x-request-id"
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/startupz", "/metrics"})
UNMATCHED = "<unmatched>"

access_log = structlog.stdlib.get_logger(f"{PACKAGE}.access")
access_level = logging.getLogger(f"{PACKAGE}.access")  # whose level filters the access log


class RouteTemplates:
    """The full path template of the route that answered, e.g. /api/v1/items/{id}, never the
    raw path. (A route of an included router knows only its own part of the path: the full
    template comes from FastAPI's route contexts, looked up once per route.)"""

    def __init__(self) -> None:
        self.templates: dict[int, str] = {}

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        template = self.templates.get(id(route))
        if template is None:
            self.templates = {
                id(context.original_route): context.path_format
                for context in iter_route_contexts(scope["app"].routes)
                if context.path_format
            }
            template = self.templates.setdefault(
                id(route), getattr(route, "path_format", None) or UNMATCHED
            )
        return template


def request_id_of(scope: Scope) -> str:
    given = traceparent = b""
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            given = value
        elif name == b"traceparent":
            traceparent = value
    if given and VALID_REQUEST_ID.fullmatch(given.decode("latin-1")):
        return given.decode("latin-1")
    parent = TRACEPARENT.fullmatch(traceparent.decode("latin-1").strip()) if traceparent else None
    if parent and parent[1] != "ff" and parent[2].strip("0") and parent[3].strip("0"):
        return parent[2]
    # A correlation id, not a secret (hence no bandit B311): 128 random bits without a system
    # call (uuid4 reads os.urandom on every request).
    return f"{random.getrandbits(128):032x}"  # nosec B311


class RequestContextMiddleware:
    """Request id, log context and access log; see `install_request_context`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route_template = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        echo = (REQUEST_ID, request_id.encode())
        started = time.perf_counter()
        status = 500
        logged = False

        def log_access() -> None:
            nonlocal logged
            logged = True
            if scope["path"] in QUIET_PATHS:
                level, log = logging.DEBUG, access_log.debug
            elif status >= 500:
                level, log = logging.WARNING, access_log.warning
            else:
                level, log = logging.INFO, access_log.info
            if not access_level.isEnabledFor(level):
                return  # what the log level drops is not built at all
            client = scope.get("client")
            log(
                "request",
                method=scope["method"],
                route=self.route_template(scope),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client=client[0] if client else None,
            )

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echo]}
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                log_access()  # still in the request's context: its trace id is current

        # bind and reset rather than `bound_contextvars`, whose generator costs a request more
        context = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not logged:
                log_access()
            structlog.contextvars.reset_contextvars(**context)


def install_request_context(app: FastAPI) -> None:
    """Wrap the whole middleware stack, error handling and tracing included, in the request
    context, so that a 500 carries the request id too. Call it last, after tracing's set-up."""
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: RequestContextMiddleware(build_stack())  # type: ignore[method-assign]


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route_template = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts: an exception becomes a 500 further out

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.IN_FLIGHT.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            metrics.IN_FLIGHT.dec()
            metrics.observe_request(
                scope["method"], self.route_template(scope), status, time.perf_counter() - started
            )
