"""A contract's schemas as the import reads them: `$ref`s followed (local, relative-file and,
in OpenAPI 3.1, a component schema's `$id` with an optional `$anchor`), `allOf` merged,
nullability read from either version's way of writing it.

The contract is first read and checked by backforge.contractfile (as `verify --contract` reads
it): a file that is missing, not YAML or JSON, not OpenAPI 3.0/3.1, or with a `$ref` that does
not resolve is refused there, every problem with its file, line and JSON pointer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backforge.contractfile import NOTHING, follow, load_contract, schema_ids
from backforge.errors import BackforgeError


class ImportRefusedError(BackforgeError):
    """A contract the import cannot turn into a spec: nothing is written."""

    exit_code = 2


@dataclass
class Schema:
    """A schema with its `$ref`s and `allOf` resolved; properties stay unresolved until used
    (a schema may refer to itself)."""

    data: dict[str, Any]
    file: Path
    pointer: str
    name: str | None = None  # the component name, when reached through #/components/schemas/X
    properties: dict[str, tuple[Any, Path, str]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    nullable: bool = False

    @property
    def type(self) -> str | None:
        kind = self.data.get("type")
        return kind if isinstance(kind, str) else None


class Contract:
    """The documents of one contract, loaded once each."""

    def __init__(self, path: Path) -> None:
        read = load_contract(path)
        self.path = path.resolve()
        self.root: dict[str, Any] = read.document
        self.version = str(self.root["openapi"])
        self.ids = schema_ids(self.root)
        self._documents: dict[Path, Any] = {self.path: self.root}

    def document(self, path: Path) -> Any:
        """Another file of the contract (already checked by load_contract)."""
        if path not in self._documents:
            self._documents[path] = yaml.safe_load(path.read_text(encoding="utf-8"))
        return self._documents[path]

    def where(self, file: Path, pointer: str) -> str:
        shown = file.name if file == self.path else str(file)
        return f"{shown}#{pointer}"

    def resolve(self, node: Any, file: Path, pointer: str) -> tuple[Any, Path, str]:
        """`node` with its `$ref`s followed, and where it was found."""
        seen: set[tuple[Path, str]] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str):
                raise ImportRefusedError(f"{self.where(file, pointer)}/$ref: a $ref is a string")
            target_file, _, target = ref.partition("#")
            if target_file in self.ids:  # a schema's $id (OpenAPI 3.1), with an optional #anchor
                here, base = self.path, self.ids[target_file]
                target = _anchor(self.root, base, target) if target else base
            else:
                here = (file.parent / target_file).resolve() if target_file else file
            if (here, target) in seen:
                raise ImportRefusedError(
                    f"{self.where(file, pointer)}: $ref {ref!r} refers to itself"
                )
            seen.add((here, target))
            node = follow(self.document(here), target)
            if node is NOTHING:
                raise ImportRefusedError(
                    f"{self.where(file, pointer)}: $ref {ref!r} does not resolve "
                    f"(no {target or '/'} in {here.name})"
                )
            file, pointer = here, target
        return node, file, pointer

    def schema(self, node: Any, file: Path, pointer: str, depth: int = 0) -> Schema:
        """The schema at `node`, `allOf` merged; `anyOf`/`oneOf` of one schema and null read as
        a nullable schema."""
        if depth > 32:
            raise ImportRefusedError(f"{self.where(file, pointer)}: allOf nests too deeply")
        name = _component_name(node)
        node, file, pointer = self.resolve(node, file, pointer)
        if node is True or node == {}:
            return Schema({}, file, pointer, name)
        if not isinstance(node, dict):
            raise ImportRefusedError(f"{self.where(file, pointer)}: a schema is a mapping")
        data = {k: v for k, v in node.items() if k not in ("allOf", "properties", "required")}
        result = Schema(data, file, pointer, name)
        result.nullable = bool(node.get("nullable"))
        kind = node.get("type")
        if isinstance(kind, list):
            others = [k for k in kind if k != "null"]
            result.nullable |= len(others) < len(kind)
            data["type"] = others[0] if len(others) == 1 else others or None
        for key in ("anyOf", "oneOf"):
            options = node.get(key)
            if isinstance(options, list):
                real = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
                if len(real) == 1 and len(real) < len(options):
                    inner = self.schema(real[0], file, f"{pointer}/{key}/0", depth + 1)
                    inner.nullable = True
                    return inner
        for index, part in enumerate(node.get("allOf") or []):
            merged = self.schema(part, file, f"{pointer}/allOf/{index}", depth + 1)
            for key, value in merged.data.items():
                data.setdefault(key, value)
            result.properties.update(merged.properties)
            result.required |= merged.required
            result.nullable |= merged.nullable
        for prop, value in (node.get("properties") or {}).items():
            result.properties[str(prop)] = (value, file, f"{pointer}/properties/{prop}")
        result.required |= {str(r) for r in node.get("required") or []}
        if result.properties and "type" not in data:
            data["type"] = "object"
        return result

    def property(self, owner: Schema, name: str) -> Schema:
        node, file, pointer = owner.properties[name]
        return self.schema(node, file, pointer)


def _component_name(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        _, _, pointer = node["$ref"].partition("#")
        parent, _, name = pointer.rpartition("/")
        if parent == "/components/schemas":
            return name
    return None


def _anchor(root: dict[str, Any], base: str, fragment: str) -> str:
    """The pointer of `#fragment` inside the schema at `base`: a JSON pointer, or a `$anchor`."""
    if fragment.startswith("/"):
        return base + fragment
    found: list[str] = []

    def visit(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            if node.get("$anchor") == fragment:
                found.append(pointer)
            for key, value in node.items():
                visit(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                visit(value, f"{pointer}/{index}")

    visit(follow(root, base), base)
    return found[0] if found else f"{base}#{fragment}"
