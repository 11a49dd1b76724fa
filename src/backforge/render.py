"""Render the project's files from the IR with the templates that mirror the output tree, and
copy in the runtime.

``templates/project`` holds one ``.jinja`` file per generated file. A path segment
``__package__`` becomes the service's package name, and ``__resource__`` repeats the file for
every resource (with ``r`` bound to it). ``runtime/core`` holds the modules of the service's
``core`` package that are the same in every service: real Python, checked in backforge's own CI,
copied to ``<package>/core/`` with only the generated-file header added.
"""

from __future__ import annotations

import keyword
import os
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path, PurePosixPath
from types import SimpleNamespace
from typing import Any

import jinja2

from backforge.ir import ResourceIR, ServiceIR
from backforge.render_text import python_text, toml_string
from backforge.targets import FILTERS

_HEADER_SUFFIXES = (
    ".py",
    ".toml",
    ".ini",
    ".cfg",
)  # not requirements: their hash keys the shared env


def template_environment(folder: str) -> jinja2.Environment:
    """Jinja for one folder of ``templates/``: strict about undefined names, newlines kept."""
    root = resources.files("backforge") / "templates" / folder
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["pyrepr"] = repr
    env.filters["pytext"] = python_text
    env.filters.update(FILTERS)
    env.tests["field_check"] = FILTERS["field_check"]
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs (compiling them is most of a render's time), under
    $XDG_CACHE_HOME/backforge/jinja; Jinja checks each against its template's source. None when
    that folder cannot be made."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    folder = Path(base) / "backforge" / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


USER_OWNED = ".once"  # a template named x.py.once.jinja writes x.py once: then it is the user's


# Templates generated only when the service has a part: template path prefix → the IR attribute.
OPTIONAL = {
    "__package__/auth/": "auth",
    "tests/test_auth.py": "auth",
    "tests/test_access.py": "auth",
    "tests/test_account_state.py": "auth",
    "tests/test_sign_in_limits.py": "auth",
    "__package__/auth/profiles.py": "profiles",
    "tests/test_profiles.py": "profiles",
    "tests/test_queries.py": "query_tests",
    "__package__/events/__init__.py": "brokered",
    "__package__/events/relay.py": "events",
    "__package__/events/asyncapi.py": "events",
    "__package__/events/consume.py": "consumers",
    "__package__/consumers/": "consumers",
    "tests/test_events.py": "events",
    "tests/test_consumers.py": "consumers",
    "deploy/k8s/relay-deployment.yaml": "events",
    "deploy/k8s/consumer-deployment.yaml": "consumers",
    "tests/test_cache.py": "cached",
    "tests/test_feed.py": "feed",
    "tests/test_envelopes.py": "envelope",
    "__package__/webhooks/": "webhooks",
    "__package__/events/webhooks.py": "webhooks",
    "tests/test_webhooks.py": "webhooks",
}


# Templates repeated per resource only for the resources that have a part: path → attribute.
OPTIONAL_PER_RESOURCE = {
    "__package__/__resource__/actions.py.once.jinja": "handler_actions",
    "tests/test___resource___actions.py.jinja": "actions",
    "tests/test___resource___marks.py.jinja": "marks",
    "tests/test___resource___slugs.py.jinja": "derived_slugs",
    "tests/test___resource___nested.py.jinja": "parent",
}


def for_resources(template: str, ir: ServiceIR) -> list[ResourceIR]:
    """The resources a ``__resource__`` template is rendered for."""
    part = OPTIONAL_PER_RESOURCE.get(template)
    return [r for r in ir.resources if part is None or getattr(r, part)]


def wanted(template: str, ir: ServiceIR) -> bool:
    return all(
        getattr(ir, part) for prefix, part in OPTIONAL.items() if template.startswith(prefix)
    )


def is_user_owned(template: str) -> bool:
    return template.removesuffix(".jinja").endswith(USER_OWNED)


def render_project(ir: ServiceIR) -> dict[str, str]:
    """Every generated file: relative POSIX path → text (see ``user_owned`` for which of them
    are written only when missing)."""
    env = template_environment("project")
    env.filters["toml"] = toml_string
    env.filters["is_keyword"] = keyword.iskeyword
    files: dict[str, str] = {}
    for name in sorted(env.list_templates(extensions=["jinja"])):
        if not wanted(name, ir):
            continue
        target = name.removesuffix(".jinja").removesuffix(USER_OWNED)
        target = target.replace("__package__", ir.package)
        template = env.get_template(name)
        if "__resource__" in target:
            for r in for_resources(name, ir):
                path = target.replace("__resource__", r.module)
                files[path] = _render(template, ir, path, r=r)
        elif "__consumer__" in target:
            for c in ir.consumers:
                path = target.replace("__consumer__", c["name"])
                files[path] = _render(template, ir, path, c=c)
        else:
            files[target] = _render(template, ir, target)
    for path, text in runtime_files(ir).items():
        if path in files:
            raise ValueError(f"{path} is both a template and a runtime module")
        files[path] = text
    return files


def runtime_files(ir: ServiceIR) -> dict[str, str]:
    """The runtime modules (``backforge/runtime/core/*.py``), as ``<package>/core/<name>.py``
    with the generated-file header on top."""
    folder = resources.files("backforge") / "runtime" / "core"
    return {
        f"{ir.package}/core/{module.name}": f"{header(ir)}\n{module.read_text('utf-8')}"
        for module in sorted(folder.iterdir(), key=lambda module: module.name)
        if module.name.endswith(".py") and _ships(module.name, ir)
    }


# Runtime modules a project gets only when its spec uses what they do: a module shipped to every
# project must be exercised by every project's generated tests (the coverage gate of `verify`).
# Add one here as ``"<module>.py": lambda ir: <whether the spec uses it>``.
OPTIONAL_RUNTIME: dict[str, Callable[[ServiceIR], bool]] = {
    "actions.py": lambda ir: any(r.actions for r in ir.resources),
    "outbox.py": lambda ir: ir.events,
    "relay.py": lambda ir: ir.events,
    "polling.py": lambda ir: ir.brokered,
    "brokers.py": lambda ir: ir.brokered,
    "inbox.py": lambda ir: bool(ir.consumers),
    "consuming.py": lambda ir: bool(ir.consumers),
    "cache.py": lambda ir: ir.cached,
    "feed.py": lambda ir: ir.feed,
    "marks.py": lambda ir: ir.marked,
    "slugs.py": lambda ir: ir.slugged,
    "envelopes.py": lambda ir: ir.envelope and ir.pagination == "cursor",
    "relations.py": lambda ir: ir.related,
    "webhooks.py": lambda ir: ir.webhooks is not None,
    "delivery.py": lambda ir: ir.webhooks is not None,
    "subscribers.py": lambda ir: ir.webhooks is not None,
}


def _ships(module: str, ir: ServiceIR) -> bool:
    needed = OPTIONAL_RUNTIME.get(module)
    return needed is None or needed(ir)


def base_requirements(names: Iterable[str]) -> dict[str, str]:
    """The requirement files ``names`` of a project whose spec uses no optional library (no
    cache, no events): the pins every generated project shares."""
    env = template_environment("project")
    plain = SimpleNamespace(
        cached=False, events=False, webhooks=None, consumers=[], brokered=False, server="uvicorn"
    )
    return {name: env.get_template(f"{name}.jinja").render(ir=plain) for name in names}


def user_owned(ir: ServiceIR) -> set[str]:
    """The paths written once, for the user to own: hooks and custom routes."""
    env = template_environment("project")
    found = set()
    for name in env.list_templates(extensions=["jinja"]):
        if is_user_owned(name):
            target = name.removesuffix(".jinja").removesuffix(USER_OWNED)
            target = target.replace("__package__", ir.package)
            resources = for_resources(name, ir)
            modules = [r.module for r in resources] if "__resource__" in target else [""]
            if "__consumer__" in target:
                found |= {target.replace("__consumer__", c["name"]) for c in ir.consumers}
                continue
            found |= {target.replace("__resource__", module) for module in modules}
    return found


def header(ir: ServiceIR) -> str:
    """The first line of every generated Python and configuration file."""
    return f"# Generated by backforge {ir.generator_version} from spec sha256:{ir.spec_hash[:12]}."


def _render(template: jinja2.Template, ir: ServiceIR, path: str, **extra: Any) -> str:
    first_line = header(ir) if PurePosixPath(path).suffix in _HEADER_SUFFIXES else ""
    return template.render(ir=ir, header=first_line, **extra)
