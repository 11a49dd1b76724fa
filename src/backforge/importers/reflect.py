"""Reading an existing database's schema: a script run with SQLAlchemy in the generated
projects' pinned environment (backforge itself does not depend on SQLAlchemy), which prints the
schema as JSON for ``importers.database`` to map."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from backforge.errors import ProjectError
from backforge.render import base_requirements
from backforge.verify.environment import ensure_env
from backforge.verify.project import REQUIREMENTS

# argv: URL, schema ("" for the default), then the tables to read (none: every table).
# Prints {"dialect", "tables": [...]}, or {"error": ...} and exits 3.
REFLECT = r"""
import asyncio, json, sys
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

url, schema, wanted = sys.argv[1], sys.argv[2] or None, sys.argv[3:]

def kind(t):
    name = type(t).__name__.lower()
    out = {"type": getattr(t, "__visit_name__", name).lower(), "class": name}
    for attr in ("length", "precision", "scale", "timezone"):
        value = getattr(t, attr, None)
        if isinstance(value, (int, bool)):
            out[attr] = value
    enums = getattr(t, "enums", None)
    if enums:
        out["values"] = list(enums)
    return out

def sqlite_fill(conn, table, foreign_keys, uniques):
    # What SQLAlchemy's SQLite reflection leaves out, from SQLite's own catalogue: it finds a
    # foreign key's ON DELETE only in a table-level FOREIGN KEY clause (not on a column's
    # REFERENCES), and inline UNIQUE columns only after a type without parentheses.
    def pragma(what, of):
        quoted = '"' + of.replace('"', '""') + '"'
        return [dict(r._mapping) for r in conn.exec_driver_sql(f"PRAGMA {what}({quoted})")]
    grouped = {}
    for row in pragma("foreign_key_list", table):
        grouped.setdefault(row["id"], []).append(row)
    actions = {}
    for rows in grouped.values():
        rows.sort(key=lambda r: r["seq"])
        key = (tuple(r["from"] for r in rows), rows[0]["table"])
        actions[key] = (rows[0]["on_delete"] or "NO ACTION").upper()
    for fk in foreign_keys:
        action = actions.get((tuple(fk["columns"]), fk["ref_table"]))
        if action is not None:
            fk["ondelete"] = action
    known = {tuple(u["columns"]) for u in uniques}
    for index in pragma("index_list", table):
        if index["origin"] != "u" or index.get("partial"):
            continue  # "u": a UNIQUE constraint (not a CREATE UNIQUE INDEX, not the key)
        columns = tuple(r["name"] for r in sorted(pragma("index_info", index["name"]),
                                                  key=lambda r: r["seqno"]))
        if columns not in known and None not in columns:
            known.add(columns)
            uniques.append({"name": None, "columns": list(columns)})

def read(conn):
    inspector = sa.inspect(conn)
    schemas = inspector.get_schema_names()
    if schema is not None and schema not in schemas:
        return {"error": f"unknown schema {schema!r} (it has: {', '.join(sorted(schemas))})"}
    names = sorted(inspector.get_table_names(schema=schema))
    missing = [t for t in wanted if t not in names]
    if missing:
        return {"error": f"unknown table(s) {', '.join(missing)} (it has: {', '.join(names)})"}
    tables = []
    for name in (wanted or names):
        if name == "alembic_version":
            continue
        columns = []
        for c in inspector.get_columns(name, schema=schema):
            default = c.get("default")
            columns.append({
                "name": c["name"], **kind(c["type"]), "nullable": bool(c["nullable"]),
                "default": None if default is None else str(default),
                "identity": bool(c.get("identity")) or bool(c.get("autoincrement") is True),
                "comment": c.get("comment"),
            })
        def guard(call, fallback):
            try:
                return call()
            except NotImplementedError:
                return fallback
        pk = inspector.get_pk_constraint(name, schema=schema)
        foreign_keys = [
            {"name": fk.get("name"), "columns": fk["constrained_columns"],
             "ref_table": fk["referred_table"], "ref_columns": fk["referred_columns"],
             "ondelete": ((fk.get("options") or {}).get("ondelete") or "NO ACTION").upper()}
            for fk in inspector.get_foreign_keys(name, schema=schema)
        ]
        uniques = [
            {"name": u.get("name"), "columns": u["column_names"]}
            for u in guard(lambda: inspector.get_unique_constraints(name, schema=schema), [])
        ]
        if conn.dialect.name == "sqlite":
            sqlite_fill(conn, name, foreign_keys, uniques)
        tables.append({
            "name": name,
            "columns": columns,
            "primary_key": list(pk.get("constrained_columns") or []),
            "foreign_keys": foreign_keys,
            "uniques": uniques,
            "indexes": [
                {"name": i.get("name"), "columns": [c for c in i["column_names"] if c],
                 "unique": bool(i["unique"]),
                 "expressions": any(c is None for c in i["column_names"])
                 or bool((i.get("dialect_options") or {}).get("postgresql_where")),
                 "constraint": bool(i.get("duplicates_constraint"))}
                for i in inspector.get_indexes(name, schema=schema)
            ],
            "checks": [
                {"name": c.get("name"), "sql": c["sqltext"]}
                for c in guard(lambda: inspector.get_check_constraints(name, schema=schema), [])
            ],
        })
    return {"dialect": conn.dialect.name, "tables": tables}

async def main():
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.run_sync(read)
    except Exception as exc:
        result = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    finally:
        await engine.dispose()
    print(json.dumps(result, sort_keys=True))
    sys.exit(3 if "error" in result else 0)

asyncio.run(main())
"""


def async_url(url: str) -> str:
    """The URL with the async driver the project environment has."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ProjectError(f"{hide_password(url)} is not a database URL (scheme://...)")
    base = scheme.split("+")[0]
    drivers = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
    drivers["sqlite"] = "sqlite+aiosqlite"
    if base not in drivers:
        raise ProjectError(
            f"{hide_password(url)}: backforge imports PostgreSQL (postgresql://) and SQLite "
            "(sqlite:///path) databases"
        )
    if base == "sqlite":  # the reading runs elsewhere: a relative path is from here
        path, query = rest.removeprefix("/"), ""
        path, _, query = path.partition("?")
        if not path or not Path(path).is_file():
            raise ProjectError(f"{url}: no SQLite database file at {path or '(none)'}")
        rest = "/" + str(Path(path).resolve()) + (f"?{query}" if query else "")
    return f"{drivers[base]}://{rest}"


def hide_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def reflect(url: str, schema: str | None = None, tables: list[str] | None = None) -> Any:
    """The schema of the database at ``url`` as JSON data (ProjectError when it cannot be
    read), read in the generated projects' pinned environment."""
    driver_url = async_url(url)
    with tempfile.TemporaryDirectory(prefix="backforge-import-") as tmp:
        root = Path(tmp)
        # the environment is keyed by these files alone
        for name, text in base_requirements(REQUIREMENTS).items():
            (root / name).write_text(text, encoding="utf-8")
        env = ensure_env(root)
        done = env.run_python(
            root, "-c", REFLECT, driver_url, schema or "", *(tables or []), timeout=300
        )
    lines = done.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else {"error": done.stderr.strip()[-500:]}
    except ValueError:
        data = {"error": done.stdout[-500:]}
    if "error" in data:
        raise ProjectError(
            f"cannot read the database {hide_password(url)}: {data['error']}; check the URL, "
            "that the server runs and the user may read the schema"
        )
    return data
