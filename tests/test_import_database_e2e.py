"""`backforge import database` on a real PostgreSQL database that holds rows: import, generate,
take the database over (baseline + takeover revision), `alembic check` clean, the rows read
through the running service unchanged, then a spec change migrated with the rows kept."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from evolve_support import POSTGRES, Database
from live_service import serve

from backforge.cli import main
from backforge.render import base_requirements
from backforge.verify.environment import ensure_env
from backforge.verify.project import REQUIREMENTS
from backforge.verify.scratchdb import ADMIN_SCRIPT

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

DATA = Path(__file__).parent / "data" / "dbimport"


def _requirements(at: Path) -> Path:
    at.mkdir(parents=True, exist_ok=True)
    for name, text in base_requirements(REQUIREMENTS).items():
        (at / name).write_text(text)
    return at


def test_a_legacy_postgresql_database_is_imported_taken_over_and_evolved(tmp_path: Path) -> None:
    env = ensure_env(_requirements(tmp_path / "env"))
    name = f"bf_import_{secrets.token_hex(5)}"

    def admin(action: str) -> None:
        subprocess.run(
            [str(env.python), "-c", ADMIN_SCRIPT, action, name],
            env=env.environ({"BF_ADMIN_DSN": POSTGRES}),
            check=True,
            capture_output=True,
            timeout=60,
        )

    admin("create")
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        legacy = Database(tmp_path / "env", url)
        legacy.sql(
            *[s for s in (DATA / "legacy_postgres.sql").read_text().split(";\n") if s.strip()]
        )

        spec = tmp_path / "library.yaml"
        plain_url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        assert main(["import", "database", plain_url, "-o", str(spec), "--service", "library"]) == 0
        assert main(["import", "database", plain_url, "-o", str(spec), "--service", "library"]) == 0
        project = tmp_path / "library"
        assert main(["generate", str(spec), "-o", str(project)]) == 0
        versions = sorted(p.name for p in (project / "migrations" / "versions").iterdir())
        assert versions[:2] == ["0001_baseline.py", "0002_take_over_existing_tables.py"]

        db = Database(project, url)
        db.must("stamp", "0001")
        db.must("upgrade", "head")
        db.must("check")
        constraints = db.sql(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'books'::regclass ORDER BY 1"
        )
        names = [row["conname"] for row in constraints]
        assert "books_pages_check" in names  # not mapped: stays
        assert "books_price_check" not in names and "ck_books_price" in names

        environ = {"DATABASE_URL": url, "RATE_LIMIT_ENABLED": "false", "DB_READ_POOL_SIZE": "2"}
        with serve(project, "library", environ, tmp_path / "serve.log") as live:
            listed = httpx.get(f"{live.url}/api/v1/authors", trust_env=False)
            assert listed.status_code == 200, listed.text + live.log_text()[-3000:]
            authors = listed.json()["items"]
            assert [(a["id"], a["full_name"], a["mentor"]) for a in authors] == [
                (1, "Ada Lovelace", None),
                (2, "Charles Babbage", 1),
            ]
            book = httpx.get(f"{live.url}/api/v1/books/1", trust_env=False).json()
            assert (book["title"], book["price"], book["status"]) == ("Notes", "12.50", "published")
            assert sorted(book["tags"]) == [1, 2] and book["version"] == 1
            loans = httpx.get(f"{live.url}/api/v1/loans", trust_env=False).json()["items"]
            assert [(x["book"], x["author"], x["lent_on"]) for x in loans] == [(1, 2, "2024-01-02")]
            made = httpx.post(f"{live.url}/api/v1/tags", json={"label": "poetry"}, trust_env=False)
            assert made.status_code == 201, made.text

        data = yaml.safe_load(spec.read_text())
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
    finally:
        admin("drop")
