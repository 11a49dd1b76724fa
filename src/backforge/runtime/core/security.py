"""Transport protections: security headers, CORS, and a bound on request bodies.

Security headers go on every response, errors, 404s and 500s included (the middleware wraps the
last-resort error handler). The API's Content-Security-Policy allows nothing to load; the
Swagger UI at /docs gets its own policy that allows its script and styles (from the CDN
FastAPI uses) and the inline script that starts it. `Strict-Transport-Security` is sent when
HSTS_SECONDS > 0 (only behind HTTPS). Error responses and responses to requests that carry
credentials get `Cache-Control: no-store`.

CORS is off unless CORS_ORIGINS lists origins. Request bodies over MAX_BODY_BYTES answer 413,
counted as they arrive (Content-Length is not trusted alone); JSON bodies nested deeper than
MAX_JSON_DEPTH answer 400, before anything parses them.

Text the database cannot store or the service cannot send back is refused at the door, with 422:
NUL (U+0000) and lone UTF-16 surrogates (`\\udfff` without its pair) anywhere in a JSON body
(values and keys, at any depth), a form field, the path, the query string or a header. A JSON
object that names the same key twice answers 400 (which of the two would win is ambiguous).
"""

import json
import re
from typing import Protocol
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PROBLEM_JSON, problem_body

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
SWAGGER_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (
    f"default-src 'none'; script-src 'self' 'unsafe-inline' {SWAGGER_CDN}; "
    f"style-src 'self' 'unsafe-inline' {SWAGGER_CDN}; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")


class TransportSettings(Protocol):
    """The settings of the transport middleware (core/settings.py has them all)."""

    @property
    def max_body_bytes(self) -> int: ...

    @property
    def max_json_depth(self) -> int: ...

    @property
    def cors_origins(self) -> list[str]: ...

    @property
    def cors_allow_credentials(self) -> bool: ...

    @property
    def hsts_seconds(self) -> int: ...


CREDENTIALS = (b"authorization", b"x-api-key", b"cookie")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _problem(scope: Scope, status: int, title: str, detail: str) -> JSONResponse:
    body = problem_body(status, title, detail, scope["path"])
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (keeping any a route set itself)."""

    def __init__(self, app: ASGIApp, hsts_seconds: int = 0) -> None:
        self.app = app
        self.common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), geolocation=(), microphone=()"),
        ]
        if hsts_seconds > 0:
            hsts = f"max-age={hsts_seconds}; includeSubDomains".encode()
            self.common.append((b"strict-transport-security", hsts))

        # Built once: the headers of an API response and of a docs page, then with no-store.
        api = [*self.common, (b"content-security-policy", API_CSP.encode())]
        docs = [*self.common, (b"content-security-policy", DOCS_CSP.encode())]
        no_store = (b"cache-control", b"no-store")
        self.wanted = {
            (False, False): api,
            (False, True): [*api, no_store],
            (True, False): docs,
            (True, True): [*docs, no_store],
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_docs = scope["path"] in DOCS_PATHS
        credentialed = any(name in CREDENTIALS for name, _ in scope["headers"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                store = message["status"] >= 400 or credentialed
                if store and b"cache-control" in present:
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    present.discard(b"cache-control")
                for header in self.wanted[is_docs, store]:
                    if header[0] not in present:
                        headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes` (counted while they stream in), 400 for JSON nested
    deeper than `max_depth` or naming a key twice, 422 for NUL or a lone surrogate anywhere in
    the request (`unstorable`). The body is read here, at most `max_bytes` of it, then replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = unstorable_request(scope)
        if where is not None:
            await _unstorable(scope, where)(scope, receive, send)
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        is_json = content_type == b"application/json" or content_type.endswith(b"+json")
        if is_json and json_depth_exceeds(body, self.max_depth):
            detail = f"The JSON body is nested deeper than {self.max_depth} levels."
            await _problem(scope, 400, "Bad Request", detail)(scope, receive, send)
            return
        if is_json and unstorable_json(body):
            await _unstorable(scope, "the JSON body")(scope, receive, send)
            return
        if is_json and (key := duplicate_key(body)) is not None:
            detail = f"The JSON body names the key {key[:64]!r} twice in one object."
            await _problem(scope, 400, "Bad Request", detail)(scope, receive, send)
            return
        if content_type == b"application/x-www-form-urlencoded" and unstorable_form(body):
            await _unstorable(scope, "a form field")(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The request body is larger than {self.max_bytes} bytes."
        response = _problem(scope, 413, "Content Too Large", detail)
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether brackets outside strings nest deeper than `limit` (without parsing)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot be deeper: the common case, decided at C speed
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


def _unstorable(scope: Scope, where: str) -> JSONResponse:
    detail = f"NUL characters and unpaired surrogates are not accepted ({where})."
    return _problem(scope, 422, "Unprocessable Content", detail)


def unstorable_request(scope: Scope) -> str | None:
    """Where NUL hides in the path, query string or headers (which part), else None."""
    if "\x00" in scope["path"]:
        return "the path"
    if b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
        return "the query string"
    for _name, value in scope["headers"]:
        if b"\x00" in value:
            return "a header"
    return None


# Backslash escapes of JSON strings, consumed left to right so that an escaped backslash
# followed by the text "u0000" is told apart from the escape of NUL.
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)


def unstorable_json(body: bytes) -> bool:
    """Whether a JSON text holds NUL or a lone surrogate in any string (value or key).

    Raw control characters are already invalid JSON, so only escapes can smuggle NUL in; UTF-8
    that encodes a surrogate (which Python's JSON decoder lets through) begins with 0xED. A
    body without either is decided at C speed."""
    if b"\xed" in body:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return True
    if b"\\u" not in body:
        return False
    pending_high = -1  # end offset of a high surrogate escape still waiting for its pair
    for match in _ESCAPE.finditer(body):
        digits = match.group(1)
        code = int(digits, 16) if digits is not None else -1
        if pending_high >= 0:
            if match.start() != pending_high or not 0xDC00 <= code <= 0xDFFF:
                return True  # a high surrogate not followed by a low one
            pending_high = -1
            continue
        if code == 0 or 0xDC00 <= code <= 0xDFFF:
            return True
        if 0xD800 <= code <= 0xDBFF:
            pending_high = match.end()
    return pending_high >= 0


class _DuplicateKey(Exception):
    pass


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def duplicate_key(body: bytes) -> str | None:
    """The first key a JSON object names twice, else None (invalid JSON is left to the route)."""
    if body.count(b'"') < 4:
        return None  # fewer than two keys
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as exc:
        return str(exc.args[0])
    except ValueError:
        return None
    return None


def unstorable_form(body: bytes) -> bool:
    """Whether a form-encoded body holds NUL or bytes that are not UTF-8 text."""
    raw = unquote_to_bytes(body.replace(b"+", b" "))
    if b"\x00" in raw:
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def install_body_limit(app: FastAPI, settings: TransportSettings) -> None:
    app.add_middleware(
        BodyLimitMiddleware, max_bytes=settings.max_body_bytes, max_depth=settings.max_json_depth
    )


def install_cors(app: FastAPI, settings: TransportSettings) -> None:
    """CORS for the origins in CORS_ORIGINS; none (the default): no CORS headers at all."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=settings.cors_allow_credentials,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "If-Match",
            "If-None-Match",
            "Idempotency-Key",
            "X-API-Key",
            "X-Request-ID",
        ],
        expose_headers=[
            "ETag",
            "Location",
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "RateLimit-Policy",
            "X-Request-ID",
        ],
        max_age=600,
    )


def install_security_headers(app: FastAPI, settings: TransportSettings) -> None:
    """Wrap the whole middleware stack, so that the last-resort 500 gets the headers too.
    Call it after every other middleware, before `install_request_context`."""
    build_stack = app.build_middleware_stack
    hsts = settings.hsts_seconds
    app.build_middleware_stack = lambda: SecurityHeadersMiddleware(build_stack(), hsts)  # type: ignore[method-assign]
