"""Start `backforge mcp` as a subprocess and connect the MCP SDK's own client to it, over stdio or
streamable HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]
TRANSPORTS = ("stdio", "http")


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(root: Path, log: Path, *extra: str) -> Iterator[str]:
    """`backforge mcp --http 127.0.0.1:PORT` running until the block ends; its URL."""
    port = free_port()
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backforge",
                "mcp",
                "--root",
                str(root),
                "--http",
                f"127.0.0.1:{port}",
                *extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=server_env(),
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"backforge mcp did not start: {log.read_text()}"
                        ) from None
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@asynccontextmanager
async def connect(
    transport: str, root: Path, log: Path, *, mode: str = "auto", extra: tuple[str, ...] = ()
) -> AsyncIterator[Client]:
    """An SDK client connected to a fresh `backforge mcp` subprocess serving `root`; the
    server's stderr (its call log) goes to `log`."""
    if transport == "stdio":
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "backforge", "mcp", "--root", str(root), *extra],
            env=server_env(),
        )
        with log.open("w") as err:
            async with Client(stdio_client(params, errlog=err), mode=mode) as client:
                yield client
    else:
        with http_server(root, log, *extra) as url:
            async with Client(url, mode=mode) as client:
                yield client


def call_log(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of the server's call log (other stderr lines aside)."""
    records = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return [r for r in records if r.get("event") == "tool_call"]


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)
