"""The root exception of backforge and the problem record every spec error is reported as."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a spec: where it is and how to fix it."""

    file: str
    line: int | None
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" at {self.path}" if self.path else ""
        text = f"{where}{at}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "fix": self.fix,
        }


class BackforgeError(Exception):
    """Root of every error backforge reports to its user."""

    exit_code = 1


class SpecError(BackforgeError):
    """A spec that cannot be used; carries every problem found, not just the first."""

    exit_code = 2
    subject = "the spec"  # what the problems are in, as the command line says it

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.path, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class ContractError(SpecError):
    """An OpenAPI contract given to `verify --contract` that cannot be used; every problem."""

    subject = "the contract"


class ProjectError(BackforgeError):
    """A target directory that cannot be generated into or verified."""

    exit_code = 2
