"""Semantic checks: what a schema cannot say (references, clashes, contradictions).

They run on the raw data, field by field, so a structural error in one place does not hide the
problems in another: one run reports everything.
"""

from __future__ import annotations

import difflib
import keyword
import re
from typing import Any

from pydantic import ValidationError

from backforge import conditions
from backforge.errors import Problem
from backforge.fieldtypes import FIELD_TYPES, allowed_options, compiles, decimal_shape, max_length
from backforge.names import (
    AUTOMATIC_FIELDS,
    FIELD_NAME,
    MAX_FIELD_NAME,
    RESOURCE_NAME,
    SERVICE_NAME,
    camel,
    envelope_names,
    kebab,
    module_name,
    plural,
    service_name_problem,
    snake,
)
from backforge.spec.model import PROBLEM_MEMBERS, FieldSpec
from backforge.spec.seeds import check_seed
from backforge.spec.yamlsource import YamlSource

PRINCIPALS = ("anyone", "authenticated", "owner")
# Fields every resource has, by type; `version` is internal and cannot be listed.
AUTOMATIC_TYPES = {"id": "int", "created_at": "datetime", "updated_at": "datetime"}


def check_semantics(data: dict[str, Any], source: YamlSource) -> list[Problem]:
    found: list[Problem] = []

    def report(path: tuple[Any, ...], message: str, fix: str) -> None:
        found.append(source.problem(path, message, fix))

    _check_service(data, report)
    _check_api(data, report)
    _check_auth(data, report)
    resources = data.get("resources")
    if not isinstance(resources, dict):
        return found
    roles = _roles(data)
    fields_by_resource = {
        name: _typed_fields(body) for name, body in resources.items() if isinstance(body, dict)
    }
    _check_resource_names(resources, report)
    service = data.get("service")
    existing = isinstance(service, dict) and service.get("existing_database") is True
    for name, body in resources.items():
        if isinstance(body, dict):
            _check_resource(name, body, fields_by_resource, roles, report, existing)
    _check_required_cycles(fields_by_resource, report)
    _check_ref_owners(resources, fields_by_resource, report)
    _check_parents(resources, fields_by_resource, report)
    api = data.get("api")
    if isinstance(api, dict) and api.get("field_names") == "camelCase":
        _check_camel_names(fields_by_resource, report)
    if isinstance(data.get("auth"), dict):  # without accounts, `owned` is reported already
        _check_owned_through(resources, fields_by_resource, report)
    _check_cache(data, resources, report)
    for name, body in resources.items():
        if isinstance(body, dict) and ("author" in body or "views" in body):
            _check_author_and_views(data, name, body, fields_by_resource.get(name, {}), report)
    _check_envelopes(data, resources, report)
    _check_relation_options(data, resources, fields_by_resource, report)
    _check_webhooks(data, resources, roles, report)
    _check_consumes(data, resources, report)
    check_seed(data, fields_by_resource, report, value_problems)
    return found


def _check_author_and_views(
    data: dict[str, Any],
    name: str,
    body: dict[str, Any],
    fields: dict[str, FieldSpec | None],
    report: Any,
) -> None:
    """`author` and `views`: profiles (and follows) are on, the resource is owned directly,
    and the names clash with no field, mark, action, feed or lookup value."""
    auth = data.get("auth") if isinstance(data.get("auth"), dict) else {}
    profile = auth.get("profile") if isinstance(auth, dict) else None
    author = body.get("author")
    taken: dict[str, str] = {f: "a field" for f in fields}
    taken["owner"] = "the owner field"
    for mark in body.get("marks") or {}:
        taken[mark] = "a mark"
        if isinstance(body["marks"][mark], dict):
            for key in ("count", "mine"):
                if isinstance(body["marks"][mark].get(key), str):
                    taken[body["marks"][mark][key]] = f"a field of the mark {mark!r}"
    if isinstance(author, str):
        at = ("resources", name, "author")
        if not isinstance(profile, dict):
            report(
                at,
                "`author` shows the owner's profile, and `auth.profile` is not set",
                "add `auth.profile` (with a lookup field such as username)",
            )
        elif not _owned_directly(body):
            report(
                at,
                f"`author` shows the owner's profile, and {name} is not `owned: true`",
                "add `owned: true` to the resource, or remove `author`",
            )
        if author in taken:
            report(
                at,
                f"the author field {author!r} clashes with {taken[author]}",
                "choose another name (e.g. author)",
            )
        if isinstance(body.get("cache"), dict):
            report(
                ("resources", name, "cache"),
                "a resource with an `author` is not cached: it shows its owner's profile as "
                "the caller sees it",
                "remove `cache` from this resource",
            )
        taken[author] = "the author field"
    views = body.get("views")
    if not isinstance(views, dict):
        return
    follows = isinstance(profile, dict) and isinstance(profile.get("follow"), dict)
    actions = body.get("actions") if isinstance(body.get("actions"), dict) else {}
    lookup = fields.get(body.get("lookup") or "")
    for view in views:
        at = ("resources", name, "views", view)
        if not isinstance(view, str):
            continue
        if not follows:
            report(
                at,
                "a `followed` view lists the records of accounts the caller follows, "
                "and `auth.profile.follow` is not set",
                "add `follow: {count: followers_count, mine: following}` to auth.profile",
            )
        elif not _owned_directly(body):
            report(
                at,
                f"a `followed` view lists records by their owner, and {name} is not `owned: true`",
                "add `owned: true` to the resource, or remove the view",
            )
        segment = view.replace("_", "-")
        clash = None
        if view in (body.get("marks") or {}) or view in actions:
            clash = "a mark or action of the same name"
        elif segment == "events" and body.get("events") and body.get("feed") is not False:
            clash = "the change feed `.../events`"
        elif lookup is not None and segment in (lookup.values or []):
            clash = f"the lookup value {segment!r}, which names a {name}"
        if clash:
            report(
                at,
                f"the view {view!r} at `.../{segment}` clashes with {clash}",
                "choose another view name",
            )


def _check_webhooks(
    data: dict[str, Any], resources: dict[str, Any], roles: list[str], report: Any
) -> None:
    """Webhooks need accounts (an admin API), events to send, and name only declared event
    types and a known role."""
    webhooks = data.get("webhooks")
    if not isinstance(webhooks, dict):
        return
    auth = data.get("auth")
    if not (isinstance(auth, dict) and auth.get("users") is True):
        report(
            ("webhooks",),
            "webhooks are managed through an admin API, and the spec has no accounts",
            "add `auth: {users: true, roles: [admin, member]}` to the spec",
        )
    declared = [
        f"{name.lower()}.{event}"
        for name, body in sorted(resources.items())
        if isinstance(body, dict) and isinstance(body.get("events"), list)
        for event in ("created", "updated", "deleted")
        if event in body["events"]
    ]
    if not declared:
        report(
            ("webhooks",),
            "webhooks send the resources' events, and no resource declares any",
            "add `events: [created, updated, deleted]` to the resources whose changes "
            "subscribers may receive",
        )
    chosen = webhooks.get("events")
    for index, name in enumerate(chosen if isinstance(chosen, list) else []):
        if isinstance(name, str) and declared and name not in declared:
            report(
                ("webhooks", "events", index),
                f"the event type {name!r} is not one the resources declare",
                f"choose from: {', '.join(declared)} (or add the event to its resource's `events`)",
            )
    for name, body in sorted(resources.items()):
        custom = body.get("plural") if isinstance(body, dict) else None
        if (custom if isinstance(custom, str) else plural(snake(name))) == "webhooks":
            report(
                ("resources", name),
                f"the resource {name!r} is served at /webhooks, where the webhooks' admin API is",
                "set a different `plural:` on the resource",
            )
    allow = webhooks.get("allow")
    if isinstance(auth, dict) and isinstance(allow, str) and allow not in roles:
        report(
            ("webhooks", "allow"),
            f"the role {allow!r} that manages webhooks is not one of auth.roles",
            f"add {allow!r} to auth.roles or set webhooks.allow to one of: "
            f"{', '.join(roles) or 'none yet'}",
        )


DAY_SECONDS = 86400
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _check_cache(data: dict[str, Any], resources: dict[str, Any], report: Any) -> None:
    """A cache TTL over a day (a stale answer that long is a bug, not a cache), and
    `cache: false` with no service default to opt out of."""
    api = data.get("api")
    default = api.get("cache") if isinstance(api, dict) else None
    places: list[tuple[tuple[Any, ...], Any]] = [(("api", "cache"), default)]
    for name, body in resources.items():
        if isinstance(body, dict) and "cache" in body:
            places.append((("resources", name, "cache"), body["cache"]))
            if body["cache"] is False and not isinstance(default, dict):
                report(
                    ("resources", name, "cache"),
                    f"`cache: false` opts {name} out of a service cache, but api.cache sets none",
                    "remove `cache: false` (resources are not cached unless api.cache or their "
                    "own `cache: {ttl}` says so)",
                )
    for path, cache in places:
        ttl = cache.get("ttl") if isinstance(cache, dict) else None
        valid = isinstance(ttl, str) and re.fullmatch(r"[1-9][0-9]*[smhd]", ttl)
        if valid and int(ttl[:-1]) * _UNIT_SECONDS[ttl[-1]] > DAY_SECONDS:
            report(
                (*path, "ttl"),
                f"cache ttl {ttl} is longer than a day",
                "use at most 1d (e.g. 60s, 5m, 1h): a cache bounds how stale an answer can be "
                "after a write it could not see",
            )


def _check_relation_options(
    data: dict[str, Any],
    resources: dict[str, Any],
    all_fields: dict[str, dict[str, FieldSpec | None]],
    report: Any,
) -> None:
    """`by`, `create_missing` and `embed` of ref and many fields: a `by` field names exactly
    one target, `create_missing` can create a target from that value alone, and an embedded
    target is one every reader of this resource may read."""
    api = data.get("api")
    cached_by_default = isinstance(api, dict) and isinstance(api.get("cache"), dict)
    has_auth = isinstance(data.get("auth"), dict)
    for name, fields in all_fields.items():
        body = resources.get(name)
        for field_name, spec in fields.items():
            if spec is None or spec.type not in ("ref", "many"):
                continue
            path = ("resources", name, "fields", field_name)
            target = resources.get(spec.to or "")
            target_fields = all_fields.get(spec.to or "")
            if spec.by is not None and target_fields is not None:
                _check_by(spec, target_fields, (*path, "by"), report)
            if spec.create_missing:
                if spec.by is None:
                    report(
                        (*path, "create_missing"),
                        "create_missing creates targets from the values of `by`, and this "
                        "field has no `by`",
                        "add `by: <unique field of the target>`, or remove create_missing",
                    )
                elif target_fields is not None and isinstance(target, dict):
                    _check_create_missing(spec, target, target_fields, path, report)
                    target_cache = target.get("cache", None)
                    if isinstance(target_cache, dict) or (
                        cached_by_default and target_cache is not False
                    ):
                        report(
                            (*path, "create_missing"),
                            f"{spec.to} is cached, and the records create_missing adds would "
                            "not show in its cached lists",
                            f"turn the cache off for {spec.to} (`cache: false`), or remove "
                            "create_missing",
                        )
            if spec.embed and isinstance(target, dict) and target_fields is not None:
                _check_embedded(spec, target, target_fields, (*path, "embed"), report)
            readable = isinstance(target, dict) and isinstance(body, dict)
            parent = _through(body) == field_name  # its owner is the target's owner
            if spec.embed and has_auth and readable and not _reads_cover(target, body, parent):
                report(
                    (*path, "embed"),
                    f"embedding {spec.to} would show its records to callers who may not "
                    f"read them: {name} is readable more widely than {spec.to}",
                    f"give {spec.to} a `read` permission at least as wide as {name}'s "
                    "`read` and `list`, or remove `embed`",
                )
            if (spec.by is not None or spec.embed) and isinstance(body, dict):
                cache = body.get("cache", None)
                if isinstance(cache, dict) or (cached_by_default and cache is not False):
                    report(
                        (*path, "embed" if spec.embed else "by"),
                        f"a cached {name} would keep answering with the old "
                        f"{'record' if spec.embed else 'value'} of a changed {spec.to}",
                        f"turn the cache off for {name} (`cache: false`), or remove "
                        f"`{'embed' if spec.embed else 'by'}`",
                    )


def _check_embedded(
    spec: FieldSpec,
    target: dict[str, Any],
    target_fields: dict[str, FieldSpec | None],
    path: tuple[Any, ...],
    report: Any,
) -> None:
    """An embedded target is shown one level deep: it embeds nothing itself, and has no marks
    (whose counts and the caller's own marks are read with its own records only)."""
    embeds = [f for f, t in target_fields.items() if t is not None and t.embed]
    if embeds:
        report(
            path,
            f"{spec.to} embeds {', '.join(embeds)} itself: embedding goes one level deep",
            f"remove `embed` here or from {spec.to}.{embeds[0]}",
        )
    if isinstance(target.get("marks"), dict) and target["marks"]:
        report(
            path,
            f"{spec.to} has marks, which an embedded record does not carry",
            f"remove `embed` (send the {spec.to}'s id or `by` value)",
        )


def _check_by(
    spec: FieldSpec, target: dict[str, FieldSpec | None], path: tuple[Any, ...], report: Any
) -> None:
    by = spec.by or ""
    if by not in target:
        usable = [
            f
            for f, t in target.items()
            if t is not None and t.type in LOOKUP_TYPES and t.unique and t.required
        ]
        fix = _choose(by, usable) if usable else f"give {spec.to} a unique, required field"
        report(path, f"`by: {by}` is not a field of {spec.to}", fix)
        return
    field = target[by]
    if field is None:
        return
    if field.type not in LOOKUP_TYPES:
        report(
            path,
            f"{_a(field.type)} field cannot name {spec.to} records (by: {by})",
            f"use a field of type {', '.join(LOOKUP_TYPES)}",
        )
    missing = [flag for flag in ("unique", "required") if not getattr(field, flag)]
    if missing:
        report(
            path,
            f"{spec.to}.{by} is not {' and '.join(missing)}: a value must name exactly one "
            f"{spec.to}",
            f"add {', '.join(f'`{flag}: true`' for flag in missing)} to {spec.to}.{by}",
        )
    hiding = [flag for flag in ("write_only", "hidden") if getattr(field, flag)]
    if hiding:
        report(
            path,
            f"{spec.to}.{by} is {hiding[0]}: clients must read the values that name records",
            f"remove `{hiding[0]}: true` from {spec.to}.{by}, or remove `by`",
        )


def _check_create_missing(
    spec: FieldSpec,
    target: dict[str, Any],
    target_fields: dict[str, FieldSpec | None],
    path: tuple[Any, ...],
    report: Any,
) -> None:
    where = (*path, "create_missing")
    if spec.type != "many":
        return  # `create_missing` does not apply to a ref (reported with the options)
    if target.get("owned"):
        report(
            where,
            f"{spec.to} is owned: a record created from a value alone would belong to "
            "whoever named it first",
            f"remove create_missing (create {spec.to} records first), or make {spec.to} not owned",
        )
    needs = [
        f
        for f, t in target_fields.items()
        if t is not None
        and f != spec.by
        and t.required
        and not ("default" in t.given() and t.default is not None)
    ]
    if needs:
        report(
            where,
            f"a {spec.to} needs {', '.join(needs)} besides {spec.by}: it cannot be created "
            f"from a {spec.by} alone",
            f"give {', '.join(needs)} a default, or remove create_missing",
        )


# Who may read a resource's records, widest first: a reader of the first kind is one of the
# second, and so on (the admin role reads everything).
def _readers(body: dict[str, Any], actions: tuple[str, ...]) -> set[str]:
    permissions = body.get("permissions")
    found: set[str] = set()
    for action in actions:
        who = permissions.get(action) if isinstance(permissions, dict) else None
        found |= set(who if isinstance(who, list) else [who] if isinstance(who, str) else [])
    return found


def _reads_cover(target: dict[str, Any], body: dict[str, Any], parent: bool = False) -> bool:
    """Whether every caller who may read or list ``body``'s records may read ``target``'s
    (``parent``: the target is the record ``body``'s records are owned through, so their owner
    is its owner)."""
    readers = _readers(target, ("read",))
    if "anyone" in readers:
        return True
    for entry in _readers(body, ("read", "list")):
        if entry == "anyone":
            return False
        if "authenticated" in readers:
            continue
        if entry == "owner" and parent and "owner" in readers:
            continue
        if entry in ("authenticated", "owner") or entry not in readers:
            return False
    return True


MAX_SUBSCRIPTION = 40  # `<package>.<subscription>` names a queue and a durable consumer
SUBSCRIPTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# The members a page has besides its records and their total (either pagination style).
PAGE_MEMBERS = frozenset({"next_cursor", "limit", "offset", "total"})


def _check_envelopes(data: dict[str, Any], resources: dict[str, Any], report: Any) -> None:
    """`api.envelope`: not with bare-array pages; the members records are wrapped in name one
    resource each and do not clash with a page's other members."""
    api = data.get("api") if isinstance(data.get("api"), dict) else {}
    on = api.get("envelope") is True
    pagination = api.get("pagination")
    if on and isinstance(pagination, dict) and pagination.get("shape") == "array":
        report(
            ("api", "envelope"),
            "api.envelope with pagination.shape: array: a bare array has no member to wrap "
            "its records in",
            "drop `envelope: true`, or `shape: array` (pages are then enveloped objects)",
        )
    taken: dict[str, tuple[str, str]] = {}  # member -> (resource, one or many)
    for name, body in resources.items():
        if not isinstance(body, dict):
            continue
        given = body.get("envelope") if isinstance(body.get("envelope"), dict) else None
        if given is not None and not on:
            report(
                ("resources", name, "envelope"),
                f"{name} names its envelope, but api.envelope is not true: nothing is wrapped",
                "add `envelope: true` under api, or remove this `envelope`",
            )
            continue
        if not on:
            continue
        plural_name = body.get("plural") if isinstance(body.get("plural"), str) else None
        one_given = given.get("one") if given else None
        many_given = given.get("many") if given else None
        if not all(isinstance(n, str | None) for n in (one_given, many_given)):
            continue  # the model reports it
        one, many, count = envelope_names(name, one_given, many_given, plural_name)
        where = {"one": ("resources", name, "envelope", "one")}
        where["many"] = ("resources", name, "envelope", "many")
        if given is None or "one" not in given:
            where["one"] = ("resources", name)
        if given is None or "many" not in given:
            where["many"] = ("resources", name)
        if one == many:
            report(
                where["many"],
                f"{name}'s envelope names one record and a page's records alike ({one!r})",
                "give `envelope: {one, many}` two different names",
            )
        if many in PAGE_MEMBERS:
            report(
                where["many"],
                f"{name}'s page records member {many!r} clashes with the page's own "
                f"`{many}` member",
                "name it otherwise with `envelope: {many: ...}`",
            )
        for kind, member in (("one", one), ("many", many), ("count", count)):
            other = taken.get(member)
            if other is not None and other[0] != name:
                report(
                    where["many" if kind == "count" else kind],
                    f"envelope member {member!r} of {name} is already {other[0]}'s "
                    f"({other[1]}): answers of the two would look alike",
                    f"name {name}'s envelope otherwise with `envelope: {{{kind}: ...}}`"
                    if kind != "count"
                    else "name one of their `many` otherwise",
                )
            taken.setdefault(member, (name, kind))


def _check_consumes(data: dict[str, Any], resources: dict[str, Any], report: Any) -> None:
    """Subscriptions: a name that is a Python module; a pattern naming one of this service's
    resources takes events that resource publishes; no pattern twice."""
    consumes = data.get("consumes")
    if not isinstance(consumes, dict):
        return
    service = data.get("service")
    own = service.get("name") if isinstance(service, dict) else None
    published = {
        name.lower(): (name, body.get("events") if isinstance(body.get("events"), list) else [])
        for name, body in resources.items()
        if isinstance(name, str) and isinstance(body, dict)
    }
    for name, body in consumes.items():
        path = ("consumes", name)
        if not isinstance(name, str) or not SUBSCRIPTION_NAME.match(name):
            report(
                path,
                f"subscription name {name!r} is not snake_case",
                "use lower-case letters, digits and _, starting with a letter (e.g. index_books)",
            )
        elif keyword.iskeyword(name) or len(name) > MAX_SUBSCRIPTION:
            report(
                path,
                f"subscription {name!r} cannot name a Python module of at most "
                f"{MAX_SUBSCRIPTION} characters",
                "choose another snake_case name (e.g. index_books)",
            )
        if not isinstance(body, dict):
            continue
        patterns = body.get("events")
        if not isinstance(patterns, list):
            continue
        foreign = body.get("from") not in (None, own)
        seen: set[str] = set()
        for index, pattern in enumerate(patterns):
            where = (*path, "events", index)
            if not isinstance(pattern, str) or "." not in pattern:
                continue  # the model reports it
            if pattern in seen:
                report(where, f"{pattern!r} is listed twice", "list each event type once")
            seen.add(pattern)
            prefix, event = pattern.split(".", 1)
            if foreign or prefix == "*":
                continue  # another service's events: this spec cannot know them
            if prefix not in published:
                report(
                    where,
                    f"{pattern!r} names no resource of this service ({prefix})",
                    "set `from:` to the service that publishes it, or name one of "
                    + ", ".join(sorted(published)),
                )
                continue
            resource, events = published[prefix]
            if not events:
                report(
                    where,
                    f"{pattern!r} names {resource}, which publishes no events",
                    f"add `events: [created, updated, deleted]` (those you need) to {resource}, "
                    "or set `from:` to the service that publishes them",
                )
            elif event != "*" and event not in events:
                report(
                    where,
                    f"{resource} publishes no {event!r} event (its events: {', '.join(events)})",
                    f"add {event} to {resource}'s `events`, or take one of "
                    + ", ".join(f"{prefix}.{e}" for e in events),
                )


def _check_camel_names(
    fields_by_resource: dict[str, dict[str, FieldSpec | None]], report: Any
) -> None:
    """With camelCase on the wire, two fields (or a field and an automatic one) of a resource
    must not come out as one name (`isbn_13` and `isbn13`)."""
    for resource, fields in fields_by_resource.items():
        taken = {camel(n): n for n in ("id", "created_at", "updated_at", "version")}
        for name in fields:
            wire = camel(name)
            if taken.get(wire, name) != name:
                report(
                    ("resources", resource, "fields", name),
                    f"{name!r} is {wire!r} on the wire, as {taken[wire]!r} is",
                    "rename one of them",
                )
            taken.setdefault(wire, name)


def _check_required_cycles(
    fields_by_resource: dict[str, dict[str, FieldSpec | None]], report: Any
) -> None:
    """A cycle of required references (A needs a B, B needs an A): no row on it could ever be
    created. One problem per cycle, at its first reference (cycles through optional references
    are fine: the foreign key is added after both tables, rows are linked afterwards)."""
    edges = {
        name: sorted(
            (field, spec.to)
            for field, spec in fields.items()
            if spec is not None
            and spec.type == "ref"
            and spec.required
            and spec.to in fields_by_resource
            and spec.to != name  # a required self-reference is reported with the field
        )
        for name, fields in fields_by_resource.items()
    }
    reported: set[frozenset[str]] = set()
    for start in sorted(edges):
        path = _required_path(start, start, edges, [])
        if path is None or frozenset(r for r, _f, _t in path) in reported:
            continue
        reported.add(frozenset(r for r, _f, _t in path))
        chain = ", ".join(f"{r}.{f} -> {t}" for r, f, t in path)
        resource, field, _target = path[0]
        report(
            ("resources", resource, "fields", field),
            f"required references form a cycle ({chain}): the first row of "
            f"{' or '.join(sorted({r for r, _f, _t in path}))} could never be created",
            "make one reference of the cycle optional (required: false); "
            "rows are then created first and linked afterwards",
        )


def _owned_directly(body: Any) -> bool:
    """`owned: true`, or `owned: {existing_rows: email}`: the resource has an `owner` column."""
    owned = body.get("owned") if isinstance(body, dict) else None
    return owned is True or (isinstance(owned, dict) and "existing_rows" in owned)


def _through(body: Any) -> str | None:
    """The field a resource is owned through (`owned: {through: field}`), if it names one."""
    owned = body.get("owned") if isinstance(body, dict) else None
    through = owned.get("through") if isinstance(owned, dict) else None
    return through if isinstance(through, str) else None


def _check_owned_through(
    resources: dict[str, Any],
    fields_by_resource: dict[str, dict[str, FieldSpec | None]],
    report: Any,
) -> None:
    """`owned: {through: field}`: a required ref to a resource that is owned itself (directly or
    through its own parent), the chain ending at an `owned: true` resource; anonymous callers
    own nothing to create under."""
    reported: set[frozenset[str]] = set()
    for name, body in resources.items():
        through = _through(body)
        if through is None:
            continue
        path = ("resources", name, "owned", "through")
        fields = fields_by_resource.get(name, {})
        refs = [f for f, spec in fields.items() if spec is not None and spec.type == "ref"]
        spec = fields.get(through)
        if through not in fields:
            report(
                path,
                f"`through: {through}` is not a field of {name}",
                _choose(through, refs) if refs else f"add a required ref field to {name} first",
            )
            continue
        if spec is None:
            continue  # the field itself is reported
        if spec.type != "ref":
            report(
                path,
                f"`through: {through}` names {_a(spec.type)} field; ownership goes through a ref",
                _choose(through, refs) if refs else f"name a required ref field of {name}",
            )
            continue
        if not spec.required:
            report(
                path,
                f"`{through}` is optional: a {name} without one would belong to nobody",
                f"make it required (`{through}: {{type: ref, to: {spec.to}, required: true}}`)",
            )
        target = resources.get(spec.to) if isinstance(spec.to, str) else None
        if not isinstance(target, dict):
            continue  # a dangling `to:` is reported with the field
        if not _owned_directly(target) and _through(target) is None:
            report(
                path,
                f"{spec.to} is not owned: {name} records would belong to nobody",
                f"add `owned: true` to {spec.to} (or `owned: {{through: <ref>}}`), "
                "or make this resource `owned: true` itself",
            )
            continue
        chain, at = [name], spec.to
        while at not in chain and _through(resources.get(at)) is not None:
            chain.append(at)
            next_spec = fields_by_resource.get(at, {}).get(_through(resources[at]) or "")
            at = next_spec.to if next_spec is not None and next_spec.type == "ref" else None
            if not isinstance(at, str) or not isinstance(resources.get(at), dict):
                break
        if at == name and frozenset(chain) not in reported:
            reported.add(frozenset(chain))
            report(
                path,
                f"ownership goes round in a circle ({' -> '.join([*chain, name])}): "
                "no account owns these records",
                f"make one of {', '.join(sorted(chain))} `owned: true`",
            )
        permissions = body.get("permissions") if isinstance(body, dict) else None
        create = permissions.get("create") if isinstance(permissions, dict) else None
        if create == "anyone" or (isinstance(create, list) and "anyone" in create):
            report(
                ("resources", name, "permissions", "create"),
                f"an anonymous caller owns no {spec.to} to create a {name} under",
                "use `authenticated` or a role for create",
            )


def _required_path(
    start: str, at: str, edges: dict[str, list[tuple[str, str]]], seen: list[str]
) -> list[tuple[str, str, str]] | None:
    """The first path of required references from ``at`` back to ``start``, if any."""
    for field, target in edges.get(at, []):
        if target == start:
            return [(at, field, target)]
        if target in seen or target < start:
            continue  # cycles through an earlier resource were found from it
        rest = _required_path(start, target, edges, [*seen, target])
        if rest is not None:
            return [(at, field, target), *rest]
    return None


def _check_service(data: dict[str, Any], report: Any) -> None:
    service = data.get("service")
    name = service.get("name") if isinstance(service, dict) else None
    # the pattern itself is checked by the model; here what a pattern cannot say
    if isinstance(name, str) and SERVICE_NAME.match(name) and (bad := service_name_problem(name)):
        report(("service", "name"), *bad)


def _check_api(data: dict[str, Any], report: Any) -> None:
    api = data.get("api")
    errors = api.get("errors") if isinstance(api, dict) else None
    members = errors.get("members") if isinstance(errors, dict) else None
    for name in members if isinstance(members, dict) else ():
        if name in PROBLEM_MEMBERS:
            report(
                ("api", "errors", "members", name),
                f"{name!r} is a member every problem document already has",
                "name the extension member something else (e.g. code, message)",
            )
    pagination = api.get("pagination") if isinstance(api, dict) else None
    if not isinstance(pagination, dict):
        return
    default, most = pagination.get("default_limit", 20), pagination.get("max_limit", 100)
    if isinstance(default, int) and isinstance(most, int) and default > most:
        report(
            ("api", "pagination", "default_limit"),
            f"default_limit {default} is larger than max_limit {most}",
            "make default_limit at most max_limit",
        )


def _check_auth(data: dict[str, Any], report: Any) -> None:
    auth = data.get("auth")
    if not isinstance(auth, dict) or auth.get("users") is not True:
        _check_marks_need_accounts(data, report)
    if not isinstance(auth, dict):
        _check_no_auth_needed(data, report)
        return
    roles = _roles(data)
    default = auth.get("default_role")
    admin = auth.get("admin_role", "admin")
    if isinstance(default, str) and default not in roles:
        report(
            ("auth", "default_role"),
            f"default_role {default!r} is not one of auth.roles",
            f"add {default!r} to auth.roles or choose one of: {', '.join(roles) or 'none yet'}",
        )
    if default == admin:
        report(
            ("auth", "default_role"),
            "new accounts would get the admin role",
            "choose a default_role with fewer rights than admin_role",
        )
    if not auth.get("users") and auth.get("api_keys"):
        report(
            ("auth", "api_keys"),
            "API keys belong to accounts, and `users` is not on",
            "add `users: true` to auth",
        )
    if not auth.get("users"):
        if "profile" in auth:
            report(
                ("auth", "profile"),
                "profiles belong to accounts, and `users` is not on",
                "add `users: true` to auth",
            )
        return
    if isinstance(auth.get("profile"), dict):
        _check_profile(auth["profile"], report)
    schemes = auth.get("token_schemes")
    if isinstance(schemes, list) and schemes and "Bearer" not in schemes:
        report(
            ("auth", "token_schemes"),
            "the Bearer scheme is left out, and /auth/token issues OAuth2 bearer tokens",
            "list Bearer too: token_schemes: [Bearer, Token]",
        )
    for name, body in (data.get("resources") or {}).items():
        if isinstance(name, str) and module_for(name) == "auth":
            report(
                ("resources", name),
                f"the resource name {name!r} clashes with the generated `auth` package",
                "rename the resource (e.g. Authorization)",
            )
        elif isinstance(name, str) and (
            clash := account_clash(name, body, isinstance(auth.get("profile"), dict))
        ):
            report(
                ("resources", name),
                f"the resource {name!r} clashes with the accounts `auth.users` generates: {clash}",
                "rename the resource (e.g. Member or Person), or set a different `plural:`",
            )
    if isinstance(admin, str) and admin not in roles:
        where = ("auth", "admin_role") if "admin_role" in auth else ("auth",)
        report(
            where,
            f"the admin role {admin!r} is not one of auth.roles",
            f"add {admin!r} to auth.roles, or set admin_role to one of: "
            f"{', '.join(roles) or 'none yet'}",
        )
    elif default is None and not [r for r in roles if r != admin]:
        report(
            ("auth", "roles"),
            "no role is left for new accounts besides the admin role",
            "add a role such as `member` to auth.roles",
        )


# The columns an account has besides its profile fields, and what a profile shows.
ACCOUNT_FIELDS = (
    "id",
    "email",
    "password",
    "password_hash",
    "role",
    "is_active",
    "created_at",
    "updated_at",
    "version",
)
PROFILE_TYPES = (
    "string",
    "text",
    "slug",
    "url",
    "email",
    "int",
    "bigint",
    "bool",
    "enum",
    "date",
    "datetime",
    "float",
    "uuid",
    "time",
)
LOOKUP_BASES = ("string", "text")


def _check_profile(profile: dict[str, Any], report: Any) -> None:
    """`auth.profile`: extra account fields, one of them naming profiles in URLs."""
    at = ("auth", "profile")
    typed = _typed_fields(profile)
    for name, spec in typed.items():
        path = (*at, "fields", name)
        if name in ACCOUNT_FIELDS:
            report(
                path,
                f"`{name}` is a field every account has already",
                "rename the profile field (e.g. display_name)",
            )
            continue
        _check_field_name(name, path, report)
        if spec is None:
            continue
        if spec.type not in PROFILE_TYPES:
            report(
                (*path, "type"),
                f"a profile field cannot be {_a(spec.type)} field",
                f"use one of: {', '.join(PROFILE_TYPES)}",
            )
            continue
        _check_field("User", name, spec, {}, path, report)
    lookup = profile.get("lookup")
    if isinstance(lookup, str):
        spec = typed.get(lookup)
        if lookup not in typed:
            report(
                (*at, "lookup"),
                f"lookup {lookup!r} is not one of the profile fields",
                f"choose one of: {', '.join(typed) or 'none yet'}",
            )
        elif spec is not None and (
            FIELD_TYPES[spec.type].base not in LOOKUP_BASES or not spec.unique or not spec.required
        ):
            report(
                (*at, "lookup"),
                f"the lookup field {lookup!r} must be a unique, required string or slug field",
                f"write e.g. `{lookup}: {{type: string, max_length: 40, required: true, "
                "unique: true}`",
            )
    follow = profile.get("follow")
    if isinstance(follow, dict):
        names = [follow.get(k) for k in ("count", "mine") if isinstance(follow.get(k), str)]
        for key in ("count", "mine"):
            name = follow.get(key)
            if not isinstance(name, str):
                continue
            if name in typed or name in ACCOUNT_FIELDS:
                report(
                    (*at, "follow", key),
                    f"the follow field {name!r} clashes with a field of the profile",
                    "choose another name (e.g. followers_count, following)",
                )
            elif names.count(name) > 1:
                report(
                    (*at, "follow", key),
                    f"count and mine are both named {name!r}",
                    "give them different names (e.g. followers_count and following)",
                )


# What `auth.users` adds: tables, URL segments and (by singular name) operation ids.
_ACCOUNT_TABLES = ("users", "refresh_tokens", "api_keys", "audit_events", "account_follows")
_ACCOUNT_SINGULARS = ("user", "refresh_token", "api_key", "audit_event")


def account_clash(name: str, body: Any, profiles: bool = False) -> str | None:
    table = snake(name)
    custom = body.get("plural") if isinstance(body, dict) else None
    segment = custom if isinstance(custom, str) else plural(table)
    if table in _ACCOUNT_TABLES:
        return f"both use table {table!r}"
    if table in _ACCOUNT_SINGULARS:
        return f"both have operations named like get_{table}"
    if segment in (*_ACCOUNT_TABLES, "auth", *(("profiles",) if profiles else ())):
        return f"both are served at /{segment.replace('_', '-')}"
    return None


def _check_marks_need_accounts(data: dict[str, Any], report: Any) -> None:
    """A mark is an account's: without accounts (`auth.users`), nobody can set one."""
    resources = data.get("resources")
    for name, body in resources.items() if isinstance(resources, dict) else []:
        if isinstance(body, dict) and isinstance(body.get("marks"), dict) and body["marks"]:
            report(
                ("resources", name, "marks"),
                "marks belong to the accounts that set them: they need accounts",
                "add `auth: {users: true, roles: [admin, member]}` or remove `marks`",
            )


def _check_no_auth_needed(data: dict[str, Any], report: Any) -> None:
    """Without accounts, nobody is authenticated: owners and roles cannot be checked."""
    resources = data.get("resources")
    if not isinstance(resources, dict):
        return
    for name, body in resources.items():
        if not isinstance(body, dict):
            continue
        if body.get("owned") is True or isinstance(body.get("owned"), dict):
            report(
                ("resources", name, "owned"),
                "an owned resource needs accounts to own it",
                "add `auth: {users: true, roles: [admin, member]}` or remove `owned`",
            )
        actions = body.get("actions")
        for action, raw in actions.items() if isinstance(actions, dict) else []:
            allow = raw.get("allow") if isinstance(raw, dict) else None
            entries = allow if isinstance(allow, list) else [allow] if allow else []
            if any(isinstance(e, str) and e != "anyone" for e in entries):
                report(
                    ("resources", name, "actions", action, "allow"),
                    "permissions other than `anyone` need accounts",
                    "add `auth: {users: true, roles: [...]}` to the spec, or remove `allow`",
                )
        permissions = body.get("permissions")
        for action, who in (permissions or {}).items() if isinstance(permissions, dict) else []:
            entries = who if isinstance(who, list) else [who]
            if any(isinstance(e, str) and e != "anyone" for e in entries):
                report(
                    ("resources", name, "permissions", action),
                    "permissions other than `anyone` need accounts",
                    "add `auth: {users: true, roles: [...]}` to the spec",
                )


def _roles(data: dict[str, Any]) -> list[str]:
    auth = data.get("auth")
    roles = auth.get("roles") if isinstance(auth, dict) else None
    return [r for r in roles if isinstance(r, str)] if isinstance(roles, list) else []


def _typed_fields(body: dict[str, Any]) -> dict[str, FieldSpec | None]:
    """Each field parsed on its own; None where the field itself is malformed."""
    fields = body.get("fields")
    if not isinstance(fields, dict):
        return {}
    typed: dict[str, FieldSpec | None] = {}
    for name, raw in fields.items():
        try:
            typed[name] = FieldSpec.model_validate(raw)
        except ValidationError:
            typed[name] = None
    return typed


def _check_resource_names(resources: dict[str, Any], report: Any) -> None:
    tables: dict[str, str] = {}
    paths: dict[str, str] = {}
    for name, body in resources.items():
        path = ("resources", name)
        if not RESOURCE_NAME.match(name):
            report(
                path,
                f"resource name {name!r} is not PascalCase",
                "start with a capital letter, then letters and digits only (e.g. BookReview)",
            )
            continue
        declared = body.get("table") if isinstance(body, dict) else None
        table = declared if isinstance(declared, str) else snake(name)
        if table in tables:
            report(
                path,
                f"resource {name!r} clashes with {tables[table]!r}: both become table {table!r}",
                "rename one of them",
            )
        tables[table] = name
        custom = body.get("plural") if isinstance(body, dict) else None
        segment = custom if isinstance(custom, str) else plural(snake(name))
        if segment in paths:
            report(
                path,
                f"resource {name!r} clashes with {paths[segment]!r}: both are served at /{segment}",
                "set a different `plural:` on one of them",
            )
        paths[segment] = name
    renamed: dict[str, str] = {}
    for name, body in resources.items():
        old = body.get("renamed_from") if isinstance(body, dict) else None
        if not isinstance(old, str):
            continue
        path = ("resources", name, "renamed_from")
        if old == name:
            report(path, "a resource cannot be renamed from itself", "remove it")
        elif old in resources:
            report(
                path,
                f"renamed_from: {old} names a resource that is still in the spec",
                f"remove `renamed_from` or the resource {old!r}",
            )
        elif old in renamed:
            report(
                path,
                f"{renamed[old]} is already renamed from {old!r}",
                "a resource can be renamed into one resource only",
            )
        renamed.setdefault(old, name)
    for name, body in resources.items():
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict) or not RESOURCE_NAME.match(name):
            continue
        for field_name, raw in fields.items():
            if isinstance(raw, dict) and raw.get("type") == "many":
                given = raw.get("link")
                own = body.get("table")
                link = f"{own if isinstance(own, str) else snake(name)}_{field_name}"
                if isinstance(given, dict) and isinstance(given.get("table"), str):
                    link = given["table"]
                if link in tables:
                    report(
                        ("resources", name, "fields", field_name),
                        f"the link table {link!r} of this many-to-many field clashes with "
                        f"resource {tables[link]!r}",
                        "rename the field or the resource",
                    )


def _check_resource(
    name: str,
    body: dict[str, Any],
    all_fields: dict[str, dict[str, FieldSpec | None]],
    roles: list[str],
    report: Any,
    existing_database: bool = False,
) -> None:
    base = ("resources", name)
    fields = all_fields.get(name, {})
    columns: dict[str, str] = {}
    key = body.get("primary_key")
    key = key.get("column", "id") if isinstance(key, dict) else key
    automatic = {str(key or "id"): "primary key"}
    lacks = body.get("lacks") if isinstance(body.get("lacks"), list) else []
    automatic |= {n: f"automatic `{n}`" for n in AUTOMATIC_FIELDS[1:] if n not in lacks}
    if lacks and not existing_database:
        report(
            (*base, "lacks"),
            "`lacks` describes an existing table, but service.existing_database is not true",
            "set `existing_database: true` under `service:` (the tables exist already), or "
            "remove `lacks`",
        )
    for field_name, spec in fields.items():
        path = (*base, "fields", field_name)
        _check_field_name(field_name, path, report)
        if spec is None:
            continue
        column = f"{field_name}_id" if spec.type == "ref" else field_name
        column = spec.column or column
        if spec.type == "many" and spec.column:
            report(
                (*path, "column"),
                "a many field has no column: its values live in a link table",
                "remove `column`; name an existing link table with `link: {table, column, "
                "target_column}`",
            )
        if spec.type != "many" and column in automatic and field_name not in AUTOMATIC_FIELDS:
            report(
                (*path, "column") if spec.column else path,
                f"column {column!r} is the table's {automatic[column]}",
                "name another column, or leave it to the automatic field",
            )
        if column in columns and columns[column] != field_name:
            report(
                path,
                f"field {field_name!r} clashes with {columns[column]!r}: "
                f"both use column {column!r}",
                "rename one of them",
            )
        if field_name == "owner" and _owned_directly(body):
            report(
                path,
                "an owned resource gets its `owner` automatically",
                "remove this field or rename it",
            )
        columns[column] = field_name
        _check_renamed_from(field_name, spec, fields, path, report)
        _check_field(name, field_name, spec, all_fields, path, report, existing_database)
    _check_field_lists(name, body, fields, report)
    _check_lookup(name, body, fields, report)
    _check_feed(name, body, fields, report)
    _check_permissions(body, roles, base, report)
    if isinstance(body.get("actions"), dict):
        _check_actions(name, body, fields, all_fields, roles, report)
    if isinstance(body.get("marks"), dict):
        _check_marks(name, body, fields, roles, report)


# The field types whose values can name a record in a URL segment (`lookup:`): an email may
# hold a `/`, which no path segment can carry; the others are not exact or not single values.
LOOKUP_TYPES = ("string", "slug", "uuid", "int", "bigint", "enum")


def _check_lookup(
    name: str, body: dict[str, Any], fields: dict[str, FieldSpec | None], report: Any
) -> None:
    """`lookup` names a field whose value identifies one record and can travel in a URL."""
    lookup = body.get("lookup")
    if lookup is None or not isinstance(lookup, str):
        return
    path = ("resources", name, "lookup")
    usable = [
        f
        for f, spec in fields.items()
        if spec is not None and spec.type in LOOKUP_TYPES and spec.unique and spec.required
    ]
    if lookup not in fields:
        fix = _choose(lookup, usable) if usable else "name a unique, required field of " + name
        report(path, f"lookup names {lookup!r}, which is not a field of {name}", fix)
        return
    spec = fields[lookup]
    if spec is None:
        return
    if spec.type not in LOOKUP_TYPES:
        report(
            path,
            f"a {spec.type} field cannot name records in URLs (lookup: {lookup})",
            f"use a field of type {', '.join(LOOKUP_TYPES)}, or remove `lookup` (URLs use ids)",
        )
    missing = [flag for flag in ("unique", "required") if not getattr(spec, flag)]
    if spec.type == "slug" and spec.from_ is not None and "required" in missing:
        missing.remove("required")  # a derived slug always has a value
    if missing:
        report(
            path,
            f"lookup field {lookup!r} is not {' and '.join(missing)}: a URL must name "
            "exactly one record",
            f"add {', '.join(f'`{flag}: true`' for flag in missing)} to the field {lookup!r}",
        )
    if not spec.in_list:
        report(
            ("resources", name, "fields", lookup, "in_list"),
            f"lookup field {lookup!r} is left out of lists (`in_list: false`): clients find a "
            "record's URL by it",
            "drop `in_list: false`",
        )
    # (a required read_only field is refused already: nothing could be created)
    hiding = [flag for flag in ("write_only", "hidden") if getattr(spec, flag)]
    if hiding:
        report(
            path,
            f"lookup field {lookup!r} is {hiding[0]}: clients must read and set the value "
            "that names a record",
            f"remove `{hiding[0]}: true` from the field {lookup!r}, or remove `lookup`",
        )
    if lookup == "target_id" and any(s and s.type == "many" for s in fields.values()):
        report(
            path,
            "lookup field 'target_id' clashes with the `{target_id}` of the many sub-routes",
            "rename the field",
        )


def _check_feed(
    name: str, body: dict[str, Any], fields: dict[str, FieldSpec | None], report: Any
) -> None:
    """`feed` streams the outbox (it needs `events`), at `.../events`, which a lookup value
    must not take."""
    feed, events = body.get("feed"), body.get("events")
    if feed is True and not events:
        report(
            ("resources", name, "feed"),
            f"the change feed streams the events of {name}'s changes, but it has no `events`",
            "add `events: [created, updated, deleted]` (or those you need), or remove `feed`",
        )
    lookup = fields.get(body.get("lookup") or "")
    if events and feed is not False and lookup and "events" in (lookup.values or []):
        report(
            ("resources", name, "lookup"),
            f"the lookup value 'events' would name a {name} at `.../events`, the change feed",
            "rename the enum value 'events', or turn the feed off with `feed: false`",
        )


def _check_parents(
    resources: dict[str, Any],
    all_fields: dict[str, dict[str, FieldSpec | None]],
    report: Any,
) -> None:
    """`parent` names a required ref to another resource, whose item URL then serves this
    resource's collection: nothing else of the parent may be served at that URL."""
    for name, body in resources.items():
        if not isinstance(body, dict) or not isinstance(body.get("parent"), str):
            continue
        parent = body["parent"]
        path = ("resources", name, "parent")
        fields = all_fields.get(name, {})
        refs = [f for f, spec in fields.items() if spec is not None and spec.type == "ref"]
        if parent not in fields:
            fix = _choose(parent, refs) if refs else f"add a required ref field to {name}"
            report(path, f"parent names {parent!r}, which is not a field of {name}", fix)
            continue
        spec = fields[parent]
        if spec is None:
            continue
        if spec.type != "ref":
            report(
                path,
                f"parent field {parent!r} is a {spec.type} field: the parent must be a ref",
                "name a required `type: ref` field, or remove `parent`",
            )
            continue
        if spec.to == name:
            report(
                path,
                f"parent field {parent!r} refers to {name} itself: a collection cannot live "
                "under its own records",
                "name a ref to another resource, or remove `parent`",
            )
            continue
        if not spec.required:
            report(
                path,
                f"parent field {parent!r} is not required: every record needs a parent to be "
                "listed under",
                f"add `required: true` to the field {parent!r}, or remove `parent`",
            )
        hiding = [flag for flag in ("write_only", "hidden") if getattr(spec, flag)]
        if hiding:
            report(
                path,
                f"parent field {parent!r} is {hiding[0]}: clients read the parent of a record "
                "and name it in the path",
                f"remove `{hiding[0]}: true` from the field {parent!r}",
            )
        target = resources.get(spec.to) if isinstance(spec.to, str) else None
        if not isinstance(target, dict):
            continue
        custom = body.get("plural")
        segment = kebab(custom if isinstance(custom, str) else plural(snake(name)))
        taken = {
            **{
                kebab(f): f"the many field {f!r}"
                for f, s in all_fields.get(spec.to, {}).items()
                if s is not None and s.type == "many"
            },
            **{
                kebab(a): f"the action {a!r}"
                for a in target.get("actions") or {}
                if isinstance(a, str)
            },
            **{
                kebab(m): f"the mark {m!r}" for m in target.get("marks") or {} if isinstance(m, str)
            },
        }
        if segment in taken:
            report(
                path,
                f"{name} would be served at `/{{key}}/{segment}` under {spec.to}, where "
                f"{taken[segment]} of {spec.to} is served",
                f"rename one of them, or set a different `plural:` on {name}",
            )


def _check_field_name(field_name: str, path: tuple[Any, ...], report: Any) -> None:
    if field_name in AUTOMATIC_FIELDS:
        report(
            path,
            f"`{field_name}` is added to every resource automatically",
            "remove it from the spec (id, created_at, updated_at and version are automatic)",
        )
    elif not FIELD_NAME.match(field_name) or len(field_name) > MAX_FIELD_NAME:
        report(
            path,
            f"field name {field_name!r} is not a lowercase snake_case name",
            "use lowercase letters, digits and single underscores, starting with a letter "
            f"(at most {MAX_FIELD_NAME} characters)",
        )


def _check_renamed_from(
    field_name: str,
    spec: FieldSpec,
    fields: dict[str, FieldSpec | None],
    path: tuple[Any, ...],
    report: Any,
) -> None:
    old = spec.renamed_from
    if old is None:
        return
    if old == field_name:
        report((*path, "renamed_from"), "a field cannot be renamed from itself", "remove it")
    elif old in fields:
        report(
            (*path, "renamed_from"),
            f"renamed_from: {old} names a field that is still in the spec",
            f"remove `renamed_from` or the field {old!r}",
        )
    elif any(
        (other := fields[earlier]) is not None and other.renamed_from == old
        for earlier in list(fields)[: list(fields).index(field_name)]
    ):
        report(
            (*path, "renamed_from"),
            f"another field is already renamed from {old!r}",
            "a field can be renamed into one field only",
        )


def _check_field(
    resource: str,
    name: str,
    spec: FieldSpec,
    all_fields: dict[str, dict[str, FieldSpec | None]],
    path: tuple[Any, ...],
    report: Any,
    existing_database: bool = False,
) -> None:
    ftype = FIELD_TYPES[spec.type]
    given = spec.given()
    for option in sorted(given - allowed_options(spec.type)):
        allowed = sorted(ftype.options) or ["only the common options"]
        report(
            (*path, option),
            f"option `{option}` does not apply to {_a(spec.type)} field",
            f"remove it; {_a(spec.type)} field takes {', '.join(allowed)}",
        )
    if spec.type == "slug" and ("from" in given or "on_change" in given):
        _check_derived(resource, name, spec, all_fields.get(resource, {}), path, report)
    if spec.type in ("ref", "many"):
        _check_relation(resource, spec, all_fields, path, report)
    if spec.type == "enum":
        values = spec.values or []
        if not values:
            report(path, "an enum field needs `values`", "add values: [first, second, ...]")
        elif len(set(values)) != len(values):
            report((*path, "values"), "enum values repeat", "list each value once")
    if spec.type == "decimal":
        precision, scale = decimal_shape(spec.model_dump())
        if scale > precision:
            implied = "" if "scale" in given else "the default "
            report(
                (*path, "scale"),
                f"{implied}scale {scale} is larger than precision {precision}",
                "scale counts the digits after the point and must be at most precision",
            )
    _check_bounds(spec, path, report)
    _check_flags(spec, path, report, existing_database)
    if spec.pattern is not None and (reason := compiles(spec.pattern)):
        report(
            (*path, "pattern"),
            f"the pattern is not a valid regular expression: {reason}",
            "write a Python regular expression; quote it in single quotes: '^[a-z]+$'",
        )
    if "default" in given and spec.default is not None and not _enum_without_values(spec):
        _check_default(spec, path, report)


def _enum_without_values(spec: FieldSpec) -> bool:
    return spec.type == "enum" and not spec.values


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeio" else f"a {word}"


def _check_relation(
    resource: str,
    spec: FieldSpec,
    all_fields: dict[str, dict[str, FieldSpec | None]],
    path: tuple[Any, ...],
    report: Any,
) -> None:
    if not spec.to:
        report(path, f"a {spec.type} field needs `to:` naming a resource", "add to: <Resource>")
        return
    if spec.to not in all_fields:
        known = ", ".join(sorted(all_fields)) or "none"
        report(
            (*path, "to"),
            f"`to: {spec.to}` names no resource in this spec",
            f"use one of the resources defined here: {known}",
        )
        return
    if spec.type != "ref":
        return
    if spec.on_delete == "set_null" and spec.required:
        report(
            (*path, "on_delete"),
            "on_delete: set_null cannot apply to a required relation",
            "make the field optional, or use restrict or cascade",
        )
    if spec.to == resource and spec.required:
        report(
            path,
            "a required reference to its own resource: the first row could never be created",
            "make the self-reference optional (required: false)",
        )


def _check_bounds(spec: FieldSpec, path: tuple[Any, ...], report: Any) -> None:
    if spec.min is not None and spec.max is not None and spec.min > spec.max:
        report(
            (*path, "min"),
            f"min {spec.min} is larger than max {spec.max}",
            "swap them or correct one",
        )
    if (
        spec.min_length is not None
        and spec.max_length is not None
        and spec.min_length > spec.max_length
    ):
        report(
            (*path, "min_length"),
            f"min_length {spec.min_length} is larger than max_length {spec.max_length}",
            "swap them or correct one",
        )
    ftype = FIELD_TYPES[spec.type]
    bounds = ftype.column_range
    if bounds:
        for option in ("min", "max"):
            value = getattr(spec, option)
            if value is not None and not bounds[0] <= value <= bounds[1]:
                report(
                    (*path, option),
                    f"{option} {value} is outside the range of {_a(spec.type)} column "
                    f"({bounds[0]} to {bounds[1]})",
                    "use bigint for larger numbers" if spec.type == "int" else "use decimal",
                )


def _check_flags(
    spec: FieldSpec, path: tuple[Any, ...], report: Any, existing_database: bool = False
) -> None:
    has_default = "default" in spec.given() and spec.default is not None
    if spec.required and has_default:
        report(
            (*path, "default"),
            "a required field with a default: the default would never be used",
            "drop `required: true` (a field with a default may be omitted) or the default",
        )
    if spec.read_only and spec.write_only:
        report(path, "a field cannot be both read_only and write_only", "keep one of them")
    if spec.required and (spec.read_only or spec.hidden) and not has_default:
        flag = "read_only" if spec.read_only else "hidden"
        report(
            path,
            f"a required {flag} field: clients cannot set it, so nothing could ever be created",
            "give it a default, or drop required",
        )
    if spec.type == "many" and (spec.required or spec.unique or spec.index):
        report(
            path,
            "a many-to-many field cannot be required, unique or indexed",
            "remove those options",
        )
    if spec.type == "json" and (spec.unique or spec.index):
        report(path, "a json field cannot be unique or indexed", "remove those options")
    if spec.in_list is False and (spec.write_only or spec.hidden):
        flag = "write_only" if spec.write_only else "hidden"
        report(
            (*path, "in_list"),
            f"`in_list: false` on a {flag} field: no answer shows it, lists included",
            "drop in_list",
        )
    if spec.searchable and (spec.write_only or spec.hidden):
        flag = "write_only" if spec.write_only else "hidden"
        report(
            (*path, "searchable"),
            f"a {flag} field cannot be searchable: `?q=` would reveal what it holds",
            "drop searchable",
        )
    # an existing table's unique TEXT column (SQLite's usual string) is described as it is
    if spec.type == "text" and spec.unique and not existing_database:
        report(
            (*path, "unique"),
            "a text field cannot be unique (unbounded values make poor unique keys)",
            "use a string field with max_length, or drop unique (an existing table's unique "
            "text column is allowed with service.existing_database)",
        )


def _check_default(spec: FieldSpec, path: tuple[Any, ...], report: Any) -> None:
    for message, fix in value_problems(spec, spec.default, "the default"):
        report((*path, "default"), message, fix)


def value_problems(spec: FieldSpec, raw: Any, what: str) -> list[tuple[str, str]]:
    """Why ``raw`` cannot be a value of the field (message, fix); none when it can."""
    ftype = FIELD_TYPES[spec.type]
    options = spec.model_dump()
    try:
        value = ftype.coerce_default(raw, options)
    except ValueError as exc:
        fix = _default_fix(spec).replace("the default", what)
        return [(f"{what} does not fit the field: {exc}", fix)]
    found = []
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        found.append(
            (
                f"{what} {raw!r} is outside min/max",
                f"use {_a(what.split()[-1])} within the field's bounds",
            )
        )
    if isinstance(value, str) and ftype.textual:
        shortest, longest = spec.min_length or 0, max_length(ftype, options)
        if not shortest <= len(value) <= longest:
            found.append(
                (
                    f"{what} is {len(value)} characters long, "
                    f"outside the length limits {shortest} to {longest}",
                    f"shorten {what} or change min_length/max_length",
                )
            )
        if ftype.pattern and not re.fullmatch(ftype.pattern, value):
            found.append(
                (
                    f"{what} {value!r} is not a valid {spec.type}",
                    f"write {what} like {ftype.example!r}",
                )
            )
        if spec.pattern and not compiles(spec.pattern) and not re.search(spec.pattern, value):
            found.append(
                (
                    f"{what} {value!r} does not match the pattern {spec.pattern!r}",
                    f"change {what} or the pattern so that they agree",
                )
            )
    return found


def _default_fix(spec: FieldSpec) -> str:
    if spec.type in ("ref", "many"):
        return "remove `default`"
    if spec.type == "enum":
        return "use one of the values: " + ", ".join(spec.values or [])
    if spec.type == "decimal":
        scale = decimal_shape(spec.model_dump())[1]
        return f"write a number with at most {scale} decimal places that fits the precision"
    example = FIELD_TYPES[spec.type].example
    return f"write {_a(spec.type)} value such as {example!r}, or remove the default"


def _check_field_lists(
    name: str, body: dict[str, Any], fields: dict[str, FieldSpec | None], report: Any
) -> None:
    for option in ("filter", "sort"):
        entries = body.get(option)
        if isinstance(entries, list):
            _check_query_fields(name, option, entries, fields, report, body)
    _check_index_fields(name, body, fields, report)


def _check_query_fields(
    name: str,
    option: str,
    entries: list[Any],
    fields: dict[str, FieldSpec | None],
    report: Any,
    body: dict[str, Any],
) -> None:
    base = ("resources", name, option)
    counts = mark_counts(body) if option == "sort" else []
    usable = [f for f, spec in fields.items() if spec is None or _queryable(option, spec)]
    usable += counts
    choices = list(dict.fromkeys([*usable, *AUTOMATIC_TYPES]))
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        if entry in seen:
            report((*base, i), f"{entry!r} is listed twice", "list each field once")
        seen.add(entry)
        spec = fields.get(entry)
        if entry in AUTOMATIC_TYPES or (option == "sort" and entry in counts):
            continue
        if entry not in fields:
            report(
                (*base, i),
                f"{option} names {entry!r}, which is not a field of {name}",
                _choose(entry, choices),
            )
        elif spec is not None and not _queryable(option, spec):
            report(
                (*base, i),
                f"cannot {option} on {entry!r} (a {spec.type}"
                f"{' hidden' if spec.hidden else ''}"
                f"{' write_only' if spec.write_only else ''} field)",
                f"remove it from `{option}`",
            )


def _queryable(option: str, spec: FieldSpec) -> bool:
    ftype = FIELD_TYPES[spec.type]
    ok = ftype.filterable if option == "filter" else ftype.sortable
    if option == "filter" and spec.type == "many" and spec.by:
        ok = True  # ?tags=dragons: the records linked to that target
    return ok and not spec.hidden and not spec.write_only


def _check_index_fields(
    name: str, body: dict[str, Any], fields: dict[str, FieldSpec | None], report: Any
) -> None:
    base = ("resources", name)
    implicit = [*AUTOMATIC_TYPES, *(["owner"] if _owned_directly(body) else [])]
    indexable = [f for f, spec in fields.items() if not spec or FIELD_TYPES[spec.type].indexable]
    choices = list(dict.fromkeys([*indexable, *implicit]))
    groups = []
    for i, entry in enumerate(body.get("indexes") or []):
        columns = entry.get("fields") if isinstance(entry, dict) else entry
        groups.append((("indexes", i), columns))
    groups += [(("unique_together", i), g) for i, g in enumerate(body.get("unique_together") or [])]
    for where, columns in groups:
        if not isinstance(columns, list):
            continue
        if len(set(map(str, columns))) != len(columns):
            report((*base, *where), "a field is named twice in this index", "name each once")
        for j, column in enumerate(columns):
            if not isinstance(column, str) or column in implicit:
                continue  # not a string: the model reports it
            spec = fields.get(column)
            if column not in fields:
                report(
                    (*base, *where, j),
                    f"{column!r} is not a field of {name}",
                    _choose(column, choices),
                )
            elif spec is not None and not FIELD_TYPES[spec.type].indexable:
                report(
                    (*base, *where, j),
                    f"{_a(spec.type)} field cannot be indexed",
                    "remove it from the index",
                )


def _choose(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return hint + "use one of: " + ", ".join(choices)


def _check_permissions(
    body: dict[str, Any], roles: list[str], base: tuple[Any, ...], report: Any
) -> None:
    permissions = body.get("permissions")
    if not isinstance(permissions, dict):
        return
    for action, who in permissions.items():
        for entry in who if isinstance(who, list) else [who]:
            if entry == "owner" and action == "create":
                report(
                    (*base, "permissions", action),
                    "nobody owns a record before it is created",
                    "use `authenticated` or a role for create",
                )
            elif entry == "anyone" and action == "create" and _owned_directly(body):
                report(
                    (*base, "permissions", action),
                    "each record of an owned resource belongs to the account that creates it: "
                    "an anonymous caller has none",
                    "use `authenticated` or a role for create",
                )
            elif entry == "owner" and not body.get("owned"):
                report(
                    (*base, "permissions", action),
                    "`owner` is used but the resource is not `owned: true`",
                    "add `owned: true` (or `owned: {through: <ref field>}`) to the resource "
                    "or remove `owner`",
                )
            elif isinstance(entry, str) and entry not in PRINCIPALS and entry not in roles:
                report(
                    (*base, "permissions", action),
                    f"{entry!r} is neither anyone, authenticated, owner nor a role in auth.roles",
                    _choose(entry, [*PRINCIPALS, *roles])
                    + f" (or declare {entry!r} under auth.roles)",
                )


# What an action may not be called: the standard operations of a record (and their verbs).
STANDARD_OPERATIONS = ("list", "read", "get", "create", "replace", "update", "delete")
MAX_ACTION_NAME = 40  # the audit log's `action` column
ACTION_VALUE_TYPES = ("ref", "many", "json")  # not settable, comparable nor typed as input


def _check_actions(
    name: str,
    body: dict[str, Any],
    fields: dict[str, FieldSpec | None],
    all_fields: dict[str, dict[str, FieldSpec | None]],
    roles: list[str],
    report: Any,
) -> None:
    """`actions`: names that clash with nothing, `when`/`sets` on real fields with values they
    can hold, inputs that are declared and typed alike, permission words the spec knows."""
    for action, raw in body["actions"].items():
        path = ("resources", name, "actions", action)
        if not isinstance(action, str):
            continue
        if len(action) > MAX_ACTION_NAME:
            report(
                path,
                f"action name {action!r} is longer than {MAX_ACTION_NAME} characters",
                "shorten it (the audit log names each change by it)",
            )
        if action in STANDARD_OPERATIONS:
            report(path, f"action {action!r} clashes with the standard operation", "rename it")
        elif action in fields or action in AUTOMATIC_TYPES or action in ("owner", "version"):
            report(
                path,
                f"action {action!r} clashes with the field {action!r} (both live under "
                "/{key}/" + action + ")",
                "rename the action",
            )
        if not isinstance(raw, dict):
            continue
        if raw.get("on") == "collection":
            _check_collection_action(name, action, raw, body, path, report)
        inputs = _typed_entries(raw.get("input"))
        for group in ("input", "output"):
            for iname, ispec in _typed_entries(raw.get(group)).items():
                at = (*path, group, iname)
                _check_field_name(iname, at, report)
                if ispec is None:
                    continue
                if ispec.type in ACTION_VALUE_TYPES:
                    report(
                        (*at, "type"),
                        f"an action's {group} cannot be {_a(ispec.type)} field",
                        "use a scalar type (string, int, enum, ...)",
                    )
                    continue
                _check_field(name, iname, ispec, all_fields, at, report)
        handler = raw.get("handler") is True
        if handler and raw.get("sets"):
            report(
                (*path, "sets"),
                "a handler action does not take `sets`: its method decides what changes",
                "remove `sets`, or `handler: true` to have the action generated whole",
            )
        if not handler and not raw.get("sets"):
            report(
                path,
                "a declarative action needs `sets`",
                "add `sets: {field: value}`, or `handler: true` to write its body yourself",
            )
        if not handler and raw.get("output"):
            report(
                (*path, "output"),
                "a declarative action answers with the record; only a handler has an `output`",
                "remove `output`, or add `handler: true`",
            )
        for group in ("when", "sets"):
            entries = raw.get(group)
            if isinstance(entries, dict):
                for fname, value in entries.items():
                    _check_action_value(name, group, fname, value, fields, inputs, path, report)
        _check_allow(raw.get("allow"), body, path, roles, report)


# What a collection action may not be called: the collection's own sub-paths.
COLLECTION_PATHS = ("events",)


def _check_collection_action(
    name: str,
    action: str,
    raw: dict[str, Any],
    body: dict[str, Any],
    path: tuple[Any, ...],
    report: Any,
) -> None:
    """An action on the collection (`on: collection`): a handler (declarative ones, over every
    record the caller may update, are not generated yet), without a record's `when` or owner,
    named unlike the collection's own sub-paths."""
    if raw.get("handler") is not True:
        report(
            (*path, "on"),
            "a declarative collection action is not generated yet",
            "add `handler: true` and write its body, or make it a record action",
        )
    if raw.get("when"):
        report(
            (*path, "when"),
            "a collection action acts on no one record: it has no `when`",
            "check the state in the handler, or make it a record action",
        )
    allow = raw.get("allow")
    for entry in allow if isinstance(allow, list) else [allow] if allow else []:
        if entry == "owner" or (isinstance(entry, str) and entry.endswith(".owner")):
            report(
                (*path, "allow"),
                f"`{entry}` names the owner of a record; a collection action has none",
                "allow roles, `authenticated` or `anyone`",
            )
    lookup = body.get("lookup")
    fields = body.get("fields") if isinstance(body.get("fields"), dict) else {}
    key = fields.get(lookup) if isinstance(lookup, str) else None
    values = key.get("values") if isinstance(key, dict) else None
    if isinstance(values, list) and kebab(action) in values:
        report(
            path,
            f"collection action {action!r} is at /<plural>/{kebab(action)}, the URL of the "
            f"{name} whose {lookup} is {kebab(action)!r}",
            "rename the action or the enum value",
        )
    if action in COLLECTION_PATHS and (body.get("events") or body.get("feed")):
        report(
            path,
            f"collection action {action!r} clashes with the change feed "
            f"(both live under /<plural>/{action})",
            "rename the action",
        )


def _check_allow(
    allow: Any, body: dict[str, Any], path: tuple[Any, ...], roles: list[str], report: Any
) -> None:
    """The `allow` of an action or a mark: principals and roles that exist."""
    for entry in allow if isinstance(allow, list) else [allow] if allow else []:
        if isinstance(entry, str) and entry.endswith(".owner"):
            continue  # an action's `<ref field>.owner`: _check_ref_owners
        if entry == "owner" and not body.get("owned"):
            report(
                (*path, "allow"),
                "`owner` is used but the resource is not `owned`",
                "add `owned: true` to the resource or remove `owner`",
            )
        elif isinstance(entry, str) and entry not in PRINCIPALS and entry not in roles:
            report(
                (*path, "allow"),
                f"{entry!r} is neither anyone, authenticated, owner nor a role in auth.roles",
                _choose(entry, [*PRINCIPALS, *roles]),
            )


def _check_ref_owners(
    resources: dict[str, Any],
    all_fields: dict[str, dict[str, FieldSpec | None]],
    report: Any,
) -> None:
    """An action's `allow: <ref field>.owner`: a ref field of the resource, to a resource whose
    records belong to accounts (owned, or owned through a parent)."""
    for name, body in resources.items():
        actions = body.get("actions") if isinstance(body, dict) else None
        for action, raw in actions.items() if isinstance(actions, dict) else []:
            allow = raw.get("allow") if isinstance(raw, dict) else None
            for entry in allow if isinstance(allow, list) else [allow] if allow else []:
                if isinstance(entry, str) and entry.endswith(".owner"):
                    at = ("resources", name, "actions", action, "allow")
                    _check_ref_owner(
                        name, entry.removesuffix(".owner"), resources, all_fields, at, report
                    )


def _check_ref_owner(
    name: str,
    field: str,
    resources: dict[str, Any],
    all_fields: dict[str, dict[str, FieldSpec | None]],
    at: tuple[Any, ...],
    report: Any,
) -> None:
    fields = all_fields.get(name, {})
    if field not in fields:
        refs = [f for f, spec in fields.items() if spec is not None and spec.type == "ref"]
        report(
            at,
            f"`{field}.owner`: {field!r} is not a field of {name}",
            _choose(field, refs) if refs else "name a ref field: `<field>.owner`",
        )
        return
    spec = fields[field]
    if spec is None:
        return
    if spec.type != "ref":
        report(
            at,
            f"`{field}.owner` needs a ref field; {field!r} is {_a(spec.type)} field",
            "name a ref field to an owned resource",
        )
        return
    if not spec.required:
        report(
            at,
            f"`{field}.owner` needs a required ref field; {field!r} may point at nothing",
            f"add `required: true` to {field!r}",
        )
        return
    target = resources.get(spec.to or "")
    if isinstance(target, dict) and not target.get("owned"):
        report(
            at,
            f"`{field}.owner`: the records of {spec.to} belong to no account",
            f"make {spec.to} `owned: true` (or owned through a parent), or remove the entry",
        )


# The field types a slug may be derived from (`from:`).
SLUG_SOURCES = ("string", "text")


def _check_derived(
    resource: str,
    name: str,
    spec: FieldSpec,
    fields: dict[str, FieldSpec | None],
    path: tuple[Any, ...],
    report: Any,
) -> None:
    """A derived slug (`from: <field>`, `on_change`): a string or text field of the resource to
    derive it from, and no value of its own to give."""
    source = spec.from_
    if source is None:
        report(
            (*path, "on_change"),
            "`on_change` applies to a derived slug only",
            "add `from: <string field>` or remove `on_change`",
        )
        return
    texts = [f for f, s in fields.items() if s is not None and s.type in SLUG_SOURCES]
    if source == name or source not in fields:
        report(
            (*path, "from"),
            f"`from: {source}` names no other field of {resource}",
            _choose(source, texts) if texts else "add a string field to derive the slug from",
        )
    elif (given := fields[source]) is not None and given.type not in SLUG_SOURCES:
        report(
            (*path, "from"),
            f"a slug is derived from a string or text field; {source!r} is {_a(given.type)} field",
            f"derive it from one of: {', '.join(texts)}" if texts else "add a string field",
        )
    if spec.default is not None:
        report(
            (*path, "default"),
            "a derived slug takes no default: it is made from its `from` field",
            "remove `default`",
        )
    if spec.read_only is False and "read_only" in spec.given():
        report(
            (*path, "read_only"),
            "a derived slug is read-only on the wire",
            "remove `read_only: false`",
        )


def _typed_entries(raw: Any) -> dict[str, FieldSpec | None]:
    if not isinstance(raw, dict):
        return {}
    typed: dict[str, FieldSpec | None] = {}
    for name, entry in raw.items():
        try:
            typed[str(name)] = FieldSpec.model_validate(entry)
        except ValidationError:
            typed[str(name)] = None
    return typed


def _check_action_value(
    resource: str,
    group: str,
    fname: str,
    value: Any,
    fields: dict[str, FieldSpec | None],
    inputs: dict[str, FieldSpec | None],
    path: tuple[Any, ...],
    report: Any,
) -> None:
    at = (*path, group, fname)
    if fname not in fields:
        report(at, f"{fname!r} is not a field of {resource}", _choose(fname, list(fields)))
        return
    spec = fields[fname]
    if spec is None:
        return
    if spec.type in ACTION_VALUE_TYPES:
        report(at, f"an action cannot use {_a(spec.type)} field in `{group}`", "remove it")
        return
    if isinstance(value, dict) and group == "when":
        _check_condition(fname, value, spec, at, report)
        return
    if isinstance(value, dict):
        named = value.get("input")
        if set(value) != {"input"}:
            return  # the model reports the shape
        if named not in inputs:
            report(
                at,
                f"`{{input: {named}}}` names no input of this action",
                _choose(str(named), list(inputs)) if inputs else "declare it under `input:`",
            )
        elif (given := inputs[named]) is not None and given.type != spec.type:
            report(
                at,
                f"input {named!r} is {_a(given.type)}, field {fname!r} {_a(spec.type)}",
                f"declare the input with `type: {spec.type}`",
            )
        elif given is not None and spec.required and not given.required:
            report(
                at,
                f"input {named!r} is optional but field {fname!r} is required",
                "add `required: true` to the input",
            )
        return
    if value is None:
        if spec.required:
            report(at, f"{fname!r} is required: it is never null", "give a value")
        return
    if group == "sets" and spec.unique:
        report(
            at,
            f"{fname!r} is unique: a fixed value fits one record only",
            "set it from an input (`{input: name}`) or remove it",
        )
        return
    for message, fix in value_problems(spec, value, "the value"):
        report(at, message, fix)


def _check_condition(
    fname: str, condition: dict[str, Any], spec: FieldSpec, at: tuple[Any, ...], report: Any
) -> None:
    """A `when` condition beyond equality: operators the field's type can answer, values the
    field can hold, and some value that meets them all."""
    if not condition or set(condition) - set(conditions.OPERATORS):
        return  # the model reports the shape
    ftype = FIELD_TYPES[spec.type]
    problems = 0
    for op, value in condition.items():
        where = (*at, op)
        if op in conditions.ORDERINGS and not ftype.ordered:
            report(
                where,
                f"`{op}` compares ordered values; {fname!r} is {_a(spec.type)} field",
                "use `ne` or `in`, or compare a number, date, date-time or time field",
            )
            problems += 1
            continue
        values = value if op == "in" and isinstance(value, list) else [value]
        if op == "in" and not values:
            report(where, "`in: []` holds for no value", "name at least one value")
            problems += 1
        for given in values:
            if given is None:
                if op in conditions.ORDERINGS:
                    report(where, f"`{op}: null` compares with nothing", "give a value")
                    problems += 1
                elif spec.required:
                    report(
                        where,
                        f"{fname!r} is required: it is never null",
                        "give a value" if op == "in" else "remove the condition",
                    )
                    problems += 1
                continue
            for message, fix in value_problems(spec, given, "the value"):
                report(where, message, fix)
                problems += 1
    if problems:
        return
    options = dict(spec.model_dump())

    def fits(value: Any) -> bool:
        return not value_problems(spec, value, "the value")

    def typed(value: Any) -> Any:
        return None if value is None else ftype.coerce_default(value, options)

    typed_condition = {
        op: [typed(v) for v in value] if op == "in" else typed(value)
        for op, value in condition.items()
    }
    values = list(spec.values or [])
    tried = conditions.candidates(spec.type, ftype.base, typed_condition, values, not spec.required)
    if not conditions.meeting(typed_condition, tried, fits)[0]:
        report(
            at,
            f"no value of {fname!r} meets this condition ({conditions.describe(fname, condition)})",
            "loosen the bounds, or check them against the field's min/max and values",
        )


def module_for(resource: str) -> str:
    return module_name(snake(resource))


LIST_CONTROLS = ("limit", "cursor", "offset", "sort", "q")


def mark_counts(body: dict[str, Any]) -> list[str]:
    """The `count` field names of a resource's marks (sortable)."""
    marks = body.get("marks")
    found = []
    for raw in marks.values() if isinstance(marks, dict) else []:
        if isinstance(raw, dict) and isinstance(raw.get("count"), str):
            found.append(raw["count"])
    return found


def _check_marks(
    name: str,
    body: dict[str, Any],
    fields: dict[str, FieldSpec | None],
    roles: list[str],
    report: Any,
) -> None:
    """`marks`: names that clash with no operation, action or field; `count` and `mine` names
    that clash with no field nor each other; permission words the spec knows; no own cache
    (a marked record's representation depends on the caller)."""
    actions = body.get("actions") if isinstance(body.get("actions"), dict) else {}
    taken: dict[str, str] = {}
    for mark, raw in body["marks"].items():
        path = ("resources", name, "marks", mark)
        if not isinstance(mark, str):
            continue
        if len(mark) > MAX_ACTION_NAME:
            report(
                path,
                f"mark name {mark!r} is longer than {MAX_ACTION_NAME} characters",
                "shorten it (the audit log names each change by it)",
            )
        if mark in STANDARD_OPERATIONS:
            report(path, f"mark {mark!r} clashes with the standard operation", "rename it")
        elif mark in actions:
            report(
                path,
                f"mark {mark!r} clashes with the action {mark!r} (both live under "
                "/{key}/" + mark + ")",
                "rename the mark or the action",
            )
        elif mark in fields or mark in AUTOMATIC_TYPES or mark in ("owner", "version"):
            report(
                path,
                f"mark {mark!r} clashes with the field {mark!r} (both live under "
                "/{key}/" + mark + ")",
                "rename the mark",
            )
        if not isinstance(raw, dict):
            continue
        for role in ("count", "mine"):
            given = raw.get(role)
            if not isinstance(given, str):
                continue
            at = (*path, role)
            _check_field_name(given, at, report)
            if given in fields or (given == "owner" and _owned_directly(body)):
                report(
                    at,
                    f"{role} {given!r} clashes with the field {given!r}",
                    f"name the {role} field something else (e.g. {mark}_{role})",
                )
            elif role == "mine" and given in LIST_CONTROLS:
                report(
                    at,
                    f"mine {given!r} would be the list parameter ?{given}=, which lists use "
                    "already",
                    f"name it something else (e.g. my_{mark})",
                )
            elif given in taken:
                report(
                    at,
                    f"{role} {given!r} is already the {taken[given]}",
                    "give every count and mine field its own name",
                )
            taken[given] = f"{role} of the mark {mark!r}"
        _check_allow(raw.get("allow"), body, path, roles, report)
    for fname, spec in fields.items() if body["marks"] else []:
        column = (spec.column if spec is not None else None) or fname
        if column.lower() in ("true", "false"):
            report(
                ("resources", name, "fields", fname),
                f"a resource with marks cannot have the column {column!r}: SQLite cannot read "
                "it through the query that adds the marks",
                f"rename the field, or give it another column (`column: {column}_value`)",
            )
    if body["marks"] and isinstance(body.get("cache"), dict):
        report(
            ("resources", name, "cache"),
            "a resource with marks is not cached: its records show the caller's own marks",
            "remove `cache` from this resource (`api.cache` leaves marked resources out)",
        )
