"""Rate limits: a moving-window limiter in front of every endpoint but the probes and /metrics.

    async def hit(key: str, limit: str) -> None
        Count one attempt of `key` (e.g. "login:alice@example.com") against `limit`
        ("5/minute", "100/hour"); raises TooManyRequestsError, a 429 problem with Retry-After,
        once the limit is spent. For limits of your own, such as failed log-ins.

Every request counts against its caller: an identity (`identify(scope)` returns one, e.g. the
subject of a valid token) at RATE_LIMIT_AUTHENTICATED, else its client address at
RATE_LIMIT_ANONYMOUS. Responses carry `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` (seconds); a spent limit answers 429 application/problem+json with
`Retry-After`. Counters live in Redis when REDIS_URL is set (shared by every process), else in
this process's memory (`MemoryWindows`). RATE_LIMIT_ENABLED=false turns the limiter off.

In Redis every hit is counted by a small Lua script (`MOVING_WINDOW`, run by EVALSHA): it keeps
each caller's window as a sorted set of hit times (Redis's own clock), drops the hits older than
the window, counts, adds the hit when it is allowed, and answers the count and the oldest hit's
time together. (limits' moving window needed two round trips: the hit, then its window stats
for the RateLimit-* headers.) A refused hit is not counted, as in limits. The hits that arrive
in one turn of the event loop go to Redis together, in one script call (`_flush`): a round trip
for all of them.

Most requests do not wait for that round trip (`Known`): with a limit of FAST_MINIMUM hits or
more per window, a request is answered at once, and its hit counted in Redis in the background
(in the next batch, at most FLUSH_SECONDS later), while the caller is far from its limit as
this process last heard from Redis: more than `share` hits left (LOCAL_SHARE of the limit,
6 of 120), of which at most `share` are this process's hits Redis has not answered yet. Nearer
the limit, after a refusal, for smaller limits and for every `hit()` (sign-in's among them),
each request waits for Redis's answer, as before. The bound: a hit that Redis refuses after
the request was answered is one beyond the limit; each process has at most `share` of them in
flight per caller, and only while its last answer for that caller said more than `share` were
left, so with P processes a caller gets at most P * share requests beyond its limit in a
window (P / LOCAL_SHARE of the limit), and with a single process none, since its own hits are
all it subtracts. RateLimit-Remaining of a request answered at once is this estimate.

When Redis does not answer, requests are let through (fail open) and a warning is logged, at
most once per RETRY_SECONDS, until it answers again: an outage of the counter store must not
become an outage of the API. Limits are a brake on abuse, not what authorizes a request.
`hit()` limits (sign-in among them) never pass unlimited: while Redis is down they are counted
in this process's memory instead (each process then allows the limit on its own).

    sign_in_limits(limit) -> list[tuple[str, str]]
        The limits a sign-in attempt counts against, given LOGIN_RATE_LIMIT ("10/minute"):
        per account across every address, with backoff (the limit per period, three times it
        per hour, ten times it per day), and per client address (five times the limit: one
        address trying many accounts).
"""

import asyncio
import itertools
import logging
import math
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI
from limits import RateLimitItem, parse
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PROBLEM_JSON, ProblemError, problem_body

if TYPE_CHECKING:  # imported when Redis is used: importing redis loads OpenTelemetry's SDK
    from redis.asyncio import Redis

logger = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/startupz", "/metrics"})
RETRY_SECONDS = 5.0  # after a storage failure, requests pass unlimited this long before a retry
REDIS_TIMEOUT = 0.5  # seconds for a Redis connection or answer
SWEEP_SECONDS = 60.0  # how often the in-memory counters drop callers whose window has emptied
FAST_MINIMUM = 100  # limits of fewer hits per window are counted before each answer
LOCAL_SHARE = 20  # 1/20 of a limit: the hits a process may admit ahead of Redis's answer
FLUSH_SECONDS = 0.002  # hits admitted ahead wait at most this long to be sent to Redis
BATCH = 512  # hits in one script call, at most

# KEYS[i]: a hit's caller window (a sorted set: member per hit, score its time in microseconds);
# ARGV[1]: per hit, its limit's amount, the window in seconds and the hit's member, separated by
# spaces. Answers, per hit in order, allowed (1/0), remaining and microseconds until the oldest
# hit leaves the window, separated by spaces: one string each way, which costs the client far
# less to encode and to read than a list of values.
MOVING_WINDOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local values = {}
for value in string.gmatch(ARGV[1], '%S+') do
  values[#values + 1] = value
end
local answers = {}
for i, key in ipairs(KEYS) do
  local amount = tonumber(values[3 * i - 2])
  local seconds = tonumber(values[3 * i - 1])
  local window = seconds * 1000000
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local allowed = 0
  if count < amount then
    redis.call('ZADD', key, now, values[3 * i])
    redis.call('PEXPIRE', key, seconds * 1000)
    count = count + 1
    allowed = 1
  end
  local reset = window
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if oldest[2] then
    reset = tonumber(oldest[2]) + window - now
  end
  answers[#answers + 1] = string.format('%d %d %d', allowed, amount - count, reset)
end
return table.concat(answers, ' ')
"""


class RateLimitSettings(Protocol):
    """The settings of the rate limits (core/settings.py has them all)."""

    @property
    def rate_limit_enabled(self) -> bool: ...

    @property
    def rate_limit_anonymous(self) -> str: ...

    @property
    def rate_limit_authenticated(self) -> str: ...

    @property
    def rate_limit_prefix(self) -> str: ...

    @property
    def redis_url(self) -> str | None: ...


Identify = Callable[[Scope], Awaitable[str | None]]
Hit = tuple[str, int, int, str]  # window key, amount, seconds, member


# A hit on its way to Redis: what it counts, the future its request awaits (None when the
# request was answered ahead of Redis) and whether its caller's window is known (`Known`)
Pending = tuple[Hit, "asyncio.Future[list[int]] | None", bool]


class Known:
    """What this process knows of its callers' windows in Redis (limits of FAST_MINIMUM hits or
    more), by window key: the remaining hits of Redis's last answer and when that window's
    oldest hit leaves; the hits sent or to be sent but not answered yet (`pending`), `ahead` of
    them already answered to their requests; when to forget the caller. Dictionaries of strings
    and numbers only, which the garbage collector never scans: a process knows of every caller
    of the last window, tens of thousands behind a load balancer."""

    def __init__(self) -> None:
        self.remaining: dict[str, int] = {}
        self.reset_at: dict[str, float] = {}
        self.pending: dict[str, int] = {}
        self.ahead: dict[str, int] = {}
        self.forget_at: dict[str, float] = {}
        self.swept = time.monotonic()

    def answered(self, window: str, ahead: bool, answer: list[int] | None, now: float) -> None:
        """Redis answered (or failed, None) a hit of `window`."""
        self._less(self.pending, window)
        if ahead:
            self._less(self.ahead, window)
        if answer is not None:
            self.remaining[window] = max(0, int(answer[1]))
            self.reset_at[window] = now + int(answer[2]) / 1e6

    @staticmethod
    def _less(counts: dict[str, int], window: str) -> None:
        count = counts.get(window, 0) - 1
        if count > 0:
            counts[window] = count
        else:
            counts.pop(window, None)

    def sweep(self, now: float) -> None:
        """Forget the callers not seen for a whole window (Redis has forgotten their hits)."""
        self.swept = now
        idle = [w for w, at in self.forget_at.items() if at < now and w not in self.pending]
        for window in idle:
            for values in (self.remaining, self.reset_at, self.forget_at):
                values.pop(window, None)


class TooManyRequestsError(ProblemError):
    status, title = 429, "Too Many Requests"


class MemoryWindows:
    """Moving windows in this process's memory: per (limit, key), the times of the hits still in
    the window, oldest first. Counts as limits' moving window does, at a fraction of its cost:
    limits' in-memory store sweeps every key through a worker thread, again and again while
    requests arrive, which costs each request more than its database work once there are many
    callers. Here a hit trims only its own key, and idle keys are dropped once a minute."""

    def __init__(self) -> None:
        self.windows: dict[tuple[int, int, str], deque[float]] = {}
        self.swept = time.monotonic()

    def hit(self, item: RateLimitItem, key: str) -> tuple[bool, int, int]:
        """Count one hit: (allowed, remaining, seconds until the oldest hit leaves the window)."""
        now = time.monotonic()
        expiry, amount = item.get_expiry(), item.amount
        slot = (amount, expiry, key)
        window = self.windows.get(slot)
        if window is None:
            window = self.windows[slot] = deque()
        cutoff = now - expiry
        while window and window[0] < cutoff:
            window.popleft()
        allowed = len(window) < amount
        if allowed:
            window.append(now)
        reset = max(1, math.ceil(window[0] + expiry - now)) if window else expiry
        if now - self.swept > SWEEP_SECONDS:
            self.sweep(now)
        return allowed, amount - len(window), reset

    def sweep(self, now: float) -> None:
        self.swept = now
        idle = [s for s, w in self.windows.items() if not w or w[-1] < now - s[1]]
        for slot in idle:
            del self.windows[slot]


class RateLimiter:
    """The counters of one application: where they are kept and how they are counted."""

    redis: "Redis | None"  # the counters, with REDIS_URL

    def __init__(self, settings: RateLimitSettings) -> None:
        self.anonymous = parse(settings.rate_limit_anonymous)
        self.authenticated = parse(settings.rate_limit_authenticated)
        self.prefix = settings.rate_limit_prefix
        self.redis = None
        if settings.redis_url:
            from redis.asyncio import Redis

            self.redis = Redis.from_url(
                settings.redis_url,
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            self.script = self.redis.register_script(MOVING_WINDOW)
        self.pending: list[Pending] = []  # hits waiting for the next batch to Redis
        self.flushing: asyncio.Handle | None = None  # the next batch's send, once scheduled
        self.soon = False  # whether it goes at the end of this turn of the event loop
        self.known = Known()
        self.memory = None if settings.redis_url else MemoryWindows()
        self.fallback = MemoryWindows()  # counts `hit()` limits while Redis is down
        self.paused_until = 0.0
        self.hits = itertools.count()  # with `instance`: a member per hit, unique across processes
        self.instance = secrets.token_hex(6)
        self.sending: set[asyncio.Task[None]] = set()

    async def count(
        self, item: RateLimitItem, key: str, local_fallback: bool = False, ahead: bool = False
    ) -> tuple[bool, int, int] | None:
        """Count one hit: (allowed, remaining, seconds to reset). When the store failed: None,
        or with `local_fallback`, the count in this process's memory. With `ahead` (requests'
        limits), the answer may come before Redis has counted the hit (the module docstring)."""
        if self.memory is not None:
            return self.memory.hit(item, key)
        counted = await self._count_shared(item, key, ahead)
        if counted is None and local_fallback:
            return self.fallback.hit(item, key)
        return counted

    async def close(self) -> None:
        """Close the connections to Redis, if any were opened."""
        if self.redis is not None:
            await self.redis.aclose()

    async def _count_shared(
        self, item: RateLimitItem, key: str, ahead: bool = False
    ) -> tuple[bool, int, int] | None:
        now = time.monotonic()
        if now < self.paused_until:
            return None
        amount, expiry = item.amount, item.get_expiry()
        window = f"LIMITER/{self.prefix}/{key}/{amount}/{expiry}"
        hit = (window, amount, expiry, f"{self.instance}:{next(self.hits)}")
        known = self.known
        tracked = ahead and amount >= FAST_MINIMUM
        if tracked:
            known.forget_at[window] = now + expiry
            if now - known.swept > SWEEP_SECONDS:
                known.sweep(now)
            share = amount // LOCAL_SHARE
            pending = known.pending.get(window, 0)
            # nothing heard of this caller yet: as one with a fresh window
            left = known.remaining.get(window, amount) - pending
            known.pending[window] = pending + 1
            answered = known.ahead.get(window, 0)
            if answered < share and left > share:
                known.ahead[window] = answered + 1
                self._queue((hit, None, True), soon=False)
                reset_at = known.reset_at.get(window, now + expiry)
                return True, left - 1, max(1, math.ceil(reset_at - now))
        answer: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._queue((hit, answer, tracked), soon=True)
        try:
            allowed, remaining, reset = await answer
        except Exception as exc:  # the store is down: fail open, say so, retry later
            self._pause(exc)
            return None
        return bool(allowed), max(0, int(remaining)), max(1, math.ceil(int(reset) / 1e6))

    def _pause(self, exc: BaseException) -> None:
        if time.monotonic() < self.paused_until:
            return
        self.paused_until = time.monotonic() + RETRY_SECONDS
        logger.warning(
            "rate limit store unavailable (%s: %s); requests pass unlimited for %.0f s",
            type(exc).__name__,
            exc,
            RETRY_SECONDS,
        )

    def _queue(self, pending: Pending, soon: bool) -> None:
        """Add a hit to the next batch: sent at the end of this turn of the event loop when a
        request awaits its answer, else at most FLUSH_SECONDS later."""
        self.pending.append(pending)
        loop = asyncio.get_running_loop()
        if self.flushing is None:
            self.soon = soon
            self.flushing = (
                loop.call_soon(self._flush) if soon else loop.call_later(FLUSH_SECONDS, self._flush)
            )
        elif soon and not self.soon:
            self.flushing.cancel()
            self.soon = True
            self.flushing = loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flushing = None
        batch, self.pending = self.pending, []
        loop = asyncio.get_running_loop()
        for start in range(0, len(batch), BATCH):
            task = loop.create_task(self._send(batch[start : start + BATCH]))
            self.sending.add(task)
            task.add_done_callback(self.sending.discard)

    async def _send(self, batch: "list[Pending]") -> None:
        """The hits of one turn of the event loop in one script call: one round trip for all."""
        try:
            answers: list[Any] = await self._evaluate([hit for hit, _, _ in batch])
        except Exception as exc:
            answers = [exc] * len(batch)
        now = time.monotonic()
        failed = None
        for answer, (hit, future, tracked) in zip(answers, batch, strict=True):
            if tracked:
                counted = None if isinstance(answer, BaseException) else answer
                self.known.answered(hit[0], future is None, counted, now)
            if future is None:  # its request was answered already
                if isinstance(answer, BaseException):
                    failed = answer
                continue
            if future.done():  # its request was cancelled
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
        if failed is not None:
            self._pause(failed)

    async def _evaluate(self, hits: list[Hit]) -> list[list[int]]:
        """Count `hits` in Redis, in one script call: [allowed, remaining, reset µs] per hit.
        (EVALSHA; the script is loaded again when Redis answers that it does not know it.)"""
        if self.redis is None:
            raise RuntimeError("no Redis to count in")
        keys = [window for window, _, _, _ in hits]
        args = " ".join(f"{amount} {expiry} {member}" for _, amount, expiry, member in hits)
        flat = [int(value) for value in (await self.script(keys=keys, args=[args])).split()]
        return [flat[index : index + 3] for index in range(0, len(flat), 3)]


_current: RateLimiter | None = None


async def hit(key: str, limit: str) -> None:
    """Count one attempt of `key` against `limit`; TooManyRequestsError once it is spent."""
    if _current is None:
        return
    item = parse(limit)
    counted = await _current.count(item, f"hit:{key}", local_fallback=True)
    if counted is not None and not counted[0]:
        raise TooManyRequestsError(
            "Too many attempts; retry after the Retry-After delay.",
            headers={"Retry-After": str(counted[2]), **_headers(item, 0, counted[2])},
        )


def sign_in_limits(limit: str) -> list[tuple[str, str]]:
    """(key prefix, limit) pairs a sign-in attempt counts against; see the module docstring."""
    item = parse(limit)
    amount = item.amount
    tiers = [("login-account", limit)]
    if item.get_expiry() < 3600:
        tiers.append(("login-account-hour", f"{3 * amount}/hour"))
    if item.get_expiry() < 86400:
        tiers.append(("login-account-day", f"{10 * amount}/day"))
    seconds = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}[item.get_expiry()]
    return [*tiers, ("login-address", f"{5 * amount}/{seconds}")]


def _headers(item: RateLimitItem, remaining: int, reset: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(item.amount),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
    }


@cache
def _constant_headers(item: RateLimitItem) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """RateLimit-Limit and RateLimit-Policy of a limit, encoded once."""
    return (
        (b"ratelimit-limit", str(item.amount).encode()),
        (b"ratelimit-policy", f"{item.amount};w={item.get_expiry()}".encode()),
    )


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimitMiddleware:
    """Counts every HTTP request but the probes; 429 problem+json once the caller's limit is
    spent. RateLimit-* headers on every counted response."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, identify: Identify | None = None):
        self.app = app
        self.limiter = limiter
        self.identify = identify

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        identity = await self.identify(scope) if self.identify else None
        if identity is None:
            item, key = self.limiter.anonymous, f"ip:{client_address(scope)}"
        else:
            item, key = self.limiter.authenticated, f"id:{identity}"
        counted = await self.limiter.count(item, key, ahead=True)
        if counted is None:  # failing open
            await self.app(scope, receive, send)
            return
        allowed, remaining, reset = counted
        if allowed:
            limit, policy = _constant_headers(item)
            extra = [
                limit,
                (b"ratelimit-remaining", str(remaining).encode()),
                (b"ratelimit-reset", str(reset).encode()),
                policy,
            ]

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
                await send(message)

            await self.app(scope, receive, send_with_headers)
            return
        headers = _headers(item, remaining, reset)
        detail = (
            f"Rate limit of {item.amount} per {_period(item)} exceeded; "
            "retry after the Retry-After delay."
        )
        response = JSONResponse(
            problem_body(429, "Too Many Requests", detail, scope["path"]),
            status_code=429,
            headers={"Retry-After": str(reset), **headers},
            media_type=PROBLEM_JSON,
        )
        await response(scope, receive, send)


def _period(item: RateLimitItem) -> str:
    seconds = item.get_expiry()
    unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(seconds // item.multiples)
    return f"{item.multiples} {unit}s" if item.multiples > 1 else str(unit)


def install_rate_limits(
    app: FastAPI, settings: RateLimitSettings, identify: Identify | None = None
) -> None:
    """Add the limiter to `app` when RATE_LIMIT_ENABLED; `identify(scope)` names the caller
    (None: anonymous, limited by client address)."""
    global _current
    if not settings.rate_limit_enabled:
        _current = None
        return
    limiter = RateLimiter(settings)
    _current = limiter
    app.state.rate_limiter = limiter
    app.add_middleware(RateLimitMiddleware, limiter=limiter, identify=identify)
