"""A synchronous client for the runtime tests' ASGI apps."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


class Client:
    """Requests to an ASGI app from a synchronous test, on one event loop (Starlette's
    TestClient wants a package the generated environment does not pin)."""

    def __init__(self, app: Any) -> None:
        self.runner = asyncio.Runner()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://svc.test")

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        return self.runner.run(self.http.request(method, path, **options))

    def get(self, path: str, **options: Any) -> httpx.Response:
        return self.request("GET", path, **options)

    def close(self) -> None:
        self.runner.run(self.http.aclose())
        self.runner.close()
