"""`backforge import database`: an existing database's schema (as ``importers.reflect`` reads
it, JSON) mapped to a spec that describes its tables faithfully, merged into an existing spec
when there is one.

The mapping is plain data in, spec text out: tables become resources (``table:``,
``primary_key:``, ``lacks:`` where backforge's names or automatic fields differ), columns become
fields (``column:`` where the name differs), NOT NULL ``required``, simple server defaults
``default``, simple CHECKs (``x >= 0``, ``x BETWEEN a AND b``, ``x IN ('a', 'b')``) ``min``,
``max`` or enum ``values``, unique constraints ``unique`` / ``unique_together``, indexes
``index`` / ``indexes``, foreign keys ``ref`` fields with ``on_delete``, link tables (two
cascading foreign keys and nothing else) ``many`` fields. What the language cannot say is left
out with a YAML comment that says what it is and why; a table it cannot describe at all (no
primary key, a composite or non-integer one) is left out and listed in the summary.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from backforge.errors import ProjectError
from backforge.names import AUTOMATIC_FIELDS, FIELD_NAME, RESOURCE_NAME, SERVICE_NAME, snake

INTEGERS = {"integer": "int", "int": "int", "smallint": "int", "bigint": "bigint"}
ON_DELETE = {"CASCADE": "cascade", "SET NULL": "set_null"}
# What a spec derives from the database (a merge refreshes these, keeps everything else)
DB_FIELD_KEYS = (
    "type",
    "required",
    "unique",
    "index",
    "default",
    "min",
    "max",
    "min_length",
    "max_length",
    "precision",
    "scale",
    "values",
    "to",
    "on_delete",
    "column",
    "link",
)
DB_RESOURCE_KEYS = ("table", "primary_key", "unique_together", "indexes")

_NUMBER = r"\(?(-?[0-9]+(?:\.[0-9]+)?)\)?(?:::[a-z ]+)?"
_COLUMN = r"\(?\"?([A-Za-z_][A-Za-z0-9_]*)\"?\)?(?:::[a-z ]+)?"
_COMPARE = re.compile(rf"^{_COLUMN}\s*(>=|<=|>|<)\s*{_NUMBER}$")
_BETWEEN = re.compile(rf"^{_COLUMN}\s+BETWEEN\s+{_NUMBER}\s+AND\s+{_NUMBER}$", re.IGNORECASE)
_IN = re.compile(rf"^{_COLUMN}\s+IN\s*\((.*)\)$", re.IGNORECASE | re.DOTALL)
_ANY = re.compile(rf"^{_COLUMN}\s*=\s*ANY\s*\(\(?ARRAY\[(.*)\]\)?(?:::[a-z ]+\[\])?\)$", re.DOTALL)
_QUOTED = re.compile(r"'((?:[^']|'')*)'(?:::[a-z ]+)?")
_LITERAL_TEXT = re.compile(r"^'((?:[^']|'')*)'(?:::[a-z ]+)?$")
_LITERAL_NUMBER = re.compile(r"^\(?(-?[0-9]+(?:\.[0-9]+)?)\)?(?:::[a-z ]+)?$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class TableReport:
    table: str
    resource: str | None
    status: str  # mapped | changed | not mapped | link | dropped
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "resource": self.resource,
            "status": self.status,
            "notes": self.notes,
        }


@dataclass
class Imported:
    text: str  # the spec, YAML
    tables: list[TableReport]

    def as_dict(self) -> dict[str, Any]:
        return {"tables": [t.as_dict() for t in self.tables]}

    def summary(self) -> str:
        lines = []
        groups = (
            ("mapped", "mapped"),
            ("changed", "mapped with changes"),
            ("link", "mapped as many-to-many links"),
            ("not mapped", "not mapped"),
            ("dropped", "in the spec, no longer in the database (kept)"),
        )
        for status, title in groups:
            found = [t for t in self.tables if t.status == status]
            if not found:
                continue
            lines.append(f"{title}: {len(found)}")
            for t in found:
                name = f" -> {t.resource}" if t.resource else ""
                lines.append(f"  {t.table}{name}")
                lines += [f"      {note}" for note in t.notes]
        return "\n".join(lines)


# --- names -------------------------------------------------------------------------------------


def resource_name(table: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", snake(table)) if w]
    if words:
        words[-1] = singular(words[-1])
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Table"
    return name if RESOURCE_NAME.match(name) else f"T{name}"


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 1:
        return word[:-1]
    return word


def field_name(column: str) -> str:
    name = "_".join(w for w in re.split(r"[^a-z0-9]+", snake(column)) if w) or "field"
    if not name[0].isalpha():
        name = f"f_{name}"
    return name if FIELD_NAME.match(name) else "field"


# --- one table ---------------------------------------------------------------------------------


@dataclass
class Mapped:
    resource: str
    body: dict[str, Any]
    comments: dict[str, list[str]]  # field name ("" for the resource) -> comment lines
    report: TableReport


def _field_type(column: dict[str, Any], notes: list[str]) -> dict[str, Any] | None:
    kind = column["type"]
    if kind in INTEGERS:
        if kind == "smallint":
            return {"type": "int", "min": -32768, "max": 32767}
        return {"type": INTEGERS[kind]}
    if kind in ("varchar", "string", "nvarchar", "char"):
        if column.get("length"):
            return {"type": "string", "max_length": column["length"]}
        return {"type": "text"}
    if kind in ("text", "clob"):
        return {"type": "text"}
    if kind in ("numeric", "decimal"):
        if column.get("precision") is None:
            return {"type": "decimal", "precision": 38, "scale": 10}
        return {"type": "decimal", "precision": column["precision"], "scale": column.get("scale")}
    if kind in ("float", "double", "double_precision", "real"):
        return {"type": "float"}
    if kind == "boolean":
        return {"type": "bool"}
    if kind == "date":
        return {"type": "date"}
    if kind in ("datetime", "timestamp"):
        if not column.get("timezone"):
            notes.append(
                f"{column['name']}: a timestamp without time zone; backforge stores datetimes "
                "with one (alembic check reports the type until the column is altered)"
            )
        return {"type": "datetime"}
    if kind == "time":
        return {"type": "time"}
    if kind in ("uuid", "uuid_type"):
        return {"type": "uuid"}
    if kind in ("json", "jsonb"):
        return {"type": "json"}
    if kind == "enum" and column.get("values"):
        values = column["values"]
        if all(_IDENTIFIER.match(v) for v in values):
            notes.append(
                f"{column['name']}: a database enum type; backforge stores enum values as text "
                "with a CHECK (alembic check reports the type until the column is altered)"
            )
            return {"type": "enum", "values": values}
    return None


def _default(raw: str | None, spec: dict[str, Any]) -> tuple[Any, bool]:
    """The spec value of a server default, and whether it maps (None, True: no default)."""
    if raw is None:
        return None, True
    text = raw.strip()
    if spec["type"] == "bool" and text.lower() in ("true", "false", "1", "0"):
        return text.lower() in ("true", "1"), True
    if (m := _LITERAL_NUMBER.match(text)) and spec["type"] in ("int", "bigint", "float"):
        number = float(m.group(1)) if spec["type"] == "float" else int(float(m.group(1)))
        return number, True
    if (m := _LITERAL_NUMBER.match(text)) and spec["type"] == "decimal":
        return m.group(1), True
    if (m := _LITERAL_TEXT.match(text)) and spec["type"] in ("string", "text", "enum"):
        return m.group(1).replace("''", "'"), True
    return None, False


def map_check(sql: str) -> tuple[str, dict[str, Any]] | None:
    """A CHECK's column and the spec options it maps to (min, max, values), None when it is
    not one of the simple forms."""
    text = " ".join(sql.strip().split())
    if text.upper().startswith("CHECK "):
        text = text[6:].strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    parts = _split_and(text)
    if len(parts) == 2:
        first, second = map_check(parts[0]), map_check(parts[1])
        if first and second and first[0] == second[0] and not set(first[1]) & set(second[1]):
            return first[0], {**first[1], **second[1]}
        return None
    if m := _COMPARE.match(text):
        column, op, number = m.group(1), m.group(2), m.group(3)
        value: Any = float(number) if "." in number else int(number)
        if op in (">", "<"):
            if isinstance(value, float):
                return None  # a strict bound on a fraction has no inclusive equivalent
            value = value + 1 if op == ">" else value - 1
        return column, {"min" if op in (">=", ">") else "max": value}
    if m := _BETWEEN.match(text):
        low, high = (float(n) if "." in n else int(n) for n in (m.group(2), m.group(3)))
        return m.group(1), {"min": low, "max": high}
    if m := (_IN.match(text) or _ANY.match(text)):
        values = [v.replace("''", "'") for v in _QUOTED.findall(m.group(2))]
        if values and all(_IDENTIFIER.match(v) for v in values):
            return m.group(1), {"values": values}
    return None


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _split_and(text: str) -> list[str]:
    depth, parts, start = 0, [], 0
    upper = text.upper()
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and upper.startswith(" AND ", i) and "BETWEEN" not in upper[start:i]:
            parts.append(text[start:i].strip())
            start = i + 5
    parts.append(text[start:].strip())
    return parts if len(parts) > 1 else [text]


def _is_link(table: dict[str, Any]) -> bool:
    """Two single-column foreign keys that cascade, and nothing else."""
    fks = table["foreign_keys"]
    columns = {c["name"] for c in table["columns"]}
    if len(fks) != 2 or len(columns) != 2:
        return False
    if any(len(fk["columns"]) != 1 or fk["ondelete"] != "CASCADE" for fk in fks):
        return False
    return {fk["columns"][0] for fk in fks} == columns


def _skip_reason(table: dict[str, Any]) -> str | None:
    pk = table["primary_key"]
    if not pk:
        return "no primary key: a resource needs one integer key"
    if len(pk) > 1:
        return f"a composite primary key ({', '.join(pk)}): a resource has one integer key"
    column = next(c for c in table["columns"] if c["name"] == pk[0])
    if column["type"] not in INTEGERS:
        return f"its primary key {pk[0]} is {column['type']}: a resource has an integer key"
    for c in table["columns"]:
        if c["name"] == pk[0]:
            continue
        if c["name"] == "id":
            return "a column `id` that is not the primary key: the API calls the key `id`"
        stamps = c["name"] in ("created_at", "updated_at")
        if stamps and (c["type"] not in ("timestamp", "datetime") or c["nullable"]):
            return (
                f"a column {c['name']} that is not a NOT NULL timestamp: backforge keeps "
                "its own there"
            )
        if c["name"] == "version" and (c["type"] not in INTEGERS or c["nullable"]):
            return "a column version that is not a NOT NULL integer: backforge keeps its own there"
    return None


def map_table(
    table: dict[str, Any], resources: dict[str, str], keys: dict[str, tuple[str, str]]
) -> Mapped:
    """One table as a resource. ``resources``: every mapped table's resource name; ``keys``:
    its primary key column and type (int or bigint)."""
    name = table["name"]
    resource = resources[name]
    notes: list[str] = []
    comments: dict[str, list[str]] = {}
    body: dict[str, Any] = {}
    pk = table["primary_key"][0]
    if snake(resource) != name:
        body["table"] = name
    key_type = keys[name][1]
    if pk != "id" or key_type != "bigint":
        body["primary_key"] = pk if key_type == "bigint" else {"column": pk, "type": key_type}
    present = {c["name"] for c in table["columns"]}
    lacks = [n for n in AUTOMATIC_FIELDS[1:] if n not in present]
    if lacks:
        body["lacks"] = lacks
    fks = {fk["columns"][0]: fk for fk in table["foreign_keys"] if len(fk["columns"]) == 1}
    for fk in table["foreign_keys"]:
        if len(fk["columns"]) > 1:
            comments.setdefault("", []).append(
                f"foreign key{_label(fk)} ({', '.join(fk['columns'])}) -> {fk['ref_table']}: "
                "not mapped: a ref is one column"
            )
    checks: dict[str, dict[str, Any]] = {}
    for check in table["checks"]:
        mapped = map_check(check["sql"])
        if mapped is None or mapped[0] not in present:
            comments.setdefault("", []).append(
                f"CHECK{_label(check)}: {' '.join(check['sql'].split())} -- not mapped: "
                "only `x >= n`, `x <= n`, `x BETWEEN a AND b` and `x IN ('a', ...)` are "
                "(it stays in the database)"
            )
            continue
        column, options = mapped
        if column in checks and set(checks[column]) & set(options):
            comments.setdefault("", []).append(
                f"CHECK{_label(check)}: {' '.join(check['sql'].split())} -- not mapped: the "
                f"column {column} has another check of the same kind (it stays in the database)"
            )
            continue
        checks.setdefault(column, {}).update(options)
    uniques = [u["columns"] for u in table["uniques"]]
    uniques += [
        i["columns"]
        for i in table["indexes"]
        if i["unique"] and not i["expressions"] and not i["constraint"]
    ]
    single = {u[0] for u in uniques if len(u) == 1}
    names: dict[str, str] = {}  # column -> field name
    fields: dict[str, dict[str, Any]] = {}
    for column in table["columns"]:
        cname = column["name"]
        if cname == pk or cname in AUTOMATIC_FIELDS:
            continue
        fk = fks.get(cname)
        target_key = keys.get(fk["ref_table"]) if fk is not None else None
        if fk is not None and target_key is not None and fk["ref_columns"] == [target_key[0]]:
            fname = field_name(cname[:-3] if cname.endswith("_id") and len(cname) > 3 else cname)
            spec: dict[str, Any] = {"type": "ref", "to": resources[fk["ref_table"]]}
            if not column["nullable"]:
                if fk["ref_table"] == name:
                    comments.setdefault("", []).append(
                        f"column {cname}: a required reference to the same table -- the "
                        "language needs self-references optional (the first row could not "
                        "be created); mapped as optional"
                    )
                    notes.append(f"{cname}: a required self-reference mapped as optional")
                else:
                    spec["required"] = True
            spec["on_delete"] = ON_DELETE.get(fk["ondelete"], "restrict")
            if fk["ondelete"] == "SET NULL" and not column["nullable"]:
                spec["on_delete"] = "restrict"
        else:
            found_notes: list[str] = []
            typed = _field_type(column, found_notes)
            if typed is None:
                comments.setdefault("", []).append(
                    f"column {cname} ({column['type']}): not mapped: no field type of the "
                    "language stores it"
                )
                notes.append(f"{cname}: type {column['type']} not mapped")
                continue
            notes += found_notes
            fname = field_name(cname)
            spec = typed
            if fk is not None:
                comments.setdefault(fname, []).append(
                    f"foreign key{_label(fk)} -> {fk['ref_table']}: not mapped (its table is "
                    "not imported, or the key is not its primary key)"
                )
            value, ok = _default(column["default"], spec)
            if not ok:
                comments.setdefault(fname, []).append(
                    f"server default {column['default']}: kept in the database, not in the spec"
                )
            elif value is not None:
                spec["default"] = value
            if not column["nullable"] and "default" not in spec:
                spec["required"] = True
            options = checks.get(cname, {})
            if "values" in options and spec["type"] in ("string", "text"):
                values = options.pop("values")
                longest = max(len(v) for v in values)
                if spec.get("max_length") in (None, longest) and spec["type"] == "string":
                    spec = {"type": "enum", "values": values, **_keep(spec, "required", "default")}
                else:
                    comments.setdefault(fname, []).append(
                        f"values {', '.join(values)} (a CHECK): kept as {spec['type']}, as an enum "
                        f"would change the column to VARCHAR({longest}) (the check stays in the "
                        "database)"
                    )
            if spec["type"] in ("int", "bigint", "float", "decimal"):
                for bound in ("min", "max"):
                    if bound in options:
                        spec[bound] = options[bound]
        base, number = fname, 2
        while fname in fields or fname in AUTOMATIC_FIELDS or fname == "owner":
            fname, number = f"{base}_{number}", number + 1
        default_column = f"{fname}_id" if spec["type"] == "ref" else fname
        if cname != default_column:
            spec["column"] = cname
        if cname in single and spec["type"] != "json":  # text: allowed for existing tables
            spec["unique"] = True
        if column.get("comment"):
            spec["description"] = column["comment"]
        names[cname] = fname
        fields[fname] = spec
    body["fields"] = fields
    together = [
        ["id" if c == pk else names.get(c, c) for c in u]
        for u in uniques
        if len(u) > 1 and all(c in names or c in AUTOMATIC_FIELDS or c == pk for c in u)
    ]
    if together:
        body["unique_together"] = sorted(together)
    indexes = []
    for index in table["indexes"]:
        if index["unique"] or index["constraint"]:
            continue
        if index["expressions"] or not all(c in names for c in index["columns"]):
            comments.setdefault("", []).append(
                f"index {index['name']}: not mapped: an expression or partial index (it stays "
                "in the database; alembic check reports it)"
            )
            continue
        group = [names[c] for c in index["columns"]]
        if len(group) == 1:
            if fields[group[0]]["type"] != "ref":
                fields[group[0]]["index"] = True
        else:
            indexes.append(group)
    if indexes:
        body["indexes"] = sorted(indexes)
    status = "changed" if notes else "mapped"
    return Mapped(resource, body, comments, TableReport(name, resource, status, notes))


def _label(constraint: dict[str, Any]) -> str:
    """A constraint's name for a comment, after a space ("" when it has none: SQLite's inline
    constraints)."""
    return f" {constraint['name']}" if constraint.get("name") else ""


def _keep(spec: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: spec[k] for k in keys if k in spec}


# --- the whole schema --------------------------------------------------------------------------


def map_schema(
    data: dict[str, Any], service: str, existing: dict[str, Any] | None = None
) -> Imported:
    """The spec for the reflected schema ``data``; ``existing``: a spec (as data) to merge into,
    whose names for tables and columns already mapped are kept."""
    tables = sorted(data["tables"], key=lambda t: t["name"])
    reports: list[TableReport] = []
    skipped: dict[str, str] = {}
    for t in tables:
        if not _is_link(t) and (reason := _skip_reason(t)):
            skipped[t["name"]] = reason
    mapped_tables = [t for t in tables if t["name"] not in skipped and not _is_link(t)]
    known = _existing_names(existing)
    resources: dict[str, str] = {}
    taken: set[str] = set(known["resources"].values()) | set(known["extra"])
    for t in mapped_tables:
        name = known["resources"].get(t["name"])
        if name is None:
            name = resource_name(t["name"])
            while name in taken:
                name += "X"
        taken.add(name)
        resources[t["name"]] = name
    keys: dict[str, tuple[str, str]] = {}
    for t in mapped_tables:
        pk = t["primary_key"][0]
        column = next(c for c in t["columns"] if c["name"] == pk)
        keys[t["name"]] = (pk, "bigint" if column["type"] == "bigint" else "int")
    results = {t["name"]: map_table(t, resources, keys) for t in mapped_tables}
    for t in tables:
        if not _is_link(t):
            continue
        a, b = sorted(t["foreign_keys"], key=lambda fk: fk["columns"][0])
        if a["ref_table"] not in results or b["ref_table"] not in results:
            skipped[t["name"]] = "a link table whose tables are not both imported"
            continue
        if a["ref_columns"] != [keys[a["ref_table"]][0]] or b["ref_columns"] != [
            keys[b["ref_table"]][0]
        ]:
            skipped[t["name"]] = "a link table whose keys are not its tables' primary keys"
            continue
        owner = results[a["ref_table"]]
        target = resources[b["ref_table"]]
        fname = field_name(snake(target))
        fname = fname if fname.endswith("s") else f"{fname}s"
        while fname in owner.body["fields"]:
            fname += "_x"
        owner.body["fields"][fname] = {
            "type": "many",
            "to": target,
            "link": {
                "table": t["name"],
                "column": a["columns"][0],
                "target_column": b["columns"][0],
            },
        }
        reports.append(
            TableReport(t["name"], None, "link", [f"{owner.resource}.{fname} (many to {target})"])
        )
    reports += [TableReport(n, None, "not mapped", [r]) for n, r in sorted(skipped.items())]
    reports += [m.report for m in results.values()]
    spec = _merge(existing, service, results, resources, reports)
    text = render_spec(spec, {m.resource: m.comments for m in results.values()}, skipped)
    order = {"mapped": 0, "changed": 1, "link": 2, "not mapped": 3, "dropped": 4}
    reports.sort(key=lambda r: (order[r.status], r.table))
    return Imported(text, reports)


def _existing_names(existing: dict[str, Any] | None) -> dict[str, Any]:
    found: dict[str, Any] = {"resources": {}, "extra": []}
    if not existing:
        return found
    for name, body in (existing.get("resources") or {}).items():
        if isinstance(body, dict):
            found["resources"][body.get("table") or snake(name)] = name
    return found


def _column_of(fname: str, spec: dict[str, Any]) -> str:
    if isinstance(spec, dict) and spec.get("column"):
        return str(spec["column"])
    if isinstance(spec, dict) and spec.get("type") == "ref":
        return f"{fname}_id"
    if isinstance(spec, dict) and spec.get("type") == "many":
        link = spec.get("link") or {}
        return f"many:{link.get('table')}"
    return fname


def _merge(
    existing: dict[str, Any] | None,
    service: str,
    results: dict[str, Mapped],
    resources: dict[str, str],
    reports: list[TableReport],
) -> dict[str, Any]:
    if not existing:
        return {
            "service": {"name": service, "existing_database": True},
            "resources": {m.resource: m.body for m in results.values()},
        }
    spec = dict(existing)
    service_info = dict(spec.get("service") or {"name": service})
    service_info.setdefault("existing_database", True)
    spec["service"] = service_info
    merged: dict[str, Any] = {}
    by_table = {m.report.table: m for m in results.values()}
    old_resources = dict(spec.get("resources") or {})
    for name, body in old_resources.items():
        table = (body or {}).get("table") or snake(name)
        fresh = by_table.pop(table, None)
        if fresh is None:
            merged[name] = body
            if isinstance(body, dict) and (body.get("table") or body.get("primary_key")):
                reports.append(TableReport(table, name, "dropped", ["kept in the spec"]))
            continue
        merged[name] = _merge_resource(body, fresh, reports)
    for fresh in by_table.values():
        merged[fresh.resource] = fresh.body
    spec["resources"] = merged
    return spec


def _merge_resource(old: dict[str, Any], fresh: Mapped, reports: list[TableReport]) -> Any:
    body = {k: v for k, v in old.items() if k not in DB_RESOURCE_KEYS or k == "lacks"}
    for key in DB_RESOURCE_KEYS:
        if key in fresh.body:
            body[key] = fresh.body[key]
    old_fields = old.get("fields") or {}
    by_column = {_column_of(f, s): f for f, s in old_fields.items()}
    new_by_column = {_column_of(f, s): (f, s) for f, s in fresh.body["fields"].items()}
    renames = {}
    fields: dict[str, Any] = {}
    for fname, spec in old_fields.items():
        column = _column_of(fname, spec)
        if column not in new_by_column:
            fields[fname] = spec
            fresh.report.notes.append(f"{column}: in the spec, not in the table (kept)")
            continue
        new_name, new_spec = new_by_column[column]
        renames[new_name] = fname
        kept = (
            {k: v for k, v in spec.items() if k not in DB_FIELD_KEYS}
            if isinstance(spec, dict)
            else {}
        )
        merged = {**new_spec, **kept}
        if merged.get("type") == "ref":
            merged.pop("column", None)
            if column != f"{fname}_id":
                merged["column"] = column
        elif merged.get("type") != "many":
            merged.pop("column", None)
            if column != fname:
                merged["column"] = column
        fields[fname] = merged
    for column, (fname, spec) in new_by_column.items():
        if column not in by_column:
            fields[fname] = spec
    body["fields"] = fields
    for key in ("unique_together", "indexes"):
        if key in body:
            body[key] = [
                [renames.get(n, n) for n in group] if isinstance(group, list) else group
                for group in body[key]
            ]
    for key in ("filter", "sort"):
        if isinstance(body.get(key), list):
            body[key] = [n for n in body[key] if n in fields or n in AUTOMATIC_FIELDS]
    return body


# --- spec text ---------------------------------------------------------------------------------


def _flow(value: Any) -> str:
    text = yaml.safe_dump(
        value, default_flow_style=True, width=math.inf, allow_unicode=True, sort_keys=False
    )
    return text.removesuffix("\n").removesuffix("\n...").strip()


def render_spec(
    spec: dict[str, Any], comments: dict[str, dict[str, list[str]]], skipped: dict[str, str]
) -> str:
    """The spec as YAML: one line per field, comments where the import left something out."""
    lines = ["# Imported with `backforge import database`; re-importing merges into this file."]
    for section, value in spec.items():
        if section == "resources":
            continue
        lines.append(yaml.safe_dump({section: value}, sort_keys=False, allow_unicode=True).rstrip())
    if skipped:
        lines.append("# Tables not imported:")
        lines += [f"#   {name}: {reason}" for name, reason in sorted(skipped.items())]
    lines.append("resources:")
    for name, body in spec.get("resources", {}).items():
        notes = comments.get(name, {})
        for note in notes.get("", []):
            lines.append(f"  # {note}")
        lines.append(f"  {name}:")
        if not isinstance(body, dict):
            lines.append(f"    {_flow(body)}")
            continue
        for key, value in body.items():
            if key != "fields":
                lines.append(f"    {key}: {_flow(value)}")
                continue
            lines.append("    fields:")
            for fname, fspec in value.items():
                for note in notes.get(fname, []):
                    lines.append(f"      # {note}")
                lines.append(f"      {fname}: {_flow(fspec)}")
    return "\n".join(lines) + "\n"


# --- the command -------------------------------------------------------------------------------


def service_name(url: str, given: str | None) -> str:
    if given:
        if not SERVICE_NAME.match(given):
            raise ProjectError(
                f"--service {given!r}: use lowercase letters, digits and _, starting with a letter"
            )
        return given
    tail = url.rsplit("/", 1)[-1].split("?")[0]
    tail = Path(tail).stem if url.startswith("sqlite") else tail
    name = field_name(tail or "service")[:40]
    return name if SERVICE_NAME.match(name) else "imported"


def import_database(
    url: str,
    output: Path,
    *,
    service: str | None = None,
    schema: str | None = None,
    tables: list[str] | None = None,
    reflected: dict[str, Any] | None = None,
) -> Imported:
    """Reflect ``url``, map it, merge into ``output`` when it exists, and write it (nothing is
    written when anything fails, or when the result does not validate)."""
    from backforge.importers.reflect import reflect  # the environment: only when reading
    from backforge.spec.load import load_spec_text

    if output.is_dir() or not output.parent.is_dir():
        raise ProjectError(
            f"-o {output}: name a spec file in an existing directory (e.g. -o shop.yaml)"
        )
    existing = None
    if output.is_file():
        try:
            existing = yaml.safe_load(output.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ProjectError(f"{output} is not a YAML spec to merge into: {exc}") from None
        if not isinstance(existing, dict):
            raise ProjectError(f"{output} is not a spec to merge into (not a mapping)")
    data = reflected if reflected is not None else reflect(url, schema, tables)
    name = service_name(url, service)
    result = map_schema(data, name, existing)
    if not any(r.status in ("mapped", "changed") for r in result.tables):
        raise ProjectError(f"no table of {_hidden(url)} could be imported:\n{result.summary()}")
    load_spec_text(result.text, str(output))  # SpecError: a mapping bug, nothing written
    output.write_text(result.text, encoding="utf-8")
    return result


def _hidden(url: str) -> str:
    from backforge.importers.reflect import hide_password

    return hide_password(url)
