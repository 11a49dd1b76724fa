"""The user's OpenAPI contract for `verify --contract FILE`: read, checked and listed.

It is refused up front (ContractError, exit 2, every problem with the file, the line where known
and the JSON pointer) when it is missing, not YAML or JSON, not OpenAPI 3.0 or 3.1, has no
operation, or has a `$ref` that does not resolve: local (`#/…`) and relative-file references
are followed, into the files they name too, and so are references to a component schema's `$id`
(OpenAPI 3.1); remote ones (http:, https:) are left to the fuzzer.
Nothing is written anywhere: schemathesis reads the file where it is, so its relative `$ref`s
resolve as the author meant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from backforge.errors import ContractError, Problem
from backforge.spec.yamlsource import read_yaml

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
VERSIONS = ("3.0", "3.1")
LITERALS = ("example", "const", "default", "enum")  # data, where a "$ref" key is not a reference


@dataclass(frozen=True)
class Operation:
    """One operation of a contract: `key` is "GET /pets/{petId}", the path as written."""

    method: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass
class UserContract:
    """A usable contract: its file, document, operations and base path (from `servers`)."""

    path: Path
    document: dict[str, Any]
    operations: list[Operation] = field(default_factory=list)

    @property
    def base_path(self) -> str:
        return base_path(self.document)


def pointer(parts: tuple[str | int, ...]) -> str:
    """The JSON pointer (RFC 6901) of a path in a document: ("paths", "/pets") → /paths/~1pets."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def base_path(document: dict[str, Any]) -> str:
    """The path of the first `servers[].url` (absolute or relative, variables at their
    defaults), without a trailing slash; "" when there is none."""
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    url = str(servers[0].get("url") or "")
    variables = servers[0].get("variables")
    for name, variable in (variables if isinstance(variables, dict) else {}).items():
        if isinstance(variable, dict) and "default" in variable:
            url = url.replace("{" + str(name) + "}", str(variable["default"]))
    path = urlsplit(url).path
    if path and not path.startswith("/"):
        path = "/" + path
    return path.rstrip("/")


def load_contract(path: Path) -> UserContract:
    """Read and check the contract at `path`; ContractError naming every problem found."""
    reader = _Reader()
    document = reader.document(Path(path))
    if document is not None:
        _check_version(reader, Path(path), document)
    operations = []
    if document is not None and not reader.problems:
        operations = reader.operations(Path(path), document)
    if document is not None and not reader.problems and not operations:
        reader.problem(Path(path), (), "the contract defines no operation to check")
    if reader.problems:
        raise ContractError(reader.problems)
    assert document is not None
    return UserContract(Path(path), document, operations)


class _Reader:
    """Reads the contract and every file its `$ref`s name, collecting problems."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.files: dict[Path, Any] = {}
        self.lines: dict[Path, dict[tuple[str | int, ...], int]] = {}
        self.walked: set[Path] = set()
        self.root: dict[str, Any] | None = None  # the contract's own document, once read
        self.root_file = Path()

    def problem(self, file: Path, at: tuple[str | int, ...], message: str, fix: str = "") -> None:
        lines = self.lines.get(file.resolve(), {})
        line = next((lines[at[:n]] for n in range(len(at), -1, -1) if at[:n] in lines), None)
        self.problems.append(Problem(str(file), line, pointer(at), message, fix))

    def document(self, file: Path) -> dict[str, Any] | None:
        data = self.read(file, None)
        if data is None:
            return None
        if not isinstance(data, dict):
            kind = type(data).__name__
            self.problem(file, (), f"not an OpenAPI document: the top level is a {kind}")
            return None
        self.root, self.root_file = data, file
        self.walk(file)
        return data

    def read(self, file: Path, cited: tuple[Path, tuple[str | int, ...]] | None) -> Any:
        """The parsed file (cached); None with a problem when it cannot be read."""
        key = file.resolve()
        if key in self.files:
            return self.files[key]
        self.files[key] = None
        where = f" (named by the $ref at {cited[0]} {pointer(cited[1])})" if cited else ""
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            self.problems.append(Problem(str(file), None, "", f"no such file{where}"))
            return None
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(Problem(str(file), None, "", f"cannot be read: {exc}{where}"))
            return None
        self.files[key] = self._parse(file, text, where)
        return self.files[key]

    def _parse(self, file: Path, text: str, where: str) -> Any:
        if not text.strip():
            self.problems.append(Problem(str(file), None, "", f"the file is empty{where}"))
            return None
        if file.suffix.lower() == ".json":
            try:
                return json.loads(text)
            except ValueError as exc:
                line = getattr(exc, "lineno", None)
                message = f"not valid JSON: {getattr(exc, 'msg', exc)}{where}"
                self.problems.append(Problem(str(file), line, "", message))
                return None
        source = read_yaml(text, str(file))
        self.lines[file.resolve()] = source.lines
        for problem in source.problems:
            message = problem.message + where
            self.problems.append(Problem(problem.file, problem.line, "", message, problem.fix))
        return None if source.problems else source.data

    def walk(self, file: Path) -> None:
        """Check every `$ref` in `file`, and in each file one of them names."""
        key = file.resolve()
        if key in self.walked:
            return
        self.walked.add(key)
        for at, ref in _references(self.files[key], ()):
            self.resolve(file, at, ref)

    def resolve(self, file: Path, at: tuple[str | int, ...], ref: str) -> Any:
        """What the `$ref` at `at` in `file` points to; None with a problem when nothing."""
        target, _, fragment = ref.partition("#")
        here, origin = (*at, "$ref"), file
        identified = schema_ids(self.root).get(target) if self.root is not None else None
        if identified is not None:  # a component schema's $id (OpenAPI 3.1)
            target, fragment = "", identified + fragment * fragment.startswith("/")
            file = self.root_file
        elif urlsplit(target).scheme in ("http", "https"):
            return None  # remote: schemathesis fetches it
        named = (file.parent / unquote(target)) if target else file
        data = self.read(named, (origin, here))
        if data is None:
            return None  # read() said why, naming this $ref
        self.walk(named)
        if fragment and not fragment.startswith("/"):
            return None  # a plain-name fragment (an OpenAPI 3.1 $anchor): left to the fuzzer
        found = follow(data, unquote(fragment))
        if found is NOTHING:
            self.problem(origin, here, f"$ref {ref!r} does not resolve", "point it at a definition")
            return None
        return found

    def operations(self, file: Path, document: dict[str, Any]) -> list[Operation]:
        paths = document.get("paths", {})
        if not isinstance(paths, dict):
            self.problem(file, ("paths",), "`paths` is not a mapping")
            return []
        found = []
        for path, item in paths.items():
            if isinstance(item, dict) and isinstance(item.get("$ref"), str):
                item = self.resolve(file, ("paths", path), item["$ref"]) or {}
            if not isinstance(item, dict):
                self.problem(file, ("paths", path), "a path item must be a mapping")
                continue
            found += [Operation(m, str(path)) for m in METHODS if isinstance(item.get(m), dict)]
        return found


def _check_version(reader: _Reader, file: Path, document: dict[str, Any]) -> None:
    version = document.get("openapi")
    if "swagger" in document:
        fix = "convert it to OpenAPI 3 (e.g. with swagger2openapi) and give that file"
        reader.problem(file, ("swagger",), "a Swagger 2.0 document, not OpenAPI 3.0/3.1", fix)
    elif not isinstance(version, str):
        fix = "give an OpenAPI 3.0 or 3.1 document (it starts with `openapi: 3.1.0`)"
        reader.problem(file, (), "not an OpenAPI document: no `openapi` version", fix)
    elif not any(version == v or version.startswith(v + ".") for v in VERSIONS):
        reader.problem(file, ("openapi",), f"OpenAPI {version} is not supported; use 3.0 or 3.1")


def _references(node: Any, at: tuple[str | int, ...]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every `$ref` string under `node` with where it is; literal data (examples, defaults,
    enums) is not searched."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append((at, node["$ref"]))
        for key, value in node.items():
            if key in LITERALS or (key == "examples" and isinstance(value, list)):
                continue
            if key == "examples" and isinstance(value, dict):
                for name, example in value.items():
                    if isinstance(example, dict) and isinstance(example.get("$ref"), str):
                        found.append(((*at, key, name), example["$ref"]))
                continue
            found += _references(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _references(value, (*at, index))
    return found


def schema_ids(document: dict[str, Any]) -> dict[str, str]:
    """The `$id` of each component schema (OpenAPI 3.1) → its JSON pointer."""
    components = document.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    return {
        str(schema["$id"]): pointer(("components", "schemas", name))
        for name, schema in (schemas if isinstance(schemas, dict) else {}).items()
        if isinstance(schema, dict) and isinstance(schema.get("$id"), str)
    }


NOTHING = object()


def follow(data: Any, fragment: str) -> Any:
    """The node at JSON pointer `fragment` in `data`, or NOTHING."""
    if not fragment:
        return data
    for raw in fragment[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return NOTHING
    return data
