"""The record every check produces, and the exceptions a check raises to end itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "failed", "error", "skipped"]


@dataclass
class CheckResult:
    """What one check found: its status, the figures it measured and a short detail."""

    name: str
    status: Status
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    detail: str = ""
    headline: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "headline": self.headline,
            "figures": self.figures,
            "detail": self.detail,
        }


@dataclass
class Outcome:
    """What a check function returns: passed or failed, with its figures."""

    ok: bool
    figures: dict[str, Any]
    headline: str = ""
    detail: str = ""


class CheckError(Exception):
    """Raised by a check that could not run at all (a fault of verify or of this machine)."""

    def __init__(self, message: str, figures: dict[str, Any] | None = None):
        super().__init__(message)
        self.figures = figures or {}
