"""The spec an import writes: YAML a person edits next, with a comment on everything that
differs from the source and on everything left out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from backforge.importers.imported import Operation, Resource

WIDTH = 100


def flow(value: Any) -> str:
    """`value` as one line of YAML flow style."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**9)
    return text.strip().removesuffix("...").strip()


def block(value: dict[str, Any], indent: int) -> list[str]:
    text = yaml.safe_dump(value, sort_keys=False, width=WIDTH, allow_unicode=True)
    return [" " * indent + line for line in text.splitlines()]


def comment(text: str, indent: int = 0) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + len(word) + indent + 3 > WIDTH:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return [" " * indent + "# " + line for line in lines if line]


def render_spec(
    *,
    source: str,
    version: str,
    service: dict[str, Any],
    api: dict[str, Any],
    auth: dict[str, Any] | None,
    resources: list[Resource],
    operations: list[Operation],
    notes: list[str],
) -> str:
    counts = {
        s: sum(op.status == s for op in operations) for s in ("mapped", "changed", "not_mapped")
    }
    lines = comment(
        f"Imported from {source} (OpenAPI {version}) by `backforge import openapi`. Operations: "
        f"{counts['mapped']} mapped, {counts['changed']} mapped with changes, "
        f"{counts['not_mapped']} not mapped; `--report FILE` lists each."
    )
    skipped = [op for op in operations if op.status == "not_mapped"]
    if skipped:
        lines += comment("Not mapped:")
        for op in skipped:
            first, *rest = comment(f"{op.key}: {'; '.join(op.reasons)}", 2)
            lines += ["# - " + first[4:], *("#   " + line[4:] for line in rest)]
    for note in notes:
        lines += comment(f"Note: {note}")
    lines += ["service:", *block(service, 2), "", "api:"]
    for key, value in api.items():
        lines.append(f"  {key}: {flow(value)}")
    if auth is not None:
        lines += ["", "auth:"]
        lines += [f"  {key}: {flow(value)}" for key, value in auth.items()]
    lines += ["", "resources:"]
    for resource in resources:
        lines += _resource(resource)
    return "\n".join(lines).rstrip() + "\n"


def _resource(resource: Resource) -> list[str]:
    mapped = [op for op in resource.operations if op.status != "not_mapped"]
    lines = comment(", ".join(op.key for op in mapped) or "no operation mapped", 2)
    lines.append(f"  {resource.name}:")
    lines.append(f"    plural: {resource.plural}")
    if resource.lookup:
        lines.append(f"    lookup: {resource.lookup}")
    lines.append("    fields:")
    for name, body in resource.fields.items():
        value = body["type"] if list(body) == ["type"] else flow(body)
        line = f"      {name}: {value}"
        why = resource.comments.get(name)
        if why and len(line) + len(why) + 4 <= WIDTH:
            lines.append(f"{line}  # {why}")
        else:
            lines += comment(why, 6) if why else []
            lines.append(line)
    if resource.filters:
        lines.append(f"    filter: {flow(resource.filters)}")
    if resource.permissions:
        lines.append(f"    permissions: {flow(resource.permissions)}")
    lines.append("")
    return lines
