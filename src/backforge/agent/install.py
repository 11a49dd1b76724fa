"""`backforge agent install --for claude-code|opencode`: a "backend-developer" sub-agent in the
tool's own format, and the backforge MCP server entry in the tool's config file.

Formats, as each tool documents them:
- Claude Code: `.claude/agents/<name>.md`, YAML front matter `name`, `description`, `tools` (a
  comma-separated allowlist; MCP tools are `mcp__<server>__<tool>`) and `mcpServers` (names of
  servers configured elsewhere); project MCP servers in `.mcp.json` under `mcpServers`.
- opencode: `.opencode/agents/<name>.md`, front matter `description`, `mode` and `permissions`
  (rules of `action`, `resource`, `effect`; the last matching rule wins); MCP servers in
  `opencode.json` under `mcp.servers`, a local one as `{"type": "local", "command": [...]}`.

An existing agent file is never overwritten without `force`. In a config file the backforge
entry is added beside whatever else it holds; an existing, different backforge entry is replaced
only with `force`; a file that is not plain JSON (JSONC with comments) is left alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from backforge.errors import BackforgeError

AGENT = "backend-developer"
SERVER = "backforge"
TOOLS = ("spec_schema", "validate_spec", "plan", "generate", "verify", "explain_report")
TARGETS = ("claude-code", "opencode")


class InstallError(BackforgeError):
    """A file `agent install` will not touch without being told to (exit 2, nothing written)."""

    exit_code = 2


DESCRIPTION = (
    "Backend developer that builds REST services with backforge: turns requirements into a "
    "backforge spec, validates it until clean, plans, generates and verifies the project, and "
    "reports its STATUS block. Use it when the user asks for a backend, an API or a service."
)

INSTRUCTIONS = """\
You are a backend developer. You build services with backforge, through the `backforge` MCP
server's tools; you do not write the generated code by hand.

1. Gather the requirements: the resources (the things the service stores), their fields and
   types, which fields are required or unique, how resources refer to each other, what clients
   filter and sort by, who may do what. Ask when something that changes the data model is
   unclear; do not invent business rules.
2. Read the spec language once: call `spec_schema` (the JSON Schema and a short guide); the full
   reference is the resource `backforge://docs/spec.md` and working specs are the
   `backforge://examples/...` resources.
3. Write the spec: one YAML file in the workspace (e.g. `service.yaml`).
4. Validate until clean: call `validate_spec` with its path. Each problem has `file`, `line`,
   `path`, `message` and `fix`: fix every one and validate again, until `ok` is true.
5. Plan: call `plan` with the spec and the project directory. Read the database steps and the API
   changes; if `destructive` is not 0 or `breaking` is not 0 on an existing project, tell the
   user what would be lost or broken and get their agreement first.
6. Generate: call `generate` (a dry run: the files it would write), then `generate` with
   `apply: true`. Pass `allow_destructive: true` only after the user agreed to lose that data,
   and `force: true` only to overwrite a generated file someone changed by hand, on purpose.
7. Verify: call `verify` with the project directory. It takes minutes and reports progress.
   If the status is not COMPLETE, call `explain_report` on the project directory, fix the cause
   (in the spec, or in the user-owned files below), generate and verify again.
8. Report: give the user the STATUS block exactly as `verify` returned it, and what you changed.

Business rules go only in the user-owned files `<package>/<resource>/hooks.py` (validation,
before/after create, update and delete) and `<package>/custom.py` (your own endpoints).
backforge writes them once and never overwrites them. Never edit the generated files, the
migrations or `.backforge/`: change the spec and generate again instead.
"""


@dataclass(frozen=True)
class Written:
    path: Path
    action: str  # "written", "updated", "unchanged"

    def __str__(self) -> str:
        return f"{self.action:9} {self.path}"


def install(target: str, directory: Path, *, force: bool = False) -> list[Written]:
    if target not in TARGETS:
        raise InstallError(f"--for wants one of {', '.join(TARGETS)}, not {target!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise InstallError(f"{directory} is not a directory")
    if target == "claude-code":
        agent_file = directory / ".claude" / "agents" / f"{AGENT}.md"
        agent_text = claude_code_agent()
        config, entry_at, entry = _claude_config(directory)
    else:
        agent_file = directory / ".opencode" / "agents" / f"{AGENT}.md"
        agent_text = opencode_agent()
        config, entry_at, entry = _opencode_config(directory)
    # Decide everything before writing anything: a refusal leaves the directory as it was.
    agent_action = _file_action(agent_file, agent_text, force)
    config_text, config_action = _merged_config(config, entry_at, entry, force, target)
    done = []
    for path, text, action in (
        (agent_file, agent_text, agent_action),
        (config, config_text, config_action),
    ):
        if action != "unchanged":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        done.append(Written(path, action))
    return done


def claude_code_agent() -> str:
    front = {
        "name": AGENT,
        "description": DESCRIPTION,
        "tools": ", ".join(
            ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
            + [f"mcp__{SERVER}__{tool}" for tool in TOOLS]
        ),
        "mcpServers": [SERVER],
    }
    return _markdown(front, INSTRUCTIONS)


def opencode_agent() -> str:
    def rule(action: str, resource: str, effect: str) -> dict[str, str]:
        return {"action": action, "resource": resource, "effect": effect}

    front = {
        "description": DESCRIPTION,
        "mode": "subagent",
        "permissions": [
            rule("read", "*", "allow"),
            rule("edit", "*", "allow"),
            rule("shell", "*", "ask"),
            rule("shell", "backforge *", "allow"),
            rule(f"{SERVER}_*", "*", "allow"),
        ],
    }
    return _markdown(front, INSTRUCTIONS)


def server_command() -> list[str]:
    return [SERVER, "mcp", "--root", "."]


def _claude_config(directory: Path) -> tuple[Path, tuple[str, ...], dict[str, Any]]:
    command, *args = server_command()
    # Claude Code starts project servers with CLAUDE_PROJECT_DIR set and expands ${VAR:-default}.
    args[-1] = "${CLAUDE_PROJECT_DIR:-.}"
    entry = {"type": "stdio", "command": command, "args": args, "env": {}}
    return directory / ".mcp.json", ("mcpServers", SERVER), entry


def _opencode_config(directory: Path) -> tuple[Path, tuple[str, ...], dict[str, Any]]:
    config = directory / "opencode.json"
    if not config.exists() and (directory / "opencode.jsonc").exists():
        config = directory / "opencode.jsonc"
    entry = {"type": "local", "command": server_command()}
    return config, ("mcp", "servers", SERVER), entry


def _file_action(path: Path, text: str, force: bool) -> str:
    if not path.exists():
        return "written"
    if path.read_text(encoding="utf-8") == text:
        return "unchanged"
    if not force:
        raise InstallError(f"{path} already exists and differs; pass --force to overwrite it")
    return "written"


def _merged_config(
    path: Path, at: tuple[str, ...], entry: dict[str, Any], force: bool, target: str
) -> tuple[str, str]:
    if not path.exists():
        data: dict[str, Any] = (
            {"$schema": "https://opencode.ai/config.json"} if target == "opencode" else {}
        )
        _put(data, at, entry, path)
        return _json(data), "written"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InstallError(
            f"{path} is not plain JSON (comments?); add this entry under "
            f"{'.'.join(at)} by hand: {json.dumps(entry)}"
        ) from None
    if not isinstance(data, dict):
        raise InstallError(f"{path} does not hold a JSON object; fix it or move it away")
    current = _get(data, at)
    if current == entry:
        return _json(data), "unchanged"
    if current is not None and not force:
        raise InstallError(
            f"{path} already has a different {'.'.join(at)} entry; pass --force to replace it"
        )
    _put(data, at, entry, path)
    return _json(data), "updated"


def _get(data: dict[str, Any], at: tuple[str, ...]) -> Any:
    node: Any = data
    for key in at:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _put(data: dict[str, Any], at: tuple[str, ...], value: Any, path: Path) -> None:
    node = data
    for key in at[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise InstallError(f"{path}: {key} is not a JSON object; fix it by hand")
    node[at[-1]] = value


def _markdown(front: dict[str, Any], body: str) -> str:
    header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=4096)
    return f"---\n{header}---\n\n{body}"


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
