"""Golden trees: two examples rendered and formatted exactly as `generate` writes them (all but
`openapi.json`, which the generated app writes in its pinned environment, and the manifest of
checksums), compared byte for byte with `tests/golden/<example>/`.

A change to a template or to the IR that changes generated code shows here as a diff to review.
When the change is intended, rewrite the trees and commit them with it:

    BACKFORGE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from backforge.generate import MANIFEST, prepare, staged

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("BACKFORGE_UPDATE_GOLDEN") == "1"


def rendered(example: str, tmp_path: Path) -> dict[str, bytes]:
    prepared = prepare(EXAMPLES / f"{example}.yaml", tmp_path / "not-written")
    with staged(prepared, beside=False, contract=False) as (staging, _):
        return {
            path.relative_to(staging).as_posix(): path.read_bytes()
            for path in sorted(staging.rglob("*"))
            if path.is_file() and path.relative_to(staging) != MANIFEST
        }


def on_disk(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("example", ["bookclub", "inventory"])
def test_the_generated_tree_matches_its_golden_copy(example: str, tmp_path: Path) -> None:
    started = time.monotonic()
    tree = rendered(example, tmp_path)
    seconds = time.monotonic() - started
    golden = GOLDEN / example
    if UPDATE:
        shutil.rmtree(golden, ignore_errors=True)
        for relative, data in tree.items():
            (golden / relative).parent.mkdir(parents=True, exist_ok=True)
            (golden / relative).write_bytes(data)
    kept = on_disk(golden)
    assert sorted(tree) == sorted(kept), "files added or removed; see the module docstring"
    changed = [path for path in tree if tree[path] != kept[path]]
    assert not changed, f"{len(changed)} file(s) differ from tests/golden/{example}: {changed[:10]}"
    print(f"{example}: {len(tree)} files rendered and formatted in {seconds:.2f} s")
