"""`backforge mcp`: the Model Context Protocol server, over stdio or streamable HTTP.

Built on the official SDK's `MCPServer`, which answers the current protocol revision and the
handshake-era ones before it. Every tool is a thin wrapper over `tools.py`; paths are confined
to the workspace root given at start, and every call is logged as one JSON line to stderr (never
stdout: that is the stdio transport) and, with --log, to a file.
"""

import functools
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from backforge import __version__
from backforge.agent import shapes, tools
from backforge.agent.workspace import Workspace
from backforge.errors import BackforgeError, ProjectError, SpecError
from backforge.verify import LOAD_REQUESTS

ROOT = Path(__file__).resolve().parents[3]  # the source checkout: docs/ and examples/
INSTRUCTIONS = (
    "backforge turns a YAML service spec into a complete FastAPI project and verifies it for "
    "real. Work in this order: spec_schema (once), write the spec, validate_spec until ok, plan, "
    "generate (a dry run; then apply: true), verify, and report its STATUS block; explain_report "
    "says what failed and the likely fix. Business rules go only in <package>/<resource>/hooks.py "
    "and <package>/custom.py. Paths are relative to the workspace root."
)

T = TypeVar("T")


class CallLog:
    """One JSON line per tool call, to stderr and optionally to a file."""

    def __init__(self, file: Path | None = None):
        self.file: IO[str] | None = file.open("a", encoding="utf-8") if file else None

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps({"ts": round(time.time(), 3), **record}, default=str)
        print(line, file=sys.stderr, flush=True)
        if self.file is not None:
            self.file.write(line + "\n")
            self.file.flush()


def build_server(root: Path, *, log: CallLog | None = None) -> MCPServer:
    workspace = Workspace(root)
    calls = log or CallLog()
    server = MCPServer(
        "backforge",
        title="backforge",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )

    def logged(
        fn: Callable[..., Awaitable[T]],
    ) -> Callable[..., Awaitable[T]]:
        @functools.wraps(fn)
        async def call(*args: Any, **kwargs: Any) -> T:
            started = time.monotonic()
            arguments = {
                k: _redacted(v) if k == "database_url" else v
                for k, v in kwargs.items()
                if k not in ("ctx", "text")
            }
            record = {"event": "tool_call", "tool": fn.__name__, "arguments": arguments}
            try:
                result = await fn(*args, **kwargs)
            except SpecError as exc:
                calls.write({**record, "ok": False, "seconds": _since(started), "error": "spec"})
                raise ToolError(
                    f"the spec has {len(exc.problems)} problem(s); validate_spec lists them as "
                    f"data:\n{exc}"
                ) from None
            except BackforgeError as exc:
                calls.write({**record, "ok": False, "seconds": _since(started), "error": str(exc)})
                raise ToolError(str(exc)) from None
            except Exception as exc:
                calls.write({**record, "ok": False, "seconds": _since(started), "error": repr(exc)})
                raise
            calls.write({**record, "ok": True, "seconds": _since(started)})
            return result

        return call

    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

    @server.tool(annotations=read_only)
    @logged
    async def spec_schema() -> shapes.SpecSchema:
        """The JSON Schema of the backforge spec language and a short guide to writing a spec."""
        return tools.spec_schema()

    @server.tool(annotations=read_only)
    @logged
    async def validate_spec(
        spec: Annotated[str, Field(description="the spec file, relative to the workspace root")],
        text: Annotated[
            str | None,
            Field(description="validate this YAML instead of the file's content (optional)"),
        ] = None,
    ) -> shapes.Validation:
        """Check a spec and return every problem as data (file, line, path, message, fix).

        A spec with problems is a normal result (ok: false), not an error."""
        return await anyio.to_thread.run_sync(tools.validate_spec, workspace, spec, text)

    @server.tool(annotations=read_only)
    @logged
    async def plan(
        spec: Annotated[str, Field(description="the spec file, relative to the workspace root")],
        directory: Annotated[str, Field(description="the project directory (may not exist yet)")],
    ) -> shapes.Plan:
        """What generating `directory` from `spec` would change: files, database steps (with the
        destructive ones), API changes (with the breaking ones). Writes nothing."""
        return await anyio.to_thread.run_sync(tools.plan, workspace, spec, directory)

    @server.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        )
    )
    @logged
    async def generate(
        spec: Annotated[str, Field(description="the spec file, relative to the workspace root")],
        directory: Annotated[str, Field(description="the project directory to write")],
        apply: Annotated[
            bool, Field(description="write the files; false (the default) is a dry run")
        ] = False,
        allow_destructive: Annotated[
            bool,
            Field(description="apply a change that loses data (drops a table or column, ...)"),
        ] = False,
        force: Annotated[
            bool, Field(description="overwrite generated files that were changed by hand")
        ] = False,
    ) -> shapes.Generation:
        """Generate the project for a spec. A dry run by default: the files that would be written
        or changed, and the options applying needs. With apply: true it writes them; a change
        that loses data is refused unless allow_destructive: true."""
        return await anyio.to_thread.run_sync(
            functools.partial(
                tools.generate,
                workspace,
                spec,
                directory,
                apply=apply,
                allow_destructive=allow_destructive,
                force=force,
            )
        )

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, open_world_hint=False))
    @logged
    async def verify(
        directory: Annotated[str, Field(description="the generated project directory")],
        ctx: Context,
        database_url: Annotated[
            str | None,
            Field(description="verify on this database server (postgresql://...); default SQLite"),
        ] = None,
        fuzz_examples: Annotated[
            int, Field(ge=1, le=1000, description="contract-fuzzing examples per operation")
        ] = 30,
        load_requests: Annotated[
            int, Field(ge=1, le=100000, description="requests in the smoke load")
        ] = LOAD_REQUESTS,
        seed: Annotated[int, Field(description="contract-fuzzing seed")] = 20261122,
        contract: Annotated[
            str | None,
            Field(
                description="an OpenAPI 3.0/3.1 document (YAML or JSON) in the workspace: also "
                "fuzz the running service against it and report every operation that differs"
            ),
        ] = None,
    ) -> shapes.Verification:
        """Run every check on a generated project (lint, security, tests with coverage,
        migrations, server, contract fuzzing, load, observability, resilience); progress comes
        as notifications, one per check started and finished. Returns the report and its STATUS
        block; writes backforge-report.json into the project. Takes minutes.

        Progress is counted in checks: n once n have ended; a check that starts moves it half
        way to n + 1 (checks run concurrently, and progress must increase every time)."""
        done: dict[str, Any] = {"count": 0, "last": 0.0}

        def progress(event: str, data: dict[str, Any]) -> None:
            try:
                notify(event, data)
            except Exception as exc:  # a client gone away must not stop the checks
                calls.write({"event": "progress_lost", "tool": "verify", "error": repr(exc)})

        def notify(event: str, data: dict[str, Any]) -> None:
            if event == "check_started":
                total = data["total"]
                done["total"] = total
                message = f"[{data['index'] + 1}/{total}] {data['name']} …"
                done["last"] += (done["count"] + 1 - done["last"]) / 2
                anyio.from_thread.run(ctx.report_progress, done["last"], total, message)
            elif event == "check_finished":
                done["count"] += 1
                done["last"] = done["count"]
                figure = f" — {data['figure']}" if data.get("figure") else ""
                message = f"{data['name']}: {data['status']} in {data['seconds']:.1f} s{figure}"
                anyio.from_thread.run(
                    ctx.report_progress, done["count"], done.get("total"), message
                )

        return await anyio.to_thread.run_sync(
            functools.partial(
                tools.verify,
                workspace,
                directory,
                progress=progress,
                database_url=database_url,
                seed=seed,
                fuzz_examples=fuzz_examples,
                load_requests=load_requests,
                contract=contract,
            )
        )

    @server.tool(annotations=read_only)
    @logged
    async def explain_report(
        report: Annotated[
            str,
            Field(description="a backforge-report.json, or the project directory holding one"),
        ],
    ) -> shapes.Explanation:
        """What failed in a verify report, first cause first, with the likely fix for each."""
        return await anyio.to_thread.run_sync(tools.explain_report, workspace, report)

    _add_resources(server)
    return server


def _add_resources(server: MCPServer) -> None:
    spec_doc = ROOT / "docs" / "spec.md"
    if spec_doc.is_file():
        server.resource(
            "backforge://docs/spec.md",
            name="spec.md",
            title="The service spec — reference",
            description="Every section, field type and option of the spec language",
            mime_type="text/markdown",
        )(_reader(spec_doc))
    examples = ROOT / "examples"
    for example in sorted(examples.glob("*.yaml")) if examples.is_dir() else []:
        server.resource(
            f"backforge://examples/{example.name}",
            name=example.name,
            title=f"Example spec: {example.stem}",
            description="A working spec that generates and verifies",
            mime_type="application/yaml",
        )(_reader(example))


def _reader(path: Path) -> Callable[[], str]:
    def read() -> str:
        return path.read_text(encoding="utf-8")

    read.__name__ = f"read_{path.stem}"
    return read


def _redacted(url: Any) -> Any:
    """A database URL without its password, for the log."""
    return re.sub(r"(://[^:/@]*):[^/]*@", r"\1:***@", url) if isinstance(url, str) else url


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def run(root: Path, *, http: str | None = None, log_file: Path | None = None) -> None:
    """Serve until the client goes away (stdio) or the process is stopped (HTTP)."""
    log = CallLog(log_file)
    server = build_server(root, log=log)
    log.write(
        {
            "event": "start",
            "root": str(Path(root).resolve()),
            "transport": "streamable-http" if http else "stdio",
            "address": http,
        }
    )
    if http is None:
        anyio.run(server.run_stdio_async)
        return
    host, port = parse_address(http)
    anyio.run(functools.partial(server.run_streamable_http_async, host=host, port=port))


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProjectError(f"--http wants HOST:PORT (e.g. 127.0.0.1:8765), not {text!r}")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        raise ProjectError(
            f"--http serves on loopback only (127.0.0.1, localhost, ::1), not {host!r}: the "
            "server has no authentication and writes files under its root"
        )
    return host.strip("[]"), int(port)
