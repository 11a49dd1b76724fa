"""lint: `ruff check` and `ruff format --check` with the project's own ruff configuration.

Both run with JSON output, so findings are counted, not guessed from text.
"""

from __future__ import annotations

import json
from contextlib import suppress
from pathlib import Path
from typing import Any

from backforge.verify.context import VerifyContext
from backforge.verify.proc import Completed, run
from backforge.verify.result import Outcome


def check(ctx: VerifyContext) -> Outcome:
    env = ctx.need_env()
    root = ctx.project.root
    ruff = [str(env.python), "-m", "ruff"]
    json_out = ["--no-cache", "--output-format", "json"]
    lint = _ruff([*ruff, "check", *json_out, "."], root, env.environ())
    fmt = _ruff([*ruff, "format", "--check", *json_out, "."], root, env.environ())
    problems: list[str] = []
    figures: dict[str, Any] = {}
    for name, label, (done, items) in (
        ("findings", "ruff check: {} finding(s)", lint),
        ("unformatted_files", "ruff format --check: {} file(s) would be reformatted", fmt),
    ):
        if items is None or done.returncode not in (0, 1):
            figures[name] = None
            problems.append(done.describe(10))
            continue
        lines = [_line(item, root) for item in items]
        if name == "unformatted_files":
            lines = sorted({line.split(":", 1)[0] for line in lines})
        figures[name] = len(lines)
        if lines:
            problems.append("\n".join([label.format(len(lines)), *lines[:10]]))
    headline = f"{figures['findings']} findings, {figures['unformatted_files']} unformatted"
    return Outcome(not problems, figures, headline, "\n".join(problems))


def _ruff(
    argv: list[str], root: Path, environ: dict[str, str]
) -> tuple[Completed, list[Any] | None]:
    done = run(argv, cwd=root, env=environ, timeout=180, merge=False)
    try:
        items = json.loads(done.output)
    except ValueError:
        return done, None
    return done, items if isinstance(items, list) else None


def _line(item: dict[str, Any], root: Path) -> str:
    """path:row:col CODE message, the path relative to the project."""
    name = str(item.get("filename", "?"))
    with suppress(ValueError):
        name = str(Path(name).relative_to(root))
    loc = item.get("location") or {}
    text = f"{item.get('code') or ''} {item.get('message') or ''}".strip()
    return f"{name}:{loc.get('row', '?')}:{loc.get('column', '?')} {text}"
