"""The `mcp` and `agent install` subcommands, added to the command line by `backforge.cli`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from backforge.errors import BackforgeError

EXTRA_HINT = "backforge mcp needs the MCP SDK: pip install 'backforge[agent]'"


class MissingExtra(BackforgeError):
    exit_code = 2


def add_commands(commands: Any) -> None:
    mcp = commands.add_parser(
        "mcp", help="serve backforge's tools to an AI agent (Model Context Protocol)"
    )
    mcp.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="workspace root: every path a tool is given must be inside it (default: .)",
    )
    mcp.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp (loopback only); default: stdio",
    )
    mcp.add_argument("--log", type=Path, help="also append the tool-call log to this file")
    mcp.set_defaults(handler=_mcp)

    agent = commands.add_parser("agent", help="set up AI coding agents to use backforge")
    agent_commands = agent.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")
    install = agent_commands.add_parser(
        "install", help="write a backend-developer agent and the MCP server entry for a tool"
    )
    install.add_argument("--for", dest="target", required=True, choices=["claude-code", "opencode"])
    install.add_argument("--dir", type=Path, default=Path("."), help="project directory")
    install.add_argument("--force", action="store_true", help="overwrite what differs")
    install.add_argument("--json", action="store_true", help="machine-readable output")
    install.set_defaults(handler=_agent_install)


def _mcp(args: argparse.Namespace) -> int:
    try:
        from backforge.agent import server
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "mcp":
            raise MissingExtra(EXTRA_HINT) from None
        raise
    root: Path = args.root
    if not root.is_dir():
        print(f"backforge: --root {root} is not a directory", file=sys.stderr)
        return 2
    if args.http:
        server.parse_address(args.http)
    server.run(root, http=args.http, log_file=args.log)
    return 0


def _agent_install(args: argparse.Namespace) -> int:
    from backforge.agent.install import install

    written = install(args.target, args.dir, force=args.force)
    if args.json:
        print(
            json.dumps(
                {
                    "schema_version": 1,
                    "ok": True,
                    "files": [{"path": str(w.path), "action": w.action} for w in written],
                },
                indent=2,
            )
        )
    else:
        for item in written:
            print(item)
    return 0
