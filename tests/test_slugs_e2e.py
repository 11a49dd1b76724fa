"""Derived slugs end to end (tests/specs/slugs.yaml): a page named by a slug made from its title
(`-2` on a collision, moved when the title changes) and a tag whose slug is kept; the generated
tests hold and `verify` delivers the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import verified_complete

from backforge.cli import main

pytestmark = pytest.mark.e2e

SPEC = Path(__file__).parent / "specs" / "slugs.yaml"


def test_derived_slugs_generate_and_verify_complete(tmp_path: Path) -> None:
    out = tmp_path / "wiki"
    assert main(["generate", str(SPEC), "-o", str(out)]) == 0
    assert (out / "wiki" / "core" / "slugs.py").exists()
    figures = verified_complete(out)
    for module in ("tests/test_page_slugs.py", "tests/test_tag_slugs.py"):
        slugs = figures["modules"][module]
        assert slugs["failed"] == 0 and slugs["passed"] >= 5, (module, slugs)
    openapi = json.loads((out / "openapi.json").read_text())
    create = openapi["components"]["schemas"]["PageCreate"]
    assert "slug" not in create["properties"]  # read-only on the wire
    assert "/api/v1/pages/{slug}" in openapi["paths"]
