"""core/ratelimit.py: the in-memory moving windows, the sign-in tiers and the 429 a whole app
gives once a caller's budget is spent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from asgiclient import Client
from fastapi import FastAPI
from limits import parse
from svc.core import ratelimit
from svc.core.errors import install_error_handlers


@dataclass
class Limits:
    """The settings ratelimit.py reads (RateLimitSettings), as the generated Settings has them."""

    rate_limit_enabled: bool = True
    rate_limit_anonymous: str = "2/minute"
    rate_limit_authenticated: str = "5/minute"
    rate_limit_prefix: str = "svc"
    redis_url: str | None = None


def test_a_moving_window_allows_the_amount_then_refuses() -> None:
    windows = ratelimit.MemoryWindows()
    item = parse("3/minute")
    counts = [windows.hit(item, "10.0.0.1") for _ in range(4)]
    assert [(allowed, remaining) for allowed, remaining, _reset in counts] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    assert all(1 <= reset <= 60 for _allowed, _remaining, reset in counts)
    assert windows.hit(item, "10.0.0.2")[:2] == (True, 2)  # another key, its own window
    assert windows.hit(parse("5/minute"), "10.0.0.1")[:2] == (True, 4)  # another limit too


def test_idle_windows_are_swept() -> None:
    windows = ratelimit.MemoryWindows()
    windows.hit(parse("1/second"), "a")
    windows.sweep(windows.swept + 2)
    assert windows.windows == {}


def test_sign_in_counts_per_account_with_backoff_and_per_address() -> None:
    assert ratelimit.sign_in_limits("10/minute") == [
        ("login-account", "10/minute"),
        ("login-account-hour", "30/hour"),
        ("login-account-day", "100/day"),
        ("login-address", "50/minute"),
    ]
    assert ratelimit.sign_in_limits("4/day") == [
        ("login-account", "4/day"),
        ("login-address", "20/day"),
    ]


def test_hit_raises_429_once_the_limit_is_spent() -> None:
    async def allowed() -> int:
        """How many attempts pass before the 429."""
        ratelimit._current = ratelimit.RateLimiter(Limits())
        passed = 0
        try:
            for _ in range(5):
                await ratelimit.hit("login:alice", "3/minute")
                passed += 1
        except ratelimit.TooManyRequestsError as exc:
            assert exc.headers is not None
            assert exc.headers["RateLimit-Limit"] == "3"
            assert int(exc.headers["Retry-After"]) >= 1
        return passed

    assert asyncio.run(allowed()) == 3


def limited_app(settings: Limits) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items")
    async def items() -> list[int]:
        return []

    @app.get("/healthz")
    async def healthz() -> str:
        return "ok"

    ratelimit.install_rate_limits(app, settings)
    return app


def test_an_anonymous_caller_is_limited_by_address(client: Callable[[Any], Client]) -> None:
    service = client(limited_app(Limits()))
    first, second, third = (service.get("/items") for _ in range(3))
    assert first.headers["ratelimit-limit"] == "2"
    assert [first.headers["ratelimit-remaining"], second.headers["ratelimit-remaining"]] == [
        "1",
        "0",
    ]
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert third.headers["content-type"] == "application/problem+json"
    assert int(third.headers["retry-after"]) >= 1
    assert all(service.get("/healthz").status_code == 200 for _ in range(3))  # probes: exempt


def test_rate_limits_can_be_turned_off(client: Callable[[Any], Client]) -> None:
    service = client(limited_app(Limits(rate_limit_enabled=False)))
    assert {service.get("/items").status_code for _ in range(4)} == {200}
    assert "ratelimit-limit" not in service.get("/items").headers


@pytest.fixture(autouse=True)
def no_limiter_left() -> Iterator[None]:
    """install_rate_limits sets the module's limiter (for hit()): none outlives a test."""
    yield
    ratelimit._current = None
