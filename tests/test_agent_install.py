"""`backforge agent install`: the agent definitions and MCP entries, in each tool's format, and a
server started exactly as each config file says answers with the tools the agent is given."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_support import server_env

from backforge.cli import main

# The front-matter fields each tool documents for a sub-agent file.
CLAUDE_CODE_FIELDS = {
    "name", "description", "tools", "disallowedTools", "model", "permissionMode", "maxTurns",
    "skills", "mcpServers", "hooks", "memory", "background", "isolation", "effort", "color",
}  # fmt: skip
OPENCODE_FIELDS = {
    "description", "mode", "model", "permissions", "system", "temperature", "hidden", "disabled",
    "color", "steps", "options",
}  # fmt: skip
STEPS = ("validate_spec", "plan", "generate", "verify", "STATUS block", "hooks.py", "custom.py")


def front_matter(path: Path) -> tuple[dict[str, Any], str]:
    text = path.read_text()
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def install(directory: Path, target: str, *extra: str) -> int:
    return main(["agent", "install", "--for", target, "--dir", str(directory), *extra])


def tools_of(command: str, args: list[str], cwd: Path) -> set[str]:
    """Start the MCP server the way the tool would, from its config entry, and list its tools."""

    async def session() -> set[str]:
        params = StdioServerParameters(
            command=shutil.which(command, path=server_env()["PATH"]) or command,
            args=args,
            env=server_env(),
            cwd=cwd,
        )
        with (cwd.parent / "server.log").open("w") as err:
            async with Client(stdio_client(params, errlog=err)) as client:
                return {t.name for t in (await client.list_tools()).tools}

    return anyio.run(session)


def test_claude_code_agent_and_mcp_json(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert install(project, "claude-code") == 0
    front, body = front_matter(project / ".claude" / "agents" / "backend-developer.md")
    assert set(front) <= CLAUDE_CODE_FIELDS
    assert {"name", "description", "tools", "mcpServers"} <= set(front)
    assert front["name"] == "backend-developer"  # lowercase letters and hyphens
    assert isinstance(front["description"], str) and "backforge" in front["description"]
    tools = [t.strip() for t in front["tools"].split(",")]  # a comma-separated allowlist
    assert front["mcpServers"] == ["backforge"]
    mcp_tools = {t.removeprefix("mcp__backforge__") for t in tools if t.startswith("mcp__")}
    assert all(step in body for step in STEPS)

    config = json.loads((project / ".mcp.json").read_text())
    entry = config["mcpServers"]["backforge"]
    assert entry["type"] == "stdio"
    # Claude Code expands ${VAR:-default}; it starts project servers with CLAUDE_PROJECT_DIR set.
    args = [a.replace("${CLAUDE_PROJECT_DIR:-.}", str(project)) for a in entry["args"]]
    assert mcp_tools == tools_of(entry["command"], args, project)


def test_opencode_agent_and_opencode_json(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    assert install(project, "opencode") == 0
    front, body = front_matter(project / ".opencode" / "agents" / "backend-developer.md")
    assert set(front) <= OPENCODE_FIELDS
    assert front["mode"] in ("primary", "subagent", "all") and front["mode"] == "subagent"
    assert isinstance(front["description"], str) and "backforge" in front["description"]
    for rule in front["permissions"]:
        assert set(rule) == {"action", "resource", "effect"}
        assert rule["effect"] in ("allow", "deny", "ask")
    assert all(step in body for step in STEPS)

    config = json.loads((project / "opencode.json").read_text())
    assert config["$schema"] == "https://opencode.ai/config.json"
    entry = config["mcp"]["servers"]["backforge"]
    assert entry["type"] == "local"
    command, *args = entry["command"]
    served = tools_of(command, args, project)  # opencode starts it in the project directory
    # MCP tools are named <server>_<tool> in opencode; the agent's rule allows all of them.
    allowed = [r for r in front["permissions"] if r["action"] == "backforge_*"]
    assert allowed == [{"action": "backforge_*", "resource": "*", "effect": "allow"}]
    assert {"validate_spec", "plan", "generate", "verify"} <= served


@pytest.mark.parametrize("target", ["claude-code", "opencode"])
def test_install_never_overwrites_without_force(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert install(tmp_path, target) == 0
    agent = tmp_path / (".claude" if target == "claude-code" else ".opencode") / "agents"
    agent_file = agent / "backend-developer.md"
    assert install(tmp_path, target, "--json") == 0  # the same files again: unchanged
    report = json.loads(_last_json(capsys))
    assert {f["action"] for f in report["files"]} == {"unchanged"}

    agent_file.write_text(agent_file.read_text() + "\nMy own notes.\n")
    assert install(tmp_path, target) == 2
    assert "--force" in capsys.readouterr().err
    assert agent_file.read_text().endswith("My own notes.\n")
    assert install(tmp_path, target, "--force") == 0
    assert not agent_file.read_text().endswith("My own notes.\n")


def _last_json(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr().out
    return out[out.rindex('{\n  "schema_version"') :]


def test_config_entries_join_what_is_there(tmp_path: Path) -> None:
    (tmp_path / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"other": {"command": "other-server"}}})
    )
    (tmp_path / "opencode.json").write_text(json.dumps({"model": "x/y", "mcp": {"servers": {}}}))
    assert install(tmp_path, "claude-code") == 0
    assert install(tmp_path, "opencode") == 0
    claude = json.loads((tmp_path / ".mcp.json").read_text())
    assert set(claude["mcpServers"]) == {"other", "backforge"}
    assert claude["mcpServers"]["other"] == {"command": "other-server"}
    opencode = json.loads((tmp_path / "opencode.json").read_text())
    assert opencode["model"] == "x/y" and set(opencode["mcp"]["servers"]) == {"backforge"}

    # A different backforge entry is someone's choice: replaced only with --force.
    claude["mcpServers"]["backforge"]["args"] = ["mcp", "--root", "/srv/specs"]
    (tmp_path / ".mcp.json").write_text(json.dumps(claude))
    os.remove(tmp_path / ".claude" / "agents" / "backend-developer.md")
    assert install(tmp_path, "claude-code") == 2
    assert not (tmp_path / ".claude" / "agents" / "backend-developer.md").exists()
    assert install(tmp_path, "claude-code", "--force") == 0
    fixed = json.loads((tmp_path / ".mcp.json").read_text())["mcpServers"]["backforge"]
    assert fixed["args"] == ["mcp", "--root", "${CLAUDE_PROJECT_DIR:-.}"]


def test_a_jsonc_config_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = '{\n  // mine\n  "model": "x/y",\n}\n'
    (tmp_path / "opencode.jsonc").write_text(text)
    assert install(tmp_path, "opencode") == 2
    assert "by hand" in capsys.readouterr().err
    assert (tmp_path / "opencode.jsonc").read_text() == text
    assert not (tmp_path / ".opencode").exists()
