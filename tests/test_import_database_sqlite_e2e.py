"""`backforge import database` on a SQLite file that holds rows (the SQLite counterpart of
test_import_database_e2e.py): import, generate, take the file over (baseline stamped + takeover
revision), `alembic check` clean, the ON DELETE actions, unique constraints and unmapped CHECKs
kept, the rows read through the running service unchanged, then a spec change migrated with the
rows kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
import yaml
from evolve_support import Database
from live_service import serve

from backforge.cli import main
from backforge.importers.reflect import reflect

pytestmark = [pytest.mark.e2e]

DATA = Path(__file__).parent / "data" / "dbimport"


def test_a_legacy_sqlite_database_is_imported_taken_over_and_evolved(tmp_path: Path) -> None:
    path = tmp_path / "library.db"
    with sqlite3.connect(path) as legacy:
        legacy.executescript((DATA / "legacy_sqlite.sql").read_text())
    legacy.close()

    spec = tmp_path / "library.yaml"
    assert main(["import", "database", f"sqlite:///{path}", "-o", str(spec)]) == 0
    data = yaml.safe_load(spec.read_text())
    author = data["resources"]["Author"]["fields"]
    assert author["email"] == {"type": "text", "required": True, "unique": True}
    assert author["mentor"]["on_delete"] == "set_null"
    assert data["resources"]["Book"]["fields"]["author"]["on_delete"] == "cascade"
    assert data["resources"]["Tag"]["fields"]["label"]["unique"] is True
    assert "tags" in data["resources"]["Book"]["fields"]  # book_tags: two cascading keys

    project = tmp_path / "library"
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    versions = sorted(p.name for p in (project / "migrations" / "versions").iterdir())
    assert versions[:2] == ["0001_baseline.py", "0002_take_over_existing_tables.py"]
    takeover = (project / "migrations" / "versions" / versions[1]).read_text()
    assert "to take over the existing tables" in takeover
    assert "difference between the previous spec" not in takeover

    url = f"sqlite+aiosqlite:///{path}"
    db = Database(project, url)
    db.must("stamp", "0001")
    db.must("upgrade", "head")
    db.must("check")

    def foreign_keys(table: str) -> dict[str, str]:
        rows = db.sql(f"PRAGMA foreign_key_list({table})")
        return {row["from"]: row["on_delete"] for row in rows}

    assert foreign_keys("authors") == {"mentor": "SET NULL"}
    assert foreign_keys("books") == {"author_id": "CASCADE"}
    assert foreign_keys("bins") == {"parent_id": "SET NULL", "keeper_id": "CASCADE"}
    assert foreign_keys("book_tags") == {"book_id": "CASCADE", "tag_id": "CASCADE"}
    books_sql = db.sql("SELECT sql FROM sqlite_master WHERE name = 'books'")[0]["sql"]
    assert "CHECK (pages % 2 = 0)" in books_sql  # not mapped: stays
    assert "uq_books_title_author_id UNIQUE (title, author_id)" in books_sql
    tags_sql = db.sql("SELECT sql FROM sqlite_master WHERE name = 'tags'")[0]["sql"]
    assert "uq_tags_label UNIQUE (label)" in tags_sql

    environ = {"DATABASE_URL": url, "RATE_LIMIT_ENABLED": "false"}
    with serve(project, "library", environ, tmp_path / "serve.log") as live:
        listed = httpx.get(f"{live.url}/api/v1/authors", trust_env=False)
        assert listed.status_code == 200, listed.text + live.log_text()[-3000:]
        authors = listed.json()["items"]
        assert [(a["id"], a["full_name"], a["email"], a["mentor"]) for a in authors] == [
            (1, "Ada Lovelace", "ada@example.org", None),
            (2, "Charles Babbage", "cb@example.org", 1),
        ]
        book = httpx.get(f"{live.url}/api/v1/books/1", trust_env=False).json()
        assert (book["title"], book["rating"], book["author"]) == ("Notes", 5, 1)
        assert sorted(book["tags"]) == [1, 2] and book["version"] == 1
        loans = httpx.get(f"{live.url}/api/v1/loans", trust_env=False).json()["items"]
        assert [(x["book"], x["author"], x["lent_on"]) for x in loans] == [(1, 2, "2024-01-02")]
        bins = httpx.get(f"{live.url}/api/v1/bins", trust_env=False).json()["items"]
        assert [(b["code"], b["price"], b["status"], b["parent"]) for b in bins] == [
            ("A1", "3.50", "published", None),
            ("A2", None, "draft", 1),
        ]
        twice = httpx.post(
            f"{live.url}/api/v1/authors",
            json={"full_name": "Twin", "email": "ada@example.org"},
            trust_env=False,
        )
        assert twice.status_code == 409, twice.text  # the inline UNIQUE holds
        made = httpx.post(f"{live.url}/api/v1/tags", json={"label": "poetry"}, trust_env=False)
        assert made.status_code == 201, made.text

    data["resources"]["Book"]["fields"]["edition"] = {"type": "int", "default": 1, "min": 1}
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    db.must("upgrade", "head")
    db.must("check")
    rows = db.sql("SELECT id, title, edition FROM books ORDER BY id")
    assert rows == [
        {"id": 1, "title": "Notes", "edition": 1},
        {"id": 2, "title": "Engines", "edition": 1},
    ]
    assert db.sql("SELECT count(*) AS n FROM book_tags") == [{"n": 3}]
    assert foreign_keys("books") == {"author_id": "CASCADE"}
    db.sql("PRAGMA foreign_keys = ON", "DELETE FROM authors WHERE author_id = 1")
    assert db.sql("SELECT id FROM books") == [{"id": 2}]  # ON DELETE CASCADE
    assert db.sql("SELECT mentor FROM authors") == [{"mentor": None}]  # ON DELETE SET NULL
    assert db.sql("SELECT code, parent_id FROM bins") == [{"code": "A2", "parent_id": None}]


def test_the_sqlite_fixture_is_what_the_reflection_reads(tmp_path: Path) -> None:
    """tests/data/dbimport/legacy_sqlite.json (the unit tests' input) is the reflection of
    legacy_sqlite.sql: ON DELETE of inline REFERENCES and inline UNIQUE columns included."""
    path = tmp_path / "library.db"
    with sqlite3.connect(path) as legacy:
        legacy.executescript((DATA / "legacy_sqlite.sql").read_text())
    legacy.close()
    assert reflect(f"sqlite:///{path}") == json.loads((DATA / "legacy_sqlite.json").read_text())
