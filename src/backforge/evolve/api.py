"""The changes a client of the API sees between two versions of a service, each breaking or
not: a removed resource, field, filter or sort key, a renamed field or resource, a narrowed type
or constraint, a new required input without default, fewer callers allowed are breaking; a new
optional field, a new resource, a widened constraint are not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backforge.fieldtypes import NO_NUL
from backforge.ir import MAX_MANY_IDS, ActionIR, FieldIR, ResourceIR, ServiceIR

# Field renames as a spec declares them: resource -> {new field: old field}.
Renames = dict[str, dict[str, str]]


@dataclass(frozen=True)
class ApiChange:
    resource: str  # "" for the whole API
    field: str  # "" for the resource
    summary: str
    breaking: bool

    @property
    def where(self) -> str:
        return ".".join(p for p in (self.resource, self.field) if p) or "API"

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "field": self.field,
            "summary": self.summary,
            "breaking": self.breaking,
        }


def api_changes(
    old: ServiceIR | None, new: ServiceIR, renames: Renames, moved: dict[str, str] | None = None
) -> list[ApiChange]:
    if old is None:
        return [ApiChange(r.name, "", f"new resource at /{r.path}", False) for r in new.resources]
    changes: list[ApiChange] = []

    def add(resource: str, fname: str, summary: str, breaking: bool) -> None:
        changes.append(ApiChange(resource, fname, summary, breaking))

    if old.base_path != new.base_path:
        add("", "", f"base path {old.base_path or '/'} -> {new.base_path or '/'}", True)
    if old.pagination != new.pagination:
        add("", "", f"pagination {old.pagination} -> {new.pagination}", True)
    if new.max_limit < old.max_limit:
        add("", "", f"max_limit lowered {old.max_limit} -> {new.max_limit}", True)
    elif new.max_limit > old.max_limit:
        add("", "", f"max_limit raised {old.max_limit} -> {new.max_limit}", False)
    if new.default_limit != old.default_limit:
        add("", "", f"default_limit {old.default_limit} -> {new.default_limit}", False)
    if old.list_shape != new.list_shape:
        add("", "", f"list bodies {old.list_shape} -> {new.list_shape}", True)
    if old.problem_media_type != new.problem_media_type:
        add("", "", f"errors {old.problem_media_type} -> {new.problem_media_type}", True)
    for member, source in sorted(old.problem_members.items()):
        if new.problem_members.get(member) != source:
            add("", "", f"error member {member!r} ({source}) removed or changed", True)
    for member in sorted(set(new.problem_members) - set(old.problem_members)):
        add("", "", f"error member {member!r} added", False)
    if old.field_names != new.field_names:
        add("", "", f"field names on the wire {old.field_names} -> {new.field_names}", True)
    if old.omit_nulls != new.omit_nulls:
        now = "left out" if new.omit_nulls else "null"
        add("", "", f"optional fields without a value are now {now} on the wire", True)
    if getattr(old, "envelope", False) != new.envelope:
        now = "wrapped in" if new.envelope else "no longer wrapped in"
        add("", "", f"records and list pages are now {now} envelopes (api.envelope)", True)
    if getattr(old, "server", "uvicorn") != new.server:
        was = getattr(old, "server", "uvicorn")
        add("", "", f"served by {new.server} instead of {was} (service.server)", False)
    before_if_match = getattr(old, "require_if_match", False)
    after_if_match = getattr(new, "require_if_match", False)
    if after_if_match and not before_if_match:
        add("", "", "changes now require If-Match (428 without it)", True)
    elif before_if_match and not after_if_match:
        add("", "", "changes no longer require If-Match", False)
    if new.auth and not old.auth:
        add(
            "",
            "",
            "accounts added: sign-in and tokens under /auth; actions not open to `anyone` now "
            "answer 401 without a token",
            True,
        )
    elif old.auth and not new.auth:
        add("", "", "accounts removed: the /auth endpoints are gone, every action is open", True)
    moved = moved or {}
    for r in old.resources:
        if find_resource(new, r.name) is None and r.name not in moved.values():
            add(r.name, "", f"resource removed (its endpoints under /{r.path} are gone)", True)
    for r in new.resources:
        before = find_resource(old, moved.get(r.name, r.name))
        if before is None:
            add(r.name, "", f"new resource at /{r.path}", False)
            continue
        if before.name != r.name:
            add(r.name, "", f"renamed from {before.name} (its schemas are named {r.name})", True)
        _resource_changes(before, r, renames.get(r.name, {}), add, moved)
    return changes


def _resource_changes(
    old: ResourceIR, new: ResourceIR, renames: dict[str, str], add: Any, moved: dict[str, str]
) -> None:
    name = new.name
    if old.path != new.path:
        add(name, "", f"collection moved /{old.path} -> /{new.path}", True)
    if new.owned and not old.owned:
        add(
            name,
            "",
            "now owned: a record belongs to the account that creates it, and only its owner "
            "(and roles that see every record) may see or change it",
            True,
        )
    elif old.owned and not new.owned:
        add(name, "", "no longer owned", False)
    for action in sorted(set(old.permissions) & set(new.permissions)):  # older ir.json: none
        was, now = old.permissions.get(action, []), new.permissions.get(action, [])
        if was != now:
            who = f"{', '.join(was) or 'nobody'} -> {', '.join(now) or 'nobody'}"
            add(name, "", f"who may {action}: {who}", not _covers(now, was))
    if old.through != new.through:  # no column: a change of who sees the records, not of tables
        if new.through:
            add(
                name,
                "",
                f"now owned through {new.through}: only the owner of its {new.through} "
                "(and roles that see every record) may see or change a record",
                True,
            )
        else:
            add(name, "", f"no longer owned through {old.through}", False)
    was_under, now_under = getattr(old, "parent", None), getattr(new, "parent", None)
    if (renames.get(now_under, now_under) if now_under else None) != was_under:
        place = {None: f"/{new.path}"} | {
            key: f"under its {key} (/…/{{key}}/{new.path})" for key in (was_under, now_under) if key
        }
        add(
            name,
            "",
            f"its list and create move: {place[was_under]} -> {place[now_under]}",
            True,
        )
    was, now = old.lookup, new.lookup
    if (renames.get(now, now) if now else None) != was:
        where = {None: "{id}"} | {key: "{" + key + "}" for key in (was, now) if key}
        add(
            name,
            "",
            f"item URLs name records by {now or 'id'}, not {was or 'id'}: "
            f"/{new.path}/{where[was]} -> /{new.path}/{where[now]}",
            True,
        )
    before = {f.name: f for f in old.fields}
    matched: set[str] = set()
    for f in new.fields:
        source = before.get(renames.get(f.name, f.name))
        if source is None:
            _added_field(name, f, add)
            continue
        matched.add(source.name)
        if source.name != f.name and _visible(f):
            add(
                name,
                f.name,
                f"renamed from {source.name}: clients must use `{f.name}` instead",
                True,
            )
        _field_changes(name, source, f, add, moved)
    for f in old.fields:
        if f.name not in matched and _visible(f):
            add(name, f.name, "field removed", True)
    _listing_changes(old, new, add)
    _action_changes(old, new, add)
    _mark_changes(old, new, add)
    _envelope_changes(old, new, before, add)


def _envelope_changes(
    old: ResourceIR, new: ResourceIR, before: dict[str, FieldIR], add: Any
) -> None:
    """Renamed envelope members break clients; so does a field leaving list items
    (`in_list: false`), while one joining them does not."""
    name = new.name
    for member in ("envelope_one", "envelope_many", "envelope_count"):
        was, now = getattr(old, member, ""), getattr(new, member, "")
        if was and now and was != now:
            add(name, "", f"envelope member {was!r} renamed {now!r}", True)
    for f in new.fields:
        source = before.get(f.name)
        if source is None or not (f.readable and source.readable):
            continue
        if getattr(source, "in_list", True) and not f.in_list:
            add(name, f.name, "left out of list items now (in_list: false)", True)
        elif not getattr(source, "in_list", True) and f.in_list:
            add(name, f.name, "shown in list items now", False)


def _mark_changes(old: ResourceIR, new: ResourceIR, add: Any) -> None:
    """Marks: one removed, or its count or mine field renamed or removed, or a narrower `allow`
    break clients; a new mark, a new count or mine field or a wider `allow` do not."""
    name = new.name
    before = {m.name: m for m in old.marks}
    after = {m.name: m for m in new.marks}
    for gone in sorted(set(before) - set(after)):
        url = f"/{old.path}/{{key}}/{before[gone].path}"
        add(name, gone, f"mark {gone} removed (PUT and DELETE {url})", True)
    for added in sorted(set(after) - set(before)):
        url = f"/{new.path}/{{key}}/{after[added].path}"
        add(name, added, f"new mark {added} (PUT and DELETE {url})", False)
        for role in ("count", "mine"):
            if getattr(after[added], role):
                add(name, getattr(after[added], role), f"new read-only {role} of {added}", False)
    for mark in sorted(set(before) & set(after)):
        was, now = before[mark], after[mark]
        if was.allow != now.allow:
            who = f"{', '.join(was.allow) or 'nobody'} -> {', '.join(now.allow) or 'nobody'}"
            add(name, mark, f"who may {mark}: {who}", not _covers(now.allow, was.allow))
        for role in ("count", "mine"):
            field_was, field_now = getattr(was, role), getattr(now, role)
            if field_was == field_now:
                continue
            if field_was is None:
                add(name, field_now, f"new read-only {role} of {mark}", False)
            elif field_now is None:
                add(name, field_was, f"{role} of {mark} removed", True)
            else:
                add(name, field_now, f"{role} of {mark} renamed from {field_was}", True)


def _action_changes(old: ResourceIR, new: ResourceIR, add: Any) -> None:
    """Custom actions: one removed, an input removed, narrowed or newly required, a changed
    precondition (`when`), answer (`output`, or handler vs declarative) or narrower `allow`
    break clients; a new action, a new optional input or a wider `allow` do not."""
    name = new.name
    before = {a.name: a for a in old.actions}
    after = {a.name: a for a in new.actions}
    for gone in sorted(set(before) - set(after)):
        add(
            name,
            gone,
            f"action {gone} removed (POST /{old.path}/{{key}}/{before[gone].path})",
            True,
        )
    for added in sorted(set(after) - set(before)):
        add(
            name, added, f"new action {added} (POST /{new.path}/{{key}}/{after[added].path})", False
        )
    for action in sorted(set(before) & set(after)):
        was, now = before[action], after[action]
        if was.allow != now.allow:
            who = f"{', '.join(was.allow) or 'nobody'} -> {', '.join(now.allow) or 'nobody'}"
            add(name, action, f"who may {action}: {who}", not _covers(now.allow, was.allow))
        if _same(was.when) != _same(now.when):
            add(name, action, f"precondition of {action} changed: {_shown(now.when)}", True)
        if was.handler != now.handler or _outputs(was) != _outputs(now):
            add(name, action, f"the answer of {action} changed", True)
        if _same(was.sets) != _same(now.sets):
            add(name, action, f"what {action} sets changed", False)
        _input_changes(name, was, now, add)


def _same(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _outputs(a: ActionIR) -> list[tuple[str, str, bool, list[str]]]:
    return [(a.plain(f), f.kind, f.required, f.values) for f in a.outputs]


def _input_changes(resource: str, old: ActionIR, new: ActionIR, add: Any) -> None:
    was = {old.plain(f): f for f in old.inputs}
    now = {new.plain(f): f for f in new.inputs}
    for gone in sorted(set(was) - set(now)):
        add(resource, f"{new.name}.{gone}", "action input removed (sending it is refused)", True)
    for key in sorted(set(now) - set(was)):
        required = now[key].required and not now[key].has_default
        summary = "new required action input" if required else "new optional action input"
        add(resource, f"{new.name}.{key}", summary, required)
    for key in sorted(set(was) & set(now)):
        a, b = was[key], now[key]
        where = f"{new.name}.{key}"

        def named(_resource: str, _field: str, summary: str, breaking: bool) -> None:
            add(resource, where, summary, breaking)  # noqa: B023 (called at once, below)

        if a.kind != b.kind:
            add(resource, where, f"type {a.kind} -> {b.kind}", True)
            continue
        if b.required and not a.required:
            add(resource, where, "action input now required", True)
        elif a.required and not b.required:
            add(resource, where, "action input no longer required", False)
        _constraint_changes(resource, a, b, named)


def _covers(now: list[str], was: list[str]) -> bool:
    """Whether every caller allowed by ``was`` is allowed by ``now``."""
    if "anyone" in now:
        return True
    signed_in = "authenticated" in now
    return all(who in now or (signed_in and who != "anyone") for who in was)


def _visible(f: FieldIR) -> bool:
    return f.readable or f.writable


def _added_field(resource: str, f: FieldIR, add: Any) -> None:
    if not _visible(f):
        return
    if f.writable and f.required:
        add(resource, f.name, "new required input without default", True)
    elif f.writable:
        default = f" (default {_shown(f.default)})" if f.has_default else ""
        add(resource, f.name, f"new optional field{default}", False)
    else:
        add(resource, f.name, "new read-only field", False)


def _field_changes(
    resource: str, old: FieldIR, new: FieldIR, add: Any, moved: dict[str, str]
) -> None:
    name = new.name
    if not (_visible(old) or _visible(new)):
        return
    wider = (old.kind, new.kind) in _WIDER_KINDS
    if wider:
        add(resource, name, f"type {old.kind} -> {new.kind} (wider)", False)
    elif old.kind != new.kind:
        add(resource, name, f"type {_type(old)} -> {_type(new)}", True)
    elif old.ref != moved.get(new.ref or "", new.ref):
        add(resource, name, f"now refers to {new.ref} instead of {old.ref}", True)
    if old.readable and not new.readable:
        add(resource, name, "no longer returned", True)
    elif new.readable and not old.readable:
        add(resource, name, "now returned", False)
    if old.writable and not new.writable:
        add(resource, name, "no longer accepted on writes", True)
    elif new.writable and not old.writable:
        add(resource, name, "now accepted on writes", False)
    if new.writable and new.required and not old.required:
        add(resource, name, "now required on create", True)
    elif old.required and not new.required:
        add(resource, name, "no longer required", False)
    if new.unique and not old.unique:
        add(resource, name, "now unique (duplicates are refused with 409)", True)
    elif old.unique and not new.unique:
        add(resource, name, "no longer unique", False)
    if _shown(old.default) != _shown(new.default):
        add(resource, name, f"default {_shown(old.default)} -> {_shown(new.default)}", False)
    if (old.derived_from, old.on_change) != (new.derived_from, new.on_change):
        was = f"from {old.derived_from}, on_change {old.on_change}" if old.derived_from else "given"
        now = f"from {new.derived_from}, on_change {new.on_change}" if new.derived_from else "given"
        # clients that relied on a slug staying put (or being made) see it behave otherwise
        add(resource, name, f"slug {was} -> {now}", True)
    if old.on_delete != new.on_delete and old.kind == new.kind == "ref":
        add(resource, name, f"on delete {old.on_delete} -> {new.on_delete}".lower(), False)
    if old.kind == new.kind and new.is_relation:
        _relation_changes(resource, old, new, add)
    if (old.kind == new.kind or wider) and new.writable:
        _constraint_changes(resource, old, new, add)


def _relation_changes(resource: str, old: FieldIR, new: FieldIR, add: Any) -> None:
    """`by`, `embed` and `create_missing`: the columns keep the ids (no migration), but what
    the wire carries changes."""
    name = new.name
    if old.by != new.by:
        was = f"their {old.by}" if old.by else "their ids"
        now = f"their {new.by}" if new.by else "their ids"
        add(resource, name, f"names its {new.ref} records by {now} instead of {was}", True)
    if old.embed != new.embed:
        shape = "the whole record" if new.embed else "the id (or `by` value)"
        add(resource, name, f"responses now carry {shape} of its {new.ref}", True)
    if old.create_missing != new.create_missing:
        if new.create_missing:
            add(resource, name, f"values naming no {new.ref} now create it", False)
        else:
            add(resource, name, f"values naming no {new.ref} are refused again (409)", True)


# Kinds whose every value is a value of the other, on the wire and in the column.
_WIDER_KINDS = {("int", "bigint"), ("string", "text")}


def _type(f: FieldIR) -> str:
    return f.kind


def _shown(value: Any) -> str:
    """A default as a client sees it: JSON."""
    return json.dumps(value, default=str)


def _constraint_changes(resource: str, old: FieldIR, new: FieldIR, add: Any) -> None:
    a, b = _limits(old), _limits(new)
    name = new.name
    lower = {"min_length": "fewest characters", "ge": "minimum"}
    upper = {"max_length": "most characters", "le": "maximum"}
    for key, label in lower.items():
        if a.get(key) != b.get(key) and not (a.get(key) is None and b.get(key) is None):
            narrowed = _bigger(b.get(key), a.get(key))
            add(resource, name, f"{label} {a.get(key)} -> {b.get(key)}", narrowed)
    for key, label in upper.items():
        if a.get(key) != b.get(key) and not (a.get(key) is None and b.get(key) is None):
            narrowed = _bigger(a.get(key), b.get(key))
            add(resource, name, f"{label} {a.get(key)} -> {b.get(key)}", narrowed)
    if a.get("pattern") != b.get("pattern"):
        removed = b.get("pattern") in (None, NO_NUL)
        add(resource, name, f"pattern {a.get('pattern')} -> {b.get('pattern')}", not removed)
    if old.kind == "enum":
        gone = [v for v in _values(old) if v not in _values(new)]
        added = [v for v in _values(new) if v not in _values(old)]
        if gone:
            add(resource, name, f"values removed: {', '.join(gone)}", True)
        if added:
            add(resource, name, f"values added: {', '.join(added)}", False)
    if old.kind == "decimal" and new.scale < old.scale:
        add(resource, name, f"decimal places {old.scale} -> {new.scale}", True)
    elif old.kind == "decimal" and new.scale > old.scale:
        add(resource, name, f"decimal places {old.scale} -> {new.scale}", False)


def _bigger(a: Any, b: Any) -> bool:
    """Whether a > b, a missing bound counting as unbounded."""
    if a is None:
        return False
    if b is None:
        return True
    return Decimal(str(a)) > Decimal(str(b))


def _limits(f: FieldIR) -> dict[str, Any]:
    """What a request's value must keep to: lengths, bounds and pattern."""
    found: dict[str, Any] = {}
    if f.base in ("string", "text", "url"):
        found["max_length"] = f.longest
        found["pattern"] = f.pattern or NO_NUL  # a url's is the type's own
    elif f.base == "email" and f.max_length:
        found["max_length"] = f.max_length
    elif f.base == "many":
        found["max_length"] = MAX_MANY_IDS
    if f.min_length:
        found["min_length"] = f.min_length
    low, high = f.bounds
    if low is not None:
        found["ge"] = low
    if high is not None:
        found["le"] = high
    return found


def _values(f: FieldIR) -> list[str]:
    return list(f.values)


def _listing_changes(old: ResourceIR, new: ResourceIR, add: Any) -> None:
    name = new.name
    before = {p.name for p in old.filters}
    after = {p.name for p in new.filters}
    for param in sorted(before - after):
        add(name, "", f"list filter ?{param}= removed", True)
    for param in sorted(after - before):
        add(name, "", f"list filter ?{param}= added", False)
    for key in [k for k in old.sort_keys if k not in new.sort_keys]:
        add(name, "", f"sort key {key} removed", True)
    for key in [k for k in new.sort_keys if k not in old.sort_keys]:
        add(name, "", f"sort key {key} added", False)
    if any(f.searchable for f in old.fields) and not any(f.searchable for f in new.fields):
        add(name, "", "text search ?q= removed", True)
    elif any(f.searchable for f in new.fields) and not any(f.searchable for f in old.fields):
        add(name, "", "text search ?q= added", False)


def find_resource(ir: ServiceIR | None, name: str) -> ResourceIR | None:
    if ir is None:
        return None
    return next((r for r in ir.resources if r.name == name), None)
