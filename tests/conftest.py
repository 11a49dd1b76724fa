"""Shared fixtures: example specs and a small inline-spec writer."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from backforge.generate import generate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="session")
def bookstore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/bookstore.yaml generated once for every test that only reads the project."""
    return generate(
        EXAMPLES / "bookstore.yaml", tmp_path_factory.mktemp("g") / "bookstore"
    ).directory


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[str], Path]:
    """Write an inline YAML spec (dedented) into a temporary file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first (in their order): with several workers (scripts/test.sh), the long
    runs start early and the fast tests fill the gaps."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)
