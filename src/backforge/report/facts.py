"""What the delivery report states about a project, read from its files (no check needed).

Sources: openapi.json (endpoints, models), .backforge/manifest.json (middleware, settings, seeds,
base path), requirements files, migrations/versions, the tests/ directory and the package source.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

PROBES = {"/healthz", "/readyz", "/livez", "/metrics", "/openapi.json"}
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
    ".schemathesis",
    "schemathesis-report",
    "htmlcov",
}
REPORT_FILE = "backforge-report.json"
COUNTS = ("passed", "failed", "errors", "skipped")
CONSTRAINTS = (
    "format",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "enum",
    "const",
)


def base_path(manifest: Mapping[str, Any], openapi: Mapping[str, Any] | None = None) -> str:
    """The API's path prefix: the manifest's `base_path` (or api.base_path), else the common
    prefix of the operation paths less any collection it names (/api/v1/notes -> /api/v1)."""
    api = manifest.get("api")
    value = manifest.get("base_path") or (api.get("base_path") if isinstance(api, dict) else "")
    if value or openapi is None:
        return str(value or "").rstrip("/")
    paths = [path for path, _, _ in operations(openapi) if path not in PROBES]
    prefix: list[str] = []
    for parts in zip(*(path.strip("/").split("/") for path in paths), strict=False):
        if len(set(parts)) != 1 or "{" in parts[0]:
            break
        prefix.append(parts[0])
    while prefix and "/" + "/".join(prefix) in paths:
        prefix.pop()
    return "/" + "/".join(prefix) if prefix else ""


def operations(openapi: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path, item in (openapi.get("paths") or {}).items():
        for method in METHODS:
            if isinstance(item, dict) and isinstance(item.get(method), dict):
                found.append((path, method, item[method]))
    return found


def resources(openapi: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str]:
    """Resource names: manifest `resources`, else the first path segment under the base path."""
    named = manifest.get("resources")
    if isinstance(named, list) and named:
        return [str(r["name"] if isinstance(r, dict) else r) for r in named]
    base = base_path(manifest, openapi)
    names = set()
    for path, _, _ in operations(openapi):
        if path in PROBES or (base and not path.startswith(base + "/")):
            continue
        segment = path[len(base) :].strip("/").split("/")[0]
        if segment and "{" not in segment:
            names.add(segment)
    return sorted(names)


def test_modules(root: Path) -> dict[str, str]:
    tests = root / "tests"
    return {
        p.relative_to(root).as_posix(): p.read_text("utf-8", errors="replace")
        for p in sorted(tests.rglob("test_*.py"))
        if not SKIP_DIRS.intersection(p.parts)
    }


def mentions(text: str, path: str) -> bool:
    """Whether a test module names an API path: its literal text up to the first parameter, or
    the whole path not followed by more of a path (``/notes`` is not ``/notes-archive``)."""
    if "{" in path:
        return path.split("{", 1)[0] in text
    start = text.find(path)
    while start != -1:
        after = text[start + len(path) : start + len(path) + 1]
        if not after or not (after.isalnum() or after in "_/-"):
            return True
        start = text.find(path, start + 1)
    return False


def api_endpoints(
    root: Path, openapi: Mapping[str, Any], manifest: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each operation with its handler, answers, app-wide middleware and its test modules: those
    the manifest names for the operation, plus those that mention its path literally."""
    sources = test_modules(root)
    declared: Mapping[str, list[str]] = manifest.get("tests") or {}
    middleware = list(manifest.get("middleware") or [])
    endpoints = []
    for path, method, operation in operations(openapi):
        endpoints.append(
            {
                "path": path,
                "method": method.upper(),
                "handler": operation.get("operationId"),
                "summary": operation.get("summary"),
                "responses": sorted(str(code) for code in operation.get("responses") or {}),
                "middleware": middleware,
                "tests": sorted(
                    {name for name, text in sources.items() if mentions(text, path)}
                    | {
                        name
                        for name in declared.get(operation.get("operationId") or "", [])
                        if name in sources
                    }
                ),
            }
        )
    return endpoints


def _type(schema: Mapping[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array[{_type(schema.get('items') or {})}]"
    return " | ".join(kind) if isinstance(kind, list) else str(kind)


def _constraints(schema: Mapping[str, Any]) -> dict[str, Any]:
    found = {key: schema[key] for key in CONSTRAINTS if key in schema}
    for key in ("anyOf", "oneOf"):
        for option in schema.get(key, []):
            found.update(_constraints(option))
    return found


def models(openapi: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each component schema: its fields, types, constraints and the validations they make."""
    schemas = (openapi.get("components") or {}).get("schemas") or {}
    result = []
    for name, schema in sorted(schemas.items()):
        required = set(schema.get("required", []))
        fields, validations = [], []
        for field, prop in (schema.get("properties") or {}).items():
            constraints = _constraints(prop)
            fields.append(
                {
                    "name": field,
                    "type": _type(prop),
                    "required": field in required,
                    "constraints": constraints,
                }
            )
            validations += [f"{field}: {key} {value}" for key, value in constraints.items()]
        if required:
            validations.insert(0, f"required: {', '.join(sorted(required))}")
        if schema.get("additionalProperties") is False:
            validations.append("unknown fields rejected")
        ref = f"openapi.json#/components/schemas/{name}"
        result.append({"name": name, "schema": ref, "fields": fields, "validations": validations})
    return result


def import_graph(root: Path, package: str, environment: Path | None) -> dict[str, list[str]]:
    """Each module of the package (its path) → the files it imports, as ruff's import graph
    resolves them: the package's own modules, and, with the project's ``environment`` (a
    virtualenv), the site-packages files of third-party libraries. Empty if ruff cannot say."""
    from ruff.__main__ import find_ruff_bin

    if not package or not (root / package).is_dir():
        return {}
    argv = [find_ruff_bin(), "analyze", "graph"]
    if environment is not None:
        argv += ["--python", str(environment)]
    environ = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    done = subprocess.run(
        [*argv, package], cwd=root, env=environ, capture_output=True, text=True, timeout=120
    )
    try:
        graph = json.loads(done.stdout) if done.returncode == 0 else {}
    except ValueError:
        return {}
    if not isinstance(graph, dict):
        return {}
    return {str(module): [str(path) for path in paths] for module, paths in graph.items()}


def library_of(path: str) -> str | None:
    """The top-level module a site-packages file belongs to (``…/site-packages/x/y.py`` → x)."""
    parts = Path(path).parts
    if "site-packages" not in parts:
        return None
    rest = parts[parts.index("site-packages") + 1 :]
    return rest[0].removesuffix(".py") if rest else None


def services(
    root: Path, package: str, manifest: Mapping[str, Any], graph: Mapping[str, list[str]]
) -> list[dict[str, Any]]:
    """The manifest's `services`, else one per module or subpackage of the package, with what it
    imports (``graph``, from ``import_graph``): other parts of the package, and third-party
    libraries."""
    named = manifest.get("services")
    if isinstance(named, list):
        return [dict(s) if isinstance(s, dict) else {"name": str(s)} for s in named]
    base = root / package
    parts = sorted(p for p in base.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file())
    result = []
    for part in parts:
        name = part.stem
        if name == "__init__":
            continue
        own = f"{package}/{part.name}"
        internal: set[str] = set()
        external: set[str] = set()
        for module, imported in graph.items():
            if module != own and not module.startswith(own + "/"):
                continue
            for path in imported:
                library = library_of(path)
                if library is not None:
                    external.add(library)
                elif path.startswith(f"{package}/"):
                    internal.add(Path(path).parts[1].removesuffix(".py"))
        internal.discard(name)
        external.discard(package)
        result.append(
            {
                "name": name,
                "module": f"{package}.{name}",
                "dependencies": sorted(internal),
                "libraries": sorted(external),
            }
        )
    return result


def database(manifest: Mapping[str, Any], checks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The migrations as Alembic read them when the migrations check ran (its ``history``),
    else as the manifest records them; and the seeds."""
    figures = next((c.get("figures") or {} for c in checks if c.get("name") == "migrations"), {})
    history = figures.get("history")
    if not isinstance(history, list):
        history = manifest.get("migrations") or []
    keys = ("file", "revision", "down_revision", "message")
    migrations = [{key: entry.get(key) for key in keys} for entry in history]
    return {"migrations": migrations, "seeds": list(manifest.get("seeds") or [])}


def requirements(path: Path) -> list[dict[str, str]]:
    """The requirements a file lists: name (with extras) and version specifier."""
    if not path.is_file():
        return []
    found = []
    for raw in path.read_text("utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
        found.append({"name": requirement.name + extras, "version": str(requirement.specifier)})
    return found


def configuration(root: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    settings = manifest.get("settings") or []
    if isinstance(settings, dict):
        settings = [
            {"name": k, **(v if isinstance(v, dict) else {"default": v})}
            for k, v in settings.items()
        ]
    environment = [s if isinstance(s, dict) else {"name": str(s)} for s in settings]
    flags = [
        {"name": f["name"], "env": f"FLAG_{f['name'].upper()}", "default": f.get("default")}
        | ({"description": f["description"]} if f.get("description") else {})
        for f in manifest.get("flags") or []
        if isinstance(f, dict) and "name" in f
    ]
    return {
        "environment": environment,
        "feature_flags": flags,
        "dependencies": requirements(root / "requirements.txt"),
        "dev_dependencies": requirements(root / "requirements-dev.txt"),
    }


def tests_summary(
    root: Path, checks: Sequence[Mapping[str, Any]], manifest: Mapping[str, Any]
) -> dict[str, Any]:
    """Test modules split into unit (test_unit_*) and integration, with measured counts, and
    the tests the generator left out because the spec gives no way to exercise them."""
    figures = next((c["figures"] for c in checks if c["name"] == "tests"), {})
    measured = figures.get("modules") or {}
    names = sorted(set(test_modules(root)) | set(measured))
    groups: dict[str, dict[str, Any]] = {}
    for kind in ("unit", "integration"):
        chosen = [n for n in names if Path(n).name.startswith("test_unit_") == (kind == "unit")]
        modules = [{"module": n, **measured.get(n, {})} for n in chosen]
        totals = {k: sum(m.get(k, 0) for m in modules) for k in COUNTS}
        groups[kind] = {"modules": modules, **totals}
    return {
        "measured": bool(measured),
        "coverage_percent": figures.get("coverage_percent"),
        **groups,
        "not_generated": list(manifest.get("tests_not_generated") or []),
    }


def documentation(root: Path, openapi: Mapping[str, Any]) -> dict[str, Any]:
    docs = root / "docs"
    return {
        "openapi": "openapi.json" if (root / "openapi.json").is_file() else None,
        "openapi_version": openapi.get("openapi"),
        "readme": "README.md" if (root / "README.md").is_file() else None,
        "other": sorted(p.relative_to(root).as_posix() for p in docs.rglob("*.md"))
        if docs.is_dir()
        else [],
    }


def counted(name: str) -> bool:
    return not (
        name == REPORT_FILE
        or name.endswith((".db", ".pyc"))
        or name == ".coverage"
        or name.startswith(".coverage.")
    )


def files_count(root: Path) -> int:
    """Files in the project, leaving out caches, environments, databases and the report."""
    total = 0
    for _, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        total += sum(1 for name in files if counted(name))
    return total
