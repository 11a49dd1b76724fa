"""Helpers several test modules share."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (bytecode caches aside), by relative path."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
