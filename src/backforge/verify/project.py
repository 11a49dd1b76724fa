"""Recognising a generated project on disk and reading what verify needs from it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backforge.errors import ProjectError

MANIFEST = Path(".backforge") / "manifest.json"
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")


@dataclass(frozen=True)
class Project:
    """A generated project: its directory, package name, manifest and OpenAPI document."""

    root: Path
    package: str
    manifest: dict[str, Any]
    openapi: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def service_name(self) -> str:
        service = self.manifest.get("service")
        if isinstance(service, dict):
            service = service.get("name")
        return str(service or self.manifest.get("service_name") or self.package)

    @property
    def service_version(self) -> str:
        service = self.manifest.get("service")
        version = service.get("version") if isinstance(service, dict) else None
        version = version or self.manifest.get("version") or self.manifest.get("service_version")
        return str(version or (self.openapi or {}).get("info", {}).get("version") or "")

    @property
    def generator(self) -> dict[str, str | None]:
        """Name and version of what generated the project: {"name", "version"} or two keys."""
        generator = self.manifest.get("generator")
        if isinstance(generator, dict):
            return {"name": generator.get("name"), "version": generator.get("version")}
        return {"name": generator, "version": self.manifest.get("generator_version")}


def _package_name(manifest: dict[str, Any]) -> str | None:
    for key in ("package", "package_name"):
        value = manifest.get(key)
        if isinstance(value, str) and value:
            return value
    service = manifest.get("service")
    if isinstance(service, dict) and isinstance(service.get("package"), str):
        return str(service["package"])
    return None


def load_project(path: Path) -> Project:
    """Read the project at `path`; ProjectError when it is not a generated project."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise ProjectError(f"{path}: not a directory")
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise ProjectError(
            f"{path}: not a backforge project (no {MANIFEST}); generate one with "
            "`backforge generate SPEC -o DIR`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{manifest_path}: unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ProjectError(f"{manifest_path}: the manifest is not a JSON object")
    package = _package_name(manifest)
    if package is None:
        raise ProjectError(f"{manifest_path}: the manifest names no package (key 'package')")
    if not (root / package / "main.py").is_file():
        raise ProjectError(f"{path}: the package {package!r} has no main.py")
    missing = [name for name in REQUIREMENTS if not (root / name).is_file()]
    if missing:
        raise ProjectError(f"{path}: missing {', '.join(missing)}")
    return Project(root=root, package=package, manifest=manifest, openapi=_openapi(root))


def _openapi(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / "openapi.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
