"""Read YAML keeping each node's line, and refuse duplicate keys instead of silently merging."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from backforge.errors import Problem

Path = tuple[str | int, ...]


def dotted(path: Path) -> str:
    """Render a spec path the way a user reads it: ``resources.Book.fields.title``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class YamlSource:
    """Parsed YAML plus the line of every path in it."""

    file: str
    data: Any = None
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that exists in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: Path, message: str, fix: str = "") -> Problem:
        return Problem(self.file, self.line_of(path), dotted(path), message, fix)


def read_yaml(text: str, file: str) -> YamlSource:
    source = YamlSource(file)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        source.problems.append(
            Problem(file, line, "", f"not valid YAML: {reason}", "correct the YAML syntax here")
        )
        return source
    finally:
        loader.dispose()
    if node is None:
        source.problems.append(
            Problem(file, 1, "", "the spec is empty", "start from `backforge init`")
        )
        return source
    source.data = _build(node, (), loader, source)
    return source


def _build(node: yaml.Node, path: Path, loader: yaml.SafeLoader, source: YamlSource) -> Any:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                source.problems.append(
                    Problem(
                        source.file,
                        key_node.start_mark.line + 1,
                        dotted(path),
                        f"a mapping key must be a plain name, got {key!r}",
                        "write the key as a plain word",
                    )
                )
                continue
            if not isinstance(key, str):
                key = str(key_node.value)  # a name as written: `on:` is "on", not True
            if key in result:
                source.problems.append(
                    Problem(
                        source.file,
                        key_node.start_mark.line + 1,
                        dotted((*path, key)),
                        f"duplicate key {key!r} "
                        f"(first defined on line {source.lines[(*path, key)]})",
                        "keep one definition; YAML would silently drop the first",
                    )
                )
                continue
            source.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, (*path, key), loader, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loader, source) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
