"""Load a spec file: YAML with lines → structural validation → semantic checks.

Every problem in the file is collected and raised together as one ``SpecError``.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from backforge.errors import Problem, SpecError
from backforge.fieldtypes import FIELD_TYPES, allowed_options
from backforge.spec.checks import check_semantics
from backforge.spec.model import ServiceSpec
from backforge.spec.yamlsource import YamlSource, read_yaml


def load_spec(path: str | Path) -> ServiceSpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            [Problem(str(path), None, "", "no such file", "check the path to the spec")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            [Problem(str(path), None, "", f"cannot read the spec: {exc}", "save it as UTF-8 text")]
        ) from None
    return load_spec_text(text, str(path))


def load_spec_text(text: str, file: str = "<spec>") -> ServiceSpec:
    source = read_yaml(text, file)
    if source.problems and source.data is None:
        raise SpecError(source.problems)
    data = source.data
    if not isinstance(data, dict):
        raise SpecError(
            [
                *source.problems,
                source.problem(
                    (),
                    "the spec must be a mapping with `service` and `resources`",
                    "start the file with `service:` and `resources:` (see `backforge init`)",
                ),
            ]
        )
    _expand_shorthand(data)
    problems = list(source.problems)
    spec: ServiceSpec | None = None
    try:
        spec = ServiceSpec.model_validate(data)
    except ValidationError as exc:
        problems += _structural_problems(exc, data, source)
    problems += check_semantics(data, source)
    if problems:
        raise SpecError(problems)
    assert spec is not None
    _check_schema_names(spec, text, source)
    return spec


def _check_schema_names(spec: ServiceSpec, text: str, source: YamlSource) -> None:
    """Names the generated schema would hold twice: only the whole model knows them."""
    from backforge.ir import build_ir  # the model imports this package: not at the top

    clashes = build_ir(spec, text).name_clashes()
    if clashes:
        raise SpecError([source.problem(at, message, fix) for at, message, fix in clashes])


def _expand_shorthand(data: dict[str, Any]) -> None:
    """``bio: text`` means ``bio: {type: text}``."""
    groups: list[Any] = []
    auth = data.get("auth")
    profile = auth.get("profile") if isinstance(auth, dict) else None
    if isinstance(profile, dict):  # the profile fields of accounts
        groups.append(profile.get("fields"))
    resources = data.get("resources")
    for resource in resources.values() if isinstance(resources, dict) else []:
        if not isinstance(resource, dict):
            continue
        groups.append(resource.get("fields"))
        actions = resource.get("actions")
        for action in actions.values() if isinstance(actions, dict) else []:
            if isinstance(action, dict):  # an action's input and output fields, too
                groups += [action.get("input"), action.get("output")]
    for fields in groups:
        if isinstance(fields, dict):
            for name, field in fields.items():
                if isinstance(field, str):
                    fields[name] = {"type": field}


def _structural_problems(exc: ValidationError, data: Any, source: YamlSource) -> list[Problem]:
    located = [(_data_path(error["loc"], data), error) for error in exc.errors()]
    inner = {path[:end] for path, _ in located for end in range(len(path))}
    precise = {path for path, error in located if "fix" in error.get("ctx", {})}
    problems: dict[tuple[Any, ...], Problem] = {}
    for path, error in located:
        # one message per place: a union reports each alternative, and a wrong-type message
        # about a node is noise next to a precise one inside it (an IndexSpec or a list) or
        # about it (a mapping that is not the boolean the other alternative takes)
        wrong_type = error["type"].endswith("_type")
        if path in problems or (wrong_type and (path in inner or path in precise)):
            continue
        message, fix = _explain(error, path, data)
        problems[path] = source.problem(path, message, fix)
    return list(problems.values())


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Any, ...]:
    """Pydantic's error location without the union-member labels it inserts."""
    path: list[Any] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_label(part):
            path.append(part)  # a missing key: name it
            break
        else:
            continue
        path.append(part)
    return tuple(path)


def _is_label(part: str) -> bool:
    return part[:1].isupper() or "[" in part or part in {"str", "int", "bool", "list", "dict"}


def _explain(error: dict[str, Any], path: tuple[Any, ...], data: Any) -> tuple[str, str]:
    kind = error["type"]
    value = error.get("input")
    key = path[-1] if path else ""
    if kind == "extra_forbidden":
        parent = _field_options(path, data) or _parent_model_fields(error["loc"])
        hint = _did_you_mean(str(key), parent)
        where = "section" if len(path) == 1 else "option"
        fix = f"did you mean `{hint}`?" if hint else "remove it."
        if parent:
            fix += " Allowed here: " + ", ".join(sorted(parent))
        return f"unknown {where} `{key}`", fix
    if "fix" in error.get("ctx", {}):  # a rule of the model that says what to do
        return error["msg"], error["ctx"]["fix"]
    if kind == "missing":
        return f"`{key}` is required here", f"add `{key}:`"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",")]
        hint = _did_you_mean(str(value), options)
        if path and path[-1] == "type":
            fix = f"did you mean `{hint}`? " if hint else ""
            return f"unknown field type {value!r}", fix + "use one of: " + ", ".join(options)
        fix = f"did you mean `{hint}`? " if hint else ""
        return f"{value!r} is not allowed here", fix + "use one of: " + ", ".join(options)
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not a valid value here", _pattern_fix(path)
    if kind == "too_short" and isinstance(value, dict | list):
        return f"`{key}` must not be empty", f"add at least one entry under `{key}`"
    return _explain_type(kind, path, value) or (
        error["msg"].rstrip(".") + f" (got {value!r})",
        "see docs/spec.md for this option",
    )


def _explain_type(kind: str, path: tuple[Any, ...], value: Any) -> tuple[str, str] | None:
    """Wrong-type messages in the spec's own words."""
    key = path[-1] if path else ""
    if kind == "model_type" and len(path) == 4 and path[2] == "fields":
        return (
            f"field `{key}` must be a type name or a mapping of options (got {value!r})",
            "write e.g. `bio: text` or `title: {type: string, max_length: 200}`",
        )
    if kind in ("list_type", "model_type") and len(path) > 1 and path[-2] == "indexes":
        return (
            f"an index is a list of field names or a mapping (got {value!r})",
            "write e.g. `- [status, published_at]` or `- {fields: [sku], unique: true}`",
        )
    if kind in ("model_type", "dict_type"):
        return f"`{key}` must be a mapping (got {value!r})", "see docs/spec.md for this section"
    if kind == "string_type" and isinstance(value, bool):
        return (
            f"expected text, got the boolean {value!r}",
            "put it in quotes: unquoted yes, no, on, off, true and false are booleans in YAML",
        )
    if kind == "string_type" and isinstance(value, int | float):
        return f"expected text, got the number {value!r}", f'put it in quotes: "{value}"'
    return None


_PATTERN_FIXES = {
    "name": "a service name is lowercase letters, digits and `_`, starting with a letter",
    "base_path": "a base path looks like /api/v1 (lowercase segments, no trailing slash)",
    "roles": "role names are lowercase letters, digits and `_`",
    "values": "enum values are lowercase identifiers: letters, digits and `_`",
    "plural": "a plural is a lowercase identifier: letters, digits and `_`",
    "renamed_from": "write the previous name as the spec wrote it: PascalCase for a resource, "
    "snake_case for a field",
    "events": "an event type is `<resource>.<event>` in lowercase (book.created); `*` stands "
    "for one word (book.*)",
    "from": "name the publishing service as its spec does: lowercase letters, digits and `_`",
    "existing_rows": "give the email of the account that takes the rows, e.g. admin@example.com",
}


def _pattern_fix(path: tuple[Any, ...]) -> str:
    for part in reversed(path):
        if isinstance(part, str) and part in _PATTERN_FIXES:
            return _PATTERN_FIXES[part]
    if any(p in {"access_ttl", "refresh_ttl", "ttl"} for p in path):
        return "write a duration as a number and a unit: 30s, 15m, 2h, 14d"
    if any(p in {"anonymous", "authenticated"} for p in path):
        return "write a rate as count/period: 60/minute (second, minute, hour, day)"
    return "see docs/spec.md for the accepted form"


def _field_options(path: tuple[Any, ...], data: Any) -> list[str]:
    """The options a field of a known type takes, for an unknown option on that field."""
    if len(path) != 5 or path[0] != "resources" or path[2] != "fields":
        return []
    resource = data["resources"].get(path[1])
    ftype = resource["fields"][path[3]].get("type")
    return sorted(allowed_options(ftype)) if ftype in FIELD_TYPES else []


def _parent_model_fields(loc: tuple[Any, ...]) -> list[str]:
    from backforge.spec import model

    node: Any = model.ServiceSpec
    for part in loc[:-1]:
        fields = getattr(node, "model_fields", None)
        if fields and part in fields:
            node = _model_in(fields[part].annotation)
        elif isinstance(part, str) and part[:1].isupper() and hasattr(model, part):
            node = getattr(model, part)
    fields = getattr(node, "model_fields", {})
    return [fields[name].alias or name for name in fields]


def _model_in(annotation: Any) -> Any:
    """The model class inside an annotation such as ``dict[str, FieldSpec] | None``."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(word: str, options: list[str]) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None
