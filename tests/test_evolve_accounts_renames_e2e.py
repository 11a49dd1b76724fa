"""Two evolutions that change more than columns, on a database that holds rows.

Accounts turned on and off: v1 has no `auth` and rows in `note`. v2 turns accounts on and makes
Note owned, handing the existing rows to `keeper@example.com`: its revision creates the
accounts' tables, creates that account (inactive, no password), gives it every row and makes
`owner_id` required. The bootstrap command then activates the account with a password. v3 turns
accounts off again (destructive: refused without --allow-destructive).

A renamed resource (`renamed_from`): its table, its link tables, the link column of a `many`
field pointing at it, and the constraints named after it are renamed; every row and link stays.

After every step the rows keep their values, `downgrade -1` and `upgrade head` work, and
`alembic check` finds the models and the migrations equal.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from evolve_support import Database, scratch_database

from backforge.cli import main

pytestmark = pytest.mark.e2e

V1 = """
service: {name: keeping, version: "1.0.0"}
resources:
  Note:
    fields:
      body: {type: text, required: true}
      pinned: {type: bool, default: false}
"""
V2 = V1.replace(
    "resources:\n",
    "auth: {users: true, roles: [admin, member], api_keys: true}\nresources:\n",
).replace(
    "  Note:\n",
    "  Note:\n    owned: {existing_rows: Keeper@Example.com}\n"
    "    permissions: {list: owner, read: owner, create: authenticated}\n",
)
KEEPER = "keeper@example.com"
AUTH_TABLES = ["api_keys", "audit_events", "refresh_tokens", "users"]


def tables(db: Database, backend: str) -> list[str]:
    if backend == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    else:
        query = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    return [row["name"] for row in db.sql(query) if row["name"] != "alembic_version"]


def notes(db: Database, *columns: str) -> list[tuple[object, ...]]:
    quoted = ", ".join(f'"{c}"' for c in ("id", "body", *columns))
    return [tuple(row.values()) for row in db.sql(f'SELECT {quoted} FROM "note" ORDER BY id')]


def round_trip(db: Database) -> None:
    db.must("downgrade", "-1")
    db.must("upgrade", "head")
    db.must("check")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_accounts_on_with_the_rows_handed_over_then_off(
    tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [tmp_path / f"v{n}.yaml" for n in (1, 2)]
    for path, text in zip(specs, (V1, V2), strict=True):
        path.write_text(text.lstrip(), encoding="utf-8")
    project = tmp_path / "keeping"
    assert main(["generate", str(specs[0]), "-o", str(project)]) == 0

    with scratch_database(backend, project, tmp_path) as url:
        db = Database(project, url)
        db.must("upgrade", "head")
        db.sql(
            "INSERT INTO note (body, pinned, created_at, updated_at, version) VALUES "
            "('first', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1), "
            "('second: with a colon', FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
        )
        before = notes(db)
        assert tables(db, backend) == ["idempotency_keys", "note"]

        # v2: accounts on, Note owned, its rows handed to the keeper
        capsys.readouterr()
        assert main(["plan", str(specs[1]), str(project)]) == 0
        plan = capsys.readouterr().out
        assert "create table users" in plan and "takes the rows already in note" in plan
        assert main(["generate", str(specs[1]), "-o", str(project)]) == 0
        db.must("upgrade", "head")
        assert tables(db, backend) == sorted([*AUTH_TABLES, "idempotency_keys", "note"])
        (keeper,) = db.sql('SELECT id, email, password_hash, role, is_active FROM "users"')
        assert (keeper["email"], keeper["password_hash"], keeper["role"]) == (KEEPER, "!", "admin")
        assert not keeper["is_active"]
        assert notes(db, "owner_id") == [(*row, keeper["id"]) for row in before]
        db.must("check")
        round_trip(db)  # the account stays; the rows are handed over again
        assert notes(db, "owner_id") == [(*row, keeper["id"]) for row in before]

        env = db.env
        done = subprocess.run(
            [str(env.python), "-m", "keeping.auth.bootstrap", KEEPER],
            cwd=project,
            env=env.environ({"DATABASE_URL": url, "ADMIN_PASSWORD": "correct-horse-battery-9"}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f"{KEEPER}: promoted" in done.stdout
        (keeper,) = db.sql('SELECT password_hash, is_active FROM "users"')
        assert keeper["password_hash"].startswith("$argon2") and keeper["is_active"]

        # v3: accounts off again: destructive, so refused without the flag
        specs.append(tmp_path / "v3.yaml")
        specs[2].write_text(V1.lstrip(), encoding="utf-8")
        assert main(["generate", str(specs[2]), "-o", str(project)]) == 2
        assert "every row of accounts (table users)" in capsys.readouterr().err
        args = ["generate", str(specs[2]), "-o", str(project), "--allow-destructive"]
        assert main(args) == 0
        db.must("upgrade", "head")
        assert tables(db, backend) == ["idempotency_keys", "note"]
        assert notes(db) == before
        db.must("check")
        db.must("downgrade", "-1")  # accounts back, empty; the rows' owner column comes back empty
        assert tables(db, backend) == sorted([*AUTH_TABLES, "idempotency_keys", "note"])
        db.must("upgrade", "head")
        assert notes(db) == before


LIBRARY = """
service: {name: library, version: "1.0.0"}
resources:
  Author:
    fields:
      name: {type: string, max_length: 80, required: true, unique: true}
      rank: {type: int, min: 1}
      peers: {type: many, to: Author}
  Book:
    fields:
      title: {type: string, required: true}
      author: {type: ref, to: Author, required: true, on_delete: cascade}
      tags: {type: many, to: Author}
"""
RENAMED = LIBRARY.replace("  Author:\n", "  Writer:\n    renamed_from: Author\n").replace(
    "to: Author", "to: Writer"
)


def snapshot(db: Database, writer: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row the rename must keep, in the names of the version `writer` names."""
    queries = {
        "writers": f'SELECT id, name, rank FROM "{writer}" ORDER BY id',
        "books": 'SELECT id, title, author_id FROM "book" ORDER BY id',
        "peers": f'SELECT * FROM "{writer}_peers" ORDER BY 1, 2',
        "tags": 'SELECT * FROM "book_tags" ORDER BY 1, 2',
    }
    return {k: [tuple(r.values()) for r in db.sql(q)] for k, q in queries.items()}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_renamed_resource_keeps_its_rows_and_links(
    tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    v1, v2 = tmp_path / "v1.yaml", tmp_path / "v2.yaml"
    v1.write_text(LIBRARY.lstrip(), encoding="utf-8")
    v2.write_text(RENAMED.lstrip(), encoding="utf-8")
    project = tmp_path / "library"
    assert main(["generate", str(v1), "-o", str(project)]) == 0
    with scratch_database(backend, project, tmp_path) as url:
        db = Database(project, url)
        db.must("upgrade", "head")
        stamp = "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1"
        db.sql(
            f"INSERT INTO author (name, rank, created_at, updated_at, version) VALUES "
            f"('Le Guin', 1, {stamp}), ('Herbert', NULL, {stamp})",
            f"INSERT INTO book (title, author_id, created_at, updated_at, version) VALUES "
            f"('Earthsea', 1, {stamp}), ('Dune', 2, {stamp})",
            "INSERT INTO author_peers (author_id, peers_id) VALUES (1, 2), (2, 1)",
            "INSERT INTO book_tags (book_id, author_id) VALUES (1, 2), (2, 1), (2, 2)",
        )
        before = snapshot(db, "author")

        capsys.readouterr()
        assert main(["plan", str(v2), str(project)]) == 0
        plan = capsys.readouterr().out
        assert "rename table author to writer" in plan and "0 destructive" in plan
        assert main(["generate", str(v2), "-o", str(project)]) == 0
        db.must("upgrade", "head")
        assert snapshot(db, "writer") == before
        db.must("check")
        db.must("downgrade", "-1")
        assert snapshot(db, "author") == before
        db.must("upgrade", "head")
        assert snapshot(db, "writer") == before
        db.must("check")
        # the renamed table still refuses a duplicate name and, where the helper's connection
        # enforces keys (PostgreSQL), still cascades
        duplicate = (
            "INSERT INTO writer (name, created_at, updated_at, version) "
            f"VALUES ('Le Guin', {stamp})"
        )
        with pytest.raises(AssertionError, match=r"uq_writer_name|UNIQUE"):
            db.sql(duplicate)
        if backend == "postgresql":
            db.sql('DELETE FROM "writer" WHERE id = 2')
            assert [r["title"] for r in db.sql('SELECT title FROM "book"')] == ["Earthsea"]
