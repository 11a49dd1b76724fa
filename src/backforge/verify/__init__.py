"""`backforge verify`: check a generated project for real and write its delivery report.

    from backforge.verify import verify_project
    report = verify_project(Path("out/shop"), progress=lambda event, data: print(event, data))
    print(report.status_block())

The checks: environment, lint, security, tests, migrations, server, contract, load, observability
and resilience (see CHECKS in backforge.verify.runner, which runs them concurrently as their needs
allow; each lives in a module of its own here), and conformance, with a contract of the user's
(verify --contract FILE). Names are imported lazily, so that importing one check does not load
them all. The delivery report is backforge.report: the checks' results
feed it, and it imports nothing from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backforge.report import Report, render_status_block
    from backforge.verify.result import CheckResult
    from backforge.verify.runner import CHECKS, Check, Progress, verify_project
    from backforge.verify.scratchdb import DatabaseUrlError

LOAD_REQUESTS = 300  # GETs of the smoke load (`--load-requests`), 16 at a time

_EXPORTS = {
    "CHECKS": "backforge.verify.runner",
    "Check": "backforge.verify.runner",
    "Progress": "backforge.verify.runner",
    "verify_project": "backforge.verify.runner",
    "CheckResult": "backforge.verify.result",
    "DatabaseUrlError": "backforge.verify.scratchdb",
    "Report": "backforge.report",
    "render_status_block": "backforge.report",
}

__all__ = [
    "CHECKS",
    "LOAD_REQUESTS",
    "Check",
    "CheckResult",
    "DatabaseUrlError",
    "Progress",
    "Report",
    "render_status_block",
    "verify_project",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
