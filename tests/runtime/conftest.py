"""The runtime's unit tests run in the shared generated-project environment (it has FastAPI,
SQLAlchemy, structlog, limits...), not in backforge's own: tests/test_runtime.py runs them there.

This conftest copies ``src/backforge/runtime/core`` into a temporary package ``svc.core``, with
the small per-spec module a service generates (``core/spec.py``) written for these tests, and
puts it on ``sys.path``: the tests import ``svc.core.<module>``, as a service imports its own.
By hand:

    ~/.cache/backforge/envs/<hash>/bin/python -m pytest tests/runtime --confcutdir tests/runtime
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "src" / "backforge" / "runtime" / "core"

# What templates/project/__package__/core/spec.py.jinja would render for a service named svc.
SPEC = """\
PACKAGE = "svc"
API_PREFIX = "/api/v1"
IF_MATCH_REQUIRED = False
UNLOGGED_FIELDS = frozenset(["pin"])
PAGINATION = "cursor"
PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_MEMBERS = {"code": "status", "message": "detail"}
"""


def _install() -> Path:
    root = Path(tempfile.mkdtemp(prefix="backforge-runtime-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    core = root / "svc" / "core"
    core.mkdir(parents=True)
    (root / "svc" / "__init__.py").write_text("")
    for module in RUNTIME.glob("*.py"):
        shutil.copyfile(module, core / module.name)
    (core / "spec.py").write_text(SPEC)
    sys.path.insert(0, str(root))
    return root


_install()

from asgiclient import Client  # noqa: E402  (after the package it tests is importable)


@pytest.fixture
def client() -> Iterator[Callable[[Any], Client]]:
    """Makes a Client for an app; closes it after the test."""
    made: list[Client] = []

    def make(app: Any) -> Client:
        made.append(Client(app))
        return made[-1]

    yield make
    for each in made:
        each.close()
