"""Does a server drain its in-flight requests on SIGTERM? The generated service under uvicorn
(`python -m <package>.serve`) and under Granian (benchmarks/granian_entry.py), one after the
other, on a seeded scratch database as benchmarks/read_path.py makes it.

64 clients send pages of 100 books (a new connection each, `Connection: close`) without pause;
after a second of that, SIGTERM goes to the server's main process only (as a container runtime
sends it). Every request is then either answered in full (status line, headers, the whole body
its Content-Length announces), or refused at connect (the server had stopped listening: fine), or
closed unanswered (accepted, then closed or reset before any byte of an answer: a request the
server dropped, which a client may retry only if it knows it is safe), or cut mid-answer.
Prints the counts, the exit status and how long the server took to exit.

    python benchmarks/graceful.py [PROJECT] [--database postgresql://…]
"""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from read_path import Bench, Cleanup, parse_args, prepare, start_granian, start_service

PAGE = "/api/v1/books?limit=100"


async def one_request(port: int, number: int) -> str:
    """'ok', 'refused', 'unanswered' (closed before any answer), 'cut' (closed in the middle of
    an answer), or the status code when not 200."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "refused"
    try:
        writer.write(
            f"GET {PAGE} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"X-Forwarded-For: 10.254.{number // 256 % 256}.{number % 256}\r\n\r\n".encode()
        )
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError) as error:
            partial = getattr(error, "partial", b"")
            return "cut" if partial else "unanswered"
        status = head.split(b" ", 2)[1].decode()
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.lower().split(b"\r\n")
            if line.startswith(b"content-length:")
        )
        await reader.readexactly(length)
        return "ok" if status == "200" else status
    except (OSError, asyncio.IncompleteReadError, StopIteration):
        return "cut"
    finally:
        writer.close()


async def load(port: int, pid: int, clients: int = 64) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    stop_at = time.monotonic() + 1.0
    numbers = iter(range(10**9))

    async def client() -> None:
        while True:
            outcome = await one_request(port, next(numbers))
            counts[outcome] += 1
            if outcome == "refused":
                return
            if time.monotonic() > stop_at + 30:
                return

    tasks = [asyncio.create_task(client()) for _ in range(clients)]
    await asyncio.sleep(1.0)
    os.kill(pid, signal.SIGTERM)
    counts["sent SIGTERM after"] = sum(counts.values())
    await asyncio.gather(*tasks)
    return counts


def check(bench: Bench, label: str, url: str) -> None:
    process = next(step for name, step in bench.cleanup.steps if name == label)
    port = int(url.rsplit(":", 1)[1])
    started = time.monotonic()
    counts = asyncio.run(load(port, process.pid))  # type: ignore[union-attr]
    status = process.wait(timeout=60)  # type: ignore[union-attr]
    named = ("ok", "refused", "unanswered", "cut")
    other = sum(v for k, v in counts.items() if k not in named) - counts["sent SIGTERM after"]
    print(
        f"{label:8} answered {counts['ok']} ({counts['sent SIGTERM after']} before SIGTERM), "
        f"refused {counts['refused']}, closed unanswered {counts['unanswered']}, "
        f"cut mid-answer {counts['cut']}, other {other}; exit status {status} "
        f"{time.monotonic() - started - 1.0:.1f} s after SIGTERM",
        flush=True,
    )


def main() -> int:
    args = parse_args(__doc__.split("\n\n")[0])
    cleanup = Cleanup()
    scratch = Path(tempfile.mkdtemp(prefix="bf-graceful-"))
    cleanup.call("scratch directory", lambda: shutil.rmtree(scratch, ignore_errors=True))
    try:
        bench = prepare(args, scratch, cleanup)
        check(bench, "service", start_service(bench))
        check(bench, "granian", start_granian(bench))
        return 0
    finally:
        cleanup.run()


if __name__ == "__main__":
    sys.exit(main())
