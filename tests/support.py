"""Helpers several test modules share."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from backforge.cli import main


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (bytecode caches aside), by relative path."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def verified_complete(project: Path, *options: str) -> dict[str, Any]:
    """`backforge verify` of ``project`` (with ``options``) answering STATUS: COMPLETE, with no
    generated test failed or skipped; the figures of its tests."""
    code = main(["verify", str(project), *options])
    report = json.loads((project / "backforge-report.json").read_text())
    assert code == 0, report["status_block"]
    assert report["status_block"].startswith("STATUS: COMPLETE"), report["status_block"]
    tests: dict[str, Any] = {c["name"]: c for c in report["checks"]}["tests"]["figures"]
    assert tests["failed"] == 0 and tests["skipped"] == 0
    return tests
