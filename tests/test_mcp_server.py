"""`backforge mcp` driven the way an agent drives it: a subprocess, the MCP SDK's own client,
over stdio and over streamable HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import jsonschema
import pytest
from mcp_support import TRANSPORTS, call_log, connect, server_env, text_of
from mcp_types.version import LATEST_HANDSHAKE_VERSION, LATEST_PROTOCOL_VERSION

from backforge.agent.install import TOOLS
from backforge.verify.runner import CHECKS, verify_project

ROOT = Path(__file__).resolve().parents[1]

NOTES = """\
service:
  name: notes
resources:
  Note:
    fields:
      title: {type: string, max_length: 200, required: true}
      body: text
      pinned: bool
"""

BAD = """\
service:
  name: Notes
resources:
  Note:
    fields:
      title: {type: strng, max_length: 200}
      body: {type: text, maxlength: 10}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.yaml").write_text(NOTES)
    (root / "bad.yaml").write_text(BAD)
    return root


def run(
    transport: str,
    root: Path,
    log: Path,
    session: Any,
    *,
    mode: str = "auto",
    extra: tuple[str, ...] = (),
) -> Any:
    async def main() -> Any:
        async with connect(transport, root, log, mode=mode, extra=extra) as client:
            return await session(client)

    return anyio.run(main)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_tools_have_typed_input_and_output_schemas(
    transport: str, workspace: Path, tmp_path: Path
) -> None:
    async def session(client: Any) -> Any:
        return (
            client.protocol_version,
            (await client.list_tools()).tools,
            (await client.list_resources()).resources,
        )

    version, tools, resources = run(transport, workspace, tmp_path / "server.log", session)
    assert version == LATEST_PROTOCOL_VERSION
    by_name = {t.name: t for t in tools}
    assert set(by_name) == set(TOOLS)
    for tool in tools:
        assert tool.description, tool.name
        jsonschema.Draft202012Validator.check_schema(tool.input_schema)
        jsonschema.Draft202012Validator.check_schema(tool.output_schema)
        assert tool.output_schema["properties"]["schema_version"]["const"] == 1, tool.name
    required = {name: set(t.input_schema.get("required", [])) for name, t in by_name.items()}
    assert required == {
        "spec_schema": set(),
        "validate_spec": {"spec"},
        "plan": {"spec", "directory"},
        "generate": {"spec", "directory"},
        "verify": {"directory"},
        "explain_report": {"report"},
    }
    generate = by_name["generate"].input_schema["properties"]
    assert generate["apply"] == {**generate["apply"], "type": "boolean", "default": False}
    assert generate["allow_destructive"]["default"] is False
    assert "ctx" not in by_name["verify"].input_schema["properties"]
    problem = by_name["validate_spec"].output_schema["$defs"]["Problem"]
    assert set(problem["required"]) == {"file", "line", "path", "message", "fix"}
    assert by_name["plan"].annotations.read_only_hint is True
    assert by_name["generate"].annotations.destructive_hint is True
    uris = {str(r.uri) for r in resources}
    assert "backforge://docs/spec.md" in uris
    assert {f"backforge://examples/{p.name}" for p in (ROOT / "examples").glob("*.yaml")} <= uris


def test_the_previous_protocol_revision_is_still_answered(workspace: Path, tmp_path: Path) -> None:
    async def session(client: Any) -> Any:
        result = await client.call_tool("validate_spec", {"spec": "notes.yaml"})
        return client.protocol_version, result

    version, result = run("stdio", workspace, tmp_path / "s.log", session, mode="legacy")
    assert version == LATEST_HANDSHAKE_VERSION
    assert result.structured_content["ok"] is True


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_validate_spec_returns_problems_as_data(
    transport: str, workspace: Path, tmp_path: Path
) -> None:
    async def session(client: Any) -> Any:
        bad = await client.call_tool("validate_spec", {"spec": "bad.yaml"})
        good = await client.call_tool("validate_spec", {"spec": "notes.yaml"})
        inline = await client.call_tool(
            "validate_spec", {"spec": "draft.yaml", "text": BAD.replace("strng", "string")}
        )
        schema = await client.call_tool("spec_schema", {})
        return bad, good, inline, schema

    bad, good, inline, schema = run(transport, workspace, tmp_path / "server.log", session)
    assert not bad.is_error
    data = bad.structured_content
    assert data["ok"] is False and data["service"] is None
    where = {(p["line"], p["path"]): p for p in data["problems"]}
    assert set(where) == {
        (2, "service.name"),
        (6, "resources.Note.fields.title.type"),
        (7, "resources.Note.fields.body.maxlength"),
    }
    assert all(p["file"] == "bad.yaml" for p in data["problems"])
    assert "string" in where[(6, "resources.Note.fields.title.type")]["fix"]
    assert "max_length" in where[(7, "resources.Note.fields.body.maxlength")]["fix"]
    # The text content mirrors the structured content, for clients that only read text.
    assert json.loads(text_of(bad)) == data

    assert good.structured_content == {
        "schema_version": 1,
        "ok": True,
        "file": "notes.yaml",
        "service": "notes",
        "resources": 1,
        "fields": 3,
        "problems": [],
        "notes": [],
    }
    assert [p["path"] for p in inline.structured_content["problems"]] == [
        "service.name",
        "resources.Note.fields.body.maxlength",
    ]
    assert not (workspace / "draft.yaml").exists()
    spec_schema = schema.structured_content["json_schema"]
    jsonschema.Draft202012Validator.check_schema(spec_schema)
    assert "resources" in spec_schema["required"]
    assert "validate_spec" in schema.structured_content["guide"]
    log = call_log(tmp_path / "server.log")
    assert [(r["tool"], r["ok"]) for r in log] == [
        ("validate_spec", True),
        ("validate_spec", True),
        ("validate_spec", True),
        ("spec_schema", True),
    ]
    assert "text" not in log[2]["arguments"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_plan_then_generate_dry_run_then_apply(
    transport: str, workspace: Path, tmp_path: Path
) -> None:
    async def session(client: Any) -> Any:
        plan = await client.call_tool("plan", {"spec": "notes.yaml", "directory": "notes"})
        dry = await client.call_tool("generate", {"spec": "notes.yaml", "directory": "notes"})
        written_after_dry_run = (workspace / "notes").exists()
        applied = await client.call_tool(
            "generate", {"spec": "notes.yaml", "directory": "notes", "apply": True}
        )
        again = await client.call_tool("generate", {"spec": "notes.yaml", "directory": "notes"})
        return plan, dry, written_after_dry_run, applied, again

    plan, dry, written_after_dry_run, applied, again = run(
        transport, workspace, tmp_path / "server.log", session
    )
    assert not plan.is_error, text_of(plan)
    planned = plan.structured_content
    assert planned["new_project"] is True and planned["directory"] == "notes"
    assert "openapi.json" in planned["files"]["added"]
    assert "notes/models.py" in planned["files"]["added"]
    assert "note" in [step["table"] for step in planned["database"]]

    assert dry.structured_content["applied"] is False
    assert dry.structured_content["written"] is None
    assert dry.structured_content["plan"]["files"] == planned["files"]
    assert "nothing written" in dry.structured_content["message"]
    assert written_after_dry_run is False

    result = applied.structured_content
    assert result["applied"] is True
    files = result["written"]["files"]
    assert sorted(files) == sorted(planned["files"]["added"])
    assert all((workspace / "notes" / f).is_file() for f in files)
    assert (workspace / "notes" / ".backforge" / "manifest.json").is_file()
    assert (workspace / "notes" / "notes" / "note" / "hooks.py").is_file()  # user-owned, once

    rerun = again.structured_content["plan"]
    assert rerun["new_project"] is False and rerun["spec_changed"] is False
    assert rerun["files"]["added"] == rerun["files"]["changed"] == []


def test_generate_needs_allow_destructive_to_lose_data(workspace: Path, tmp_path: Path) -> None:
    async def session(client: Any) -> Any:
        await client.call_tool(
            "generate", {"spec": "notes.yaml", "directory": "notes", "apply": True}
        )
        (workspace / "notes.yaml").write_text(NOTES.replace("      pinned: bool\n", ""))
        dry = await client.call_tool("generate", {"spec": "notes.yaml", "directory": "notes"})
        refused = await client.call_tool(
            "generate", {"spec": "notes.yaml", "directory": "notes", "apply": True}
        )
        unchanged = (workspace / "notes" / "openapi.json").read_text()
        allowed = await client.call_tool(
            "generate",
            {
                "spec": "notes.yaml",
                "directory": "notes",
                "apply": True,
                "allow_destructive": True,
            },
        )
        return dry, refused, unchanged, allowed

    dry, refused, unchanged, allowed = run("stdio", workspace, tmp_path / "s.log", session)
    plan = dry.structured_content["plan"]
    assert plan["destructive"] == 1
    assert plan["generate_needs"] == ["--allow-destructive"]
    assert "allow_destructive: true" in dry.structured_content["message"]
    assert [s["loses"] is not None for s in plan["database"]] == [True]

    assert refused.is_error
    assert "pinned" in text_of(refused)
    assert "pinned" in unchanged  # the refused run wrote nothing

    assert not allowed.is_error, text_of(allowed)
    written = allowed.structured_content["written"]
    assert written["migration"] and (workspace / "notes" / written["migration"]).is_file()
    assert [d["summary"] for d in written["destructive"]] == [plan["database"][0]["summary"]]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_paths_outside_the_root_are_refused(
    transport: str, workspace: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(NOTES)
    os.symlink(outside, workspace / "escape")
    os.symlink(workspace / "notes.yaml", workspace / "inside-link.yaml")

    async def session(client: Any) -> Any:
        return [
            await client.call_tool(name, args)
            for name, args in (
                ("validate_spec", {"spec": "../outside/secret.yaml"}),
                ("validate_spec", {"spec": str(outside / "secret.yaml")}),
                ("validate_spec", {"spec": "escape/secret.yaml"}),
                ("plan", {"spec": "notes.yaml", "directory": "../outside/project"}),
                ("generate", {"spec": "notes.yaml", "directory": "escape/p", "apply": True}),
                ("verify", {"directory": "/tmp"}),
                ("explain_report", {"report": "escape"}),
                ("verify", {"directory": "project", "contract": "../outside/api.yaml"}),
                ("validate_spec", {"spec": "inside-link.yaml"}),
            )
        ]

    *refused, allowed = run(transport, workspace, tmp_path / "server.log", session)
    messages = [text_of(r) for r in refused]
    assert all(r.is_error for r in refused), messages
    assert "contains `..`" in messages[0] and "contains `..`" in messages[3]
    assert "is outside the workspace" in messages[1] and "is outside" in messages[5]
    assert "leaves through a symlink" in messages[2] and "symlink" in messages[4]
    assert "symlink" in messages[6]
    assert "contract '../outside/api.yaml' contains `..`" in messages[7]
    assert sorted(p.name for p in outside.iterdir()) == ["secret.yaml"]  # nothing written
    assert allowed.structured_content["ok"] is True  # a symlink that stays inside is fine
    log = call_log(tmp_path / "server.log")
    assert [r["ok"] for r in log] == [False] * 8 + [True]
    assert all("workspace" in r["error"] for r in log[:8])


def test_explain_report_says_what_failed_and_the_fix(workspace: Path, tmp_path: Path) -> None:
    async def generate(client: Any) -> Any:
        return await client.call_tool(
            "generate", {"spec": "notes.yaml", "directory": "notes", "apply": True}
        )

    run("stdio", workspace, tmp_path / "g.log", generate)
    project = workspace / "notes"
    custom = project / "notes" / "custom.py"
    custom.write_text(custom.read_text() + "\nimport os\n")  # unused, unsorted: ruff fails
    # A real report of a short run (environment and lint only), written where verify writes it.
    report = verify_project(project, checks=CHECKS[:2])
    assert report.status == "BLOCKED"

    async def explain(client: Any) -> Any:
        return (
            await client.call_tool("explain_report", {"report": "notes"}),
            await client.call_tool("explain_report", {"report": "notes/backforge-report.json"}),
            await client.call_tool("explain_report", {"report": "notes.yaml"}),
        )

    by_dir, by_file, not_a_report = run("http", workspace, tmp_path / "e.log", explain)
    data = by_dir.structured_content
    assert data == by_file.structured_content
    assert data["status"] == "BLOCKED" and data["report_path"] == "notes/backforge-report.json"
    assert data["status_block"] == report.status_block()
    assert [f["check"] for f in data["findings"]] == ["lint"]
    lint = data["findings"][0]
    assert "ruff" in lint["likely_fix"] and "custom.py" in lint["likely_fix"]
    assert any(f.startswith("notes/custom.py:") for f in lint["files"]), lint
    assert not_a_report.is_error and "not a directory" not in text_of(not_a_report)


@pytest.mark.e2e
def test_verify_reports_progress_and_returns_the_report(workspace: Path, tmp_path: Path) -> None:
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async def session(client: Any) -> Any:
        await client.call_tool(
            "generate", {"spec": "notes.yaml", "directory": "notes", "apply": True}
        )
        verified = await client.call_tool(
            "verify",
            {"directory": "notes"},
            progress_callback=on_progress,
            read_timeout_seconds=1200,
        )
        explained = await client.call_tool("explain_report", {"report": "notes"})
        return verified, explained

    verified, explained = run("stdio", workspace, tmp_path / "server.log", session)
    assert not verified.is_error, text_of(verified)
    data = verified.structured_content
    on_disk = json.loads((workspace / "notes" / "backforge-report.json").read_text())
    assert data["report"] == on_disk
    assert data["report_path"] == "notes/backforge-report.json"
    assert data["status"] == on_disk["status"] == "COMPLETE", data["status_block"]
    assert data["status_block"].startswith("STATUS: COMPLETE\nSUMMARY: ")
    checks = [c.name for c in CHECKS if c.name != "events"]  # notes has no events
    assert [c["name"] for c in data["checks"]] == checks
    # Two notifications per check (started, finished), strictly increasing as the protocol
    # wants, though checks run concurrently: n once n checks ended, a start moves it half way
    # to n + 1; the total is the checks.
    assert len(progress) == 2 * len(checks)
    assert all(total == len(checks) for _, total, _ in progress)
    values = [done for done, _, _ in progress]
    assert values == sorted(set(values)) and values[0] == 0.5 and values[-1] == len(checks)
    ended = [message for _, _, message in progress if " in " in (message or "")]
    assert len(ended) == len(checks) and all(": passed in " in m for m in ended)
    assert progress[0][2] == f"[1/{len(checks)}] environment …"
    assert explained.structured_content["findings"] == []
    assert explained.structured_content["status"] == "COMPLETE"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_call_is_logged_to_stderr_and_to_the_log_file(
    transport: str, workspace: Path, tmp_path: Path
) -> None:
    """On stdio, stdout is the protocol (a log line there would break the client): the log goes
    to stderr and, with --log, to a file."""
    log_file = tmp_path / "calls.log"

    async def session(client: Any) -> Any:
        return (
            await client.call_tool("validate_spec", {"spec": "bad.yaml"}),
            await client.call_tool("plan", {"spec": "bad.yaml", "directory": "x"}),
        )

    validated, planned = run(
        transport, workspace, tmp_path / "server.log", session, extra=("--log", str(log_file))
    )
    assert validated.structured_content["ok"] is False
    assert planned.is_error and "validate_spec lists them" in text_of(planned)
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [r["event"] for r in records] == ["start", "tool_call", "tool_call"]
    assert records[0]["root"] == str(workspace.resolve())
    assert records[1]["tool"] == "validate_spec" and records[1]["arguments"] == {"spec": "bad.yaml"}
    assert (records[1]["ok"], records[2]["ok"], records[2]["error"]) == (True, False, "spec")
    assert call_log(tmp_path / "server.log") == records[1:]


@pytest.mark.parametrize("address", ["0.0.0.0:8765", "example.com:80", "127.0.0.1", "127.0.0.1:x"])
def test_http_serves_on_loopback_only(
    address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from backforge.cli import main

    assert main(["mcp", "--root", str(tmp_path), "--http", address]) == 2
    assert "--http" in capsys.readouterr().err


def test_the_log_hides_database_passwords() -> None:
    from backforge.agent.server import _redacted

    assert _redacted("postgresql://app:s3c@r:t@127.0.0.1:5432/db") == (
        "postgresql://app:***@127.0.0.1:5432/db"
    )
    assert _redacted("postgresql://postgres@127.0.0.1/db") == "postgresql://postgres@127.0.0.1/db"
    assert _redacted(None) is None


def test_without_the_sdk_mcp_says_which_extra_to_install(tmp_path: Path) -> None:
    """The SDK is the optional `agent` extra: without it every other command still works and
    `backforge mcp` says what to install."""
    code = (
        "import sys; sys.modules['mcp'] = None\n"  # an import of mcp now fails, as if absent
        "from backforge.cli import main\n"
        f"assert main(['validate', {str(tmp_path / 'notes.yaml')!r}]) == 0\n"
        "raise SystemExit(main(['mcp', '--root', '.']))\n"
    )
    (tmp_path / "notes.yaml").write_text(NOTES)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(),
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'backforge[agent]'" in done.stderr
