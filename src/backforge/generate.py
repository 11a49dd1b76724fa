"""The generate stage: spec → IR → rendered files → formatted → contract → written in place.

Everything is built in a staging directory beside the target and moved in only when complete,
so a failure at any step leaves the target as it was.

Regenerating an existing project applies a changed spec (``backforge.evolve``): the generated
files are rendered from the new IR, the migration revisions already in ``migrations/versions``
are history and stay as they are, and the difference between the recorded IR
(``.backforge/ir.json``) and the new one becomes the next revision. A change that loses data is
refused unless ``allow_destructive``; hand-edited generated files unless ``force``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backforge import __version__
from backforge.errors import ProjectError
from backforge.evolve import (
    Evolution,
    destructive_refusal,
    evolve,
    existing_revisions,
    initial_revision,
    is_revision,
    refusal,
)
from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project, user_owned
from backforge.spec.load import load_spec
from backforge.spec.model import ServiceSpec

MANIFEST = Path(".backforge") / "manifest.json"
AUTH_OPERATIONS = (
    "register",
    "issue_token",
    "refresh_token",
    "logout",
    "read_me",
    "list_users",
    "create_user",
    "get_user",
    "update_user",
    "create_api_key",
    "list_api_keys",
    "revoke_api_key",
    "list_audit_events",
)

MIDDLEWARE = [
    "request context (outermost, pure ASGI): X-Request-ID in and out, request id bound to "
    "every log line, one JSON access log line per request",
    "Prometheus metrics (pure ASGI): requests, 5xx errors, duration and in-flight by route "
    "template; GET /metrics, behind a bearer METRICS_TOKEN (required in production unless "
    "METRICS_PUBLIC=true)",
    "OpenTelemetry tracing of requests, SQL and outgoing httpx calls when "
    "OTEL_EXPORTER_OTLP_ENDPOINT is set",
    "security headers (pure ASGI, around the last-resort 500 too): nosniff, X-Frame-Options, "
    "Referrer-Policy, Content-Security-Policy (a relaxed one for /docs), "
    "Cross-Origin-Resource-Policy, HSTS when HSTS_SECONDS is set, no-store on errors",
    "CORS for CORS_ORIGINS (none by default: no CORS headers)",
    "rate limits (pure ASGI, limits library, Redis when REDIS_URL is set): 429 problem+json "
    "with Retry-After and RateLimit-* headers; probes exempt",
    "request body limit (pure ASGI): 413 over MAX_BODY_BYTES counted while streaming, 400 for "
    "JSON nested deeper than MAX_JSON_DEPTH",
    "problem+json exception handlers (RFC 9457) for HTTP, validation and unexpected errors",
    "JSON content-type guard (415) on request bodies",
]


@dataclass
class Generated:
    directory: Path
    ir: ServiceIR
    files: list[str]
    seconds: float
    changed: list[str] = field(default_factory=list)
    evolution: Evolution | None = None  # set when an existing project was regenerated

    @property
    def revision(self) -> str | None:
        """The migration revision this generation wrote, if any."""
        revision = self.evolution.revision if self.evolution else None
        return revision.path if revision else None

    def as_json(self) -> dict[str, Any]:
        """The `backforge generate --json` document."""
        changes = self.evolution.diff if self.evolution else None
        return {
            "ok": True,
            "directory": str(self.directory),
            "files": self.files,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
            "notes": self.ir.notes,
            "migration": self.revision,
            "breaking": [c.as_dict() for c in (changes.breaking if changes else [])],
            "destructive": [
                {"summary": op.summary, "loses": op.loses}
                for op in (changes.destructive if changes else [])
            ],
        }


@dataclass
class Prepared:
    """A spec resolved against its target directory, before anything is written."""

    spec_text: str
    spec: ServiceSpec
    ir: ServiceIR
    out_dir: Path
    previous: dict[str, Any] | None  # the manifest of the existing project
    edited: list[str]  # generated files changed by hand since (revisions excepted)
    evolution: Evolution | None  # the schema and API changes of an existing project


def prepare(spec_path: str | Path, out_dir: str | Path) -> Prepared:
    """Load the spec and compare it with what ``out_dir`` holds; writes nothing."""
    spec_path, out_dir = Path(spec_path), Path(out_dir)
    spec_text = spec_path.read_text(encoding="utf-8") if spec_path.is_file() else ""
    spec = load_spec(spec_path)
    ir = build_ir(spec, spec_text)
    previous = _previous_manifest(out_dir)
    edited: list[str] = []
    evolution = None
    if previous is not None:
        edited = sorted(
            p
            for p, digest in previous.get("files", {}).items()
            if not is_revision(p) and _edited(out_dir / p, digest)
        )
        evolution = evolve(out_dir, ir, spec, previous.get("spec_hash"))
    return Prepared(spec_text, spec, ir, out_dir, previous, edited, evolution)


def generate(
    spec_path: str | Path,
    out_dir: str | Path,
    *,
    force: bool = False,
    allow_destructive: bool = False,
) -> Generated:
    started = time.monotonic()
    prepared = prepare(spec_path, out_dir)
    if prepared.edited and not force:
        raise ProjectError(
            f"{len(prepared.edited)} generated file(s) in {prepared.out_dir} were changed by "
            "hand and would be overwritten: " + ", ".join(prepared.edited) + ". Move your "
            "changes out of them or pass --force to overwrite"
        )
    evolution = prepared.evolution
    if evolution and evolution.diff.refusals:
        raise ProjectError(refusal(evolution.diff))
    if evolution and evolution.diff.destructive and not allow_destructive:
        raise ProjectError(destructive_refusal(evolution.diff))
    with staged(prepared) as (staging, manifest):
        changed = _install(staging, prepared.out_dir, prepared.previous, manifest)
    return Generated(
        prepared.out_dir,
        prepared.ir,
        sorted(manifest["files"]),
        time.monotonic() - started,
        changed,
        evolution,
    )


@contextmanager
def staged(
    prepared: Prepared, *, beside: bool = True, contract: bool = True
) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The complete project in a staging directory and its manifest; the directory is beside
    the target (so that installing it is a rename), or a temporary one (``beside=False``).
    ``contract=False`` leaves out ``openapi.json``, the one file that needs the project's
    pinned environment (the app writes it)."""
    ir, out_dir = prepared.ir, prepared.out_dir
    if beside:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    where = out_dir.parent if beside else None
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.staging-", dir=where))
    try:
        files = render_project(ir)
        scripts = list(prepared.evolution.scripts) if prepared.evolution else []
        if prepared.previous is None:  # revisions are history: only a new project gets one
            firsts = existing_revisions(ir) if ir.existing_database else [initial_revision(ir)]
            for initial in firsts:
                files[initial.path] = initial.text
                scripts.append(initial.script)
        mine = user_owned(ir)
        kept = {p for p in mine if (out_dir / p).is_file()}
        for path in kept:  # the user's version of a hook or custom module wins
            files[path] = (out_dir / path).read_text(encoding="utf-8")
        revision = prepared.evolution.revision if prepared.evolution else None
        if revision is not None:
            files[revision.path] = revision.text
            scripts.append(revision.script)
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _format(staging, skip=sorted(kept))
        settings = _ask_the_app(staging, ir) if contract else []
        (staging / ".backforge").mkdir(exist_ok=True)
        (staging / ".backforge" / "spec.yaml").write_text(prepared.spec_text, encoding="utf-8")
        (staging / ".backforge" / "ir.json").write_text(ir.to_json(), encoding="utf-8")
        manifest = _manifest(staging, ir, settings)
        generated = {p: d for p, d in manifest["files"].items() if p not in mine}
        manifest["files"] = dict(sorted({**_history(prepared), **generated}.items()))
        manifest["user_files"] = sorted(mine)
        manifest["migrations"] = [s.as_dict() for s in sorted(scripts, key=lambda s: s.file)]
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        yield staging, manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _history(prepared: Prepared) -> dict[str, str]:
    """The revisions of the existing project, as its manifest recorded them (kept as they are)."""
    old = (prepared.previous or {}).get("files", {})
    return {
        p: digest
        for p, digest in old.items()
        if is_revision(p) and (prepared.out_dir / p).is_file()
    }


def _previous_manifest(out_dir: Path) -> dict[str, Any] | None:
    """The manifest of an earlier generation into ``out_dir``, after checking it is safe."""
    if not out_dir.exists():
        return None
    if not out_dir.is_dir():
        raise ProjectError(f"{out_dir} exists and is not a directory; choose another output path")
    manifest_path = out_dir / MANIFEST
    if not manifest_path.is_file():
        if any(out_dir.iterdir()):
            raise ProjectError(
                f"{out_dir} is not empty and was not generated by backforge; "
                "generate into a new or empty directory"
            )
        return None
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    return manifest


def _edited(path: Path, digest: str) -> bool:
    return path.is_file() and _sha256(path) != digest


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _format(root: Path, skip: list[str] | None = None) -> None:
    """ruff fixes imports and formats, with the project's own configuration; the user's own
    files (``skip``) are left exactly as they are."""
    from ruff.__main__ import find_ruff_bin

    ruff = find_ruff_bin()
    excluded = [option for path in skip or [] for option in ("--extend-exclude", path)]
    for argv in (
        [ruff, "check", "--no-cache", "--fix-only", "--quiet", *excluded, "."],
        [ruff, "format", "--no-cache", "--quiet", *excluded, "."],
    ):
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise ProjectError(
                "formatting the generated code failed (a backforge bug, please report it):\n"
                + (done.stderr or done.stdout)[-3000:]
            )


# Run in the project's environment: the contract as `python -m <package>.openapi` writes it, and
# the settings as `python -m <package>.core.settings` lists them, from one interpreter.
_ASK_THE_APP = """
import contextlib, io, json
from {package} import openapi
from {package}.core.settings import reference

contract = io.StringIO()
with contextlib.redirect_stdout(contract):
    openapi.main()
print(json.dumps({{"openapi": contract.getvalue(), "settings": reference()}}, default=str))
"""
# With events, the AsyncAPI document too, as `python -m <package>.events.asyncapi` writes it.
_ASK_FOR_ASYNCAPI = """
from {package}.events import asyncapi

events = io.StringIO()
with contextlib.redirect_stdout(events):
    asyncapi.main()
print(json.dumps({{"asyncapi": events.getvalue()}}))
"""


def _ask_the_app(root: Path, ir: ServiceIR) -> list[dict[str, Any]]:
    """Ask the generated app itself, in the project's pinned environment, for its contract
    (written to ``openapi.json``) and the environment variables it reads (returned)."""
    from backforge.verify.environment import ensure_env

    env = ensure_env(root)
    script = _ASK_THE_APP + (_ASK_FOR_ASYNCAPI if ir.events else "")
    done = env.run_python(root, "-c", script.format(package=ir.package), timeout=300)
    if done.returncode != 0:
        raise ProjectError(
            "the generated application failed to import (a backforge bug, please report it):\n"
            + done.stderr[-3000:]
        )
    lines = done.stdout.splitlines()
    answers = json.loads(lines[-2] if ir.events else lines[-1])
    (root / "openapi.json").write_text(answers["openapi"], encoding="utf-8")
    if ir.events:
        asyncapi = json.loads(lines[-1])["asyncapi"]
        (root / "asyncapi.json").write_text(asyncapi, encoding="utf-8")
    settings: list[dict[str, Any]] = answers["settings"]
    return settings


def _manifest(root: Path, ir: ServiceIR, settings: list[dict[str, Any]]) -> dict[str, Any]:
    files = {
        path.relative_to(root).as_posix(): _sha256(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".backforge" not in path.parts and "__pycache__" not in path.parts
    }
    return {
        "generator": "backforge",
        "generator_version": __version__,
        "service": ir.name,
        "version": ir.version,
        "package": ir.package,
        "base_path": ir.base_path,
        "resources": [r.name for r in ir.resources],
        "spec_hash": ir.spec_hash,
        "middleware": MIDDLEWARE,
        "settings": settings,
        "notes": ir.notes,
        "flags": ir.flags,
        "seeds": [
            {
                "resource": block["resource"],
                "records": len(block["rows"]),
                "key": block["key"],
                "command": f"python -m {ir.package}.seed",
            }
            for block in ir.seeds
        ],
        "tests": _tests_by_operation(ir),
        "tests_not_generated": ir.tests_not_generated,
        "files": files,
    }


def _tests_by_operation(ir: ServiceIR) -> dict[str, list[str]]:
    """Which generated test module exercises each operation (by operationId)."""
    found = {"liveness": ["tests/test_health.py"], "readiness": ["tests/test_health.py"]}
    for r in ir.resources:
        module = [f"tests/test_{r.module}.py"]
        for action in ("create", "get", "replace", "update", "delete"):
            found[f"{action}_{r.singular}"] = module
        found[f"list_{r.plural_name}"] = module
        if ir.auth:
            module = [*module, "tests/test_access.py"]
            for operation in ("create", "get", "replace", "update", "delete"):
                found[f"{operation}_{r.singular}"] = module
            found[f"list_{r.plural_name}"] = module
        for f in r.many:
            for action in ("list", "add", "remove"):
                found[f"{action}_{r.singular}_{f.name}"] = module
    if ir.auth:
        for operation in AUTH_OPERATIONS:
            found[operation] = ["tests/test_auth.py"]
    return dict(sorted(found.items()))


def _install(
    staging: Path, out_dir: Path, previous: dict[str, Any] | None, manifest: dict[str, Any]
) -> list[str]:
    """Move the staged tree into place; returns the generated files whose content changed."""
    if previous is None:
        if out_dir.exists():
            out_dir.rmdir()  # checked empty above
        os.replace(staging, out_dir)
        staging.mkdir()  # the caller removes it
        return sorted(manifest["files"])
    old = previous.get("files", {})
    changed = [p for p, digest in manifest["files"].items() if old.get(p) != digest]
    for relative in [
        *manifest["files"],
        ".backforge/manifest.json",
        ".backforge/spec.yaml",
        ".backforge/ir.json",
    ]:
        if not (staging / relative).is_file():
            continue  # an existing revision: history, never rewritten
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(staging / relative, target)
    for relative in manifest.get("user_files", []):
        target = out_dir / relative
        if not target.exists():  # created once; after that it is the user's
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(staging / relative, target)
            changed.append(relative)
    for relative in set(old) - set(manifest["files"]):
        if not is_revision(relative):
            (out_dir / relative).unlink(missing_ok=True)
    return sorted(changed)
