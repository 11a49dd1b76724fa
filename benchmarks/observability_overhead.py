"""What the observability layer (request ids, access logs, metrics) costs on the request path.

Starts two generated projects of the same spec side by side on 127.0.0.1, one made with the
layer and one without (e.g. from an older backforge), each on its own migrated SQLite file, and
loads their list endpoints in alternating rounds so that the machine's noise hits both alike.
Prints p50/p95 per round, their medians and the ratio. A benchmark, not a test:

    python benchmarks/observability_overhead.py WITH_DIR WITHOUT_DIR [--rounds 5] [--requests 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from backforge.report.facts import base_path
from backforge.verify.environment import ensure_env
from backforge.verify.load import hammer, list_paths, percentile
from backforge.verify.server import free_port

CONCURRENCY = 16


def start(project: Path, scratch: Path) -> tuple[subprocess.Popen[bytes], str, list[str]]:
    env = ensure_env(project)
    manifest = json.loads((project / ".backforge" / "manifest.json").read_text())
    openapi = json.loads((project / "openapi.json").read_text())
    database = scratch / f"{project.name}-{os.getpid()}.db"
    environ = env.environ({"DATABASE_URL": f"sqlite+aiosqlite:///{database}", "LOG_FORMAT": "json"})
    subprocess.run(
        [env.python, "-m", "alembic", "upgrade", "head"],
        cwd=project,
        env=environ,
        check=True,
        capture_output=True,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            env.python,
            "-m",
            "uvicorn",
            f"{manifest['package']}.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=project,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1, trust_env=False).status_code == 200:
                return server, url, list_paths(openapi, base_path(manifest, openapi))
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"{project} did not start")


def measure(url: str, paths: list[str], requests: int) -> tuple[float, float]:
    results, _, _ = asyncio.run(hammer(url, paths, requests, CONCURRENCY, 120.0))
    latencies = sorted(sample.seconds * 1000 for sample in results if sample.outcome == "200")
    return percentile(latencies, 0.50), percentile(latencies, 0.95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("with_layer", type=Path)
    parser.add_argument("without_layer", type=Path)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        servers = {
            "with": start(args.with_layer.resolve(), Path(scratch)),
            "without": start(args.without_layer.resolve(), Path(scratch)),
        }
        try:
            figures: dict[str, list[tuple[float, float]]] = {"with": [], "without": []}
            for name in servers:  # warm up
                measure(servers[name][1], servers[name][2], 200)
            for round_ in range(args.rounds):
                for name, (_, url, paths) in servers.items():
                    p50, p95 = measure(url, paths, args.requests)
                    figures[name].append((p50, p95))
                    print(f"round {round_ + 1} {name:>7}: p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
        finally:
            for server, _, _ in servers.values():
                server.terminate()
                server.wait(10)
    medians = {
        name: (statistics.median(p for p, _ in rows), statistics.median(p for _, p in rows))
        for name, rows in figures.items()
    }
    for name, (p50, p95) in medians.items():
        print(f"median {name:>7}: p50 {p50:.2f} ms  p95 {p95:.2f} ms")
    ratio = medians["with"][1] / medians["without"][1]
    print(f"p95 with / without: {ratio:.2f} ({(ratio - 1) * 100:+.0f} %)")


if __name__ == "__main__":
    main()
