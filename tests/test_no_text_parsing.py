"""backforge keeps its model as values and never reads generated text back: no module parses
Python with `ast`, and regular expressions appear only where the input is not backforge's own
output (the spec's names and patterns, and the output of the tools verify runs)."""

from __future__ import annotations

from pathlib import Path

import backforge

SOURCE = Path(backforge.__file__).parent

REGEX_ALLOWED = {  # module → what its regular expressions read
    "names.py": "the spec's service, resource and field names",
    "fieldtypes.py": "checks that a field type's pattern compiles",
    "samples.py": "draws sample strings from a spec's pattern",
    "ir.py": "tries values for an action's `when` state against a field's pattern",
    "spec/checks.py": "checks a spec's defaults and examples against its patterns",
    "verify/testsuite.py": "pytest's closing line, when it crashed before writing its JUnit file",
    "agent/tools.py": "file:line references in the output of ruff and pytest",
    "agent/server.py": "hides the password in a database URL it shows",
    "importers/database.py": "maps an existing database's CHECK constraints and server defaults "
    "(SQL the database wrote) to min, max, values and defaults",
}


def imports(path: Path, module: str) -> bool:
    lines = path.read_text(encoding="utf-8").splitlines()
    return any(
        line == f"import {module}"
        or line.startswith((f"from {module} import", f"import {module} "))
        for line in lines
    )


def modules() -> list[Path]:
    """backforge's own modules; not the runtime it copies into a service (that code reads
    requests, at the service's run time)."""
    return sorted(p for p in SOURCE.rglob("*.py") if not {"templates", "runtime"} & set(p.parts))


def test_no_module_parses_python() -> None:
    assert [p.relative_to(SOURCE).as_posix() for p in modules() if imports(p, "ast")] == []


def test_regular_expressions_read_only_input_that_is_not_generated() -> None:
    using = {p.relative_to(SOURCE).as_posix() for p in modules() if imports(p, "re")}
    assert using <= set(REGEX_ALLOWED), sorted(using - set(REGEX_ALLOWED))
    assert set(REGEX_ALLOWED) <= using  # the list stays true: a module that stops is removed
