"""One service through seven spec versions, on a database that holds rows from the start.

After every regeneration: the earlier revision files are byte-identical, a new revision revises
the previous head, a hand-written module survives, `alembic upgrade head` keeps every row and
value, `downgrade -1` then `upgrade head` work, `alembic check` finds the models and migrations
equal, and `backforge plan` (run before) named the breaking and destructive changes. Without
--allow-destructive the last version writes nothing. The migration timings are printed (run with
-s) and written to <tmp>/backforge-evolve-timings-<backend>.json.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from evolve_support import Database, scratch_database, tree_hash

from backforge.cli import main

pytestmark = pytest.mark.e2e

V1 = """
service: {name: evolving, version: "1.0.0"}
resources:
  Author:
    fields:
      name: {type: string, max_length: 80, required: true}
      born_on: date
  Book:
    fields:
      title: {type: string, max_length: 100, required: true}
      pages: {type: int, min: 1}
      notes: text
      status: {type: enum, values: [draft, published], default: draft}
    filter: [status]
    sort: [title]
"""

TAG = """
  Tag:
    fields:
      label: {type: string, max_length: 40, required: true, unique: true}
"""


def evolve(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


# v2: a new resource (and a many-to-many link to it)
V2 = evolve(V1, "    filter: [status]", "      tags: {type: many, to: Tag}\n    filter: [status]")
V2 += TAG
# v3: a new field with a default
V3 = evolve(V2, "      tags:", "      edition: {type: int, default: 1, min: 1}\n      tags:")
# v4: a rename that keeps the data
V4 = evolve(
    V3,
    "      title: {type: string, max_length: 100, required: true}",
    "      heading: {type: string, max_length: 100, required: true, renamed_from: title}",
).replace("sort: [title]", "sort: [heading]")
# v5: constraints widened (longer heading, pages may be 0)
V5 = evolve(
    V4, "max_length: 100, required: true, renamed", "max_length: 200, required: true, renamed"
)
V5 = evolve(V5, "pages: {type: int, min: 1}", "pages: {type: int, min: 0}")
# v6: a new relation
V6 = evolve(
    V5, "      tags:", "      author: {type: ref, to: Author, on_delete: set_null}\n      tags:"
)
# v7: a field dropped (destructive)
V7 = evolve(V6, "      notes: text\n", "")

USER_FILE = "evolving/pricing_rules.py"
USER_TEXT = '"""Hand-written: never touched by backforge."""\n\nDISCOUNT = 0.1\n'


def api(plan: dict[str, Any]) -> dict[str, bool]:
    return {
        f"{c['resource']}{'.' + c['field'] if c['field'] else ''}: {c['summary']}": c["breaking"]
        for c in plan["api"]
    }


def plan_of(spec: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["plan", str(spec), str(project), "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def books(db: Database, *columns: str) -> list[dict[str, Any]]:
    quoted = ", ".join(f'"{c}"' for c in columns)
    return db.sql(f'SELECT id, {quoted} FROM "book" ORDER BY id')


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_service_evolves_through_seven_specs_keeping_its_rows(
    tmp_path: Path, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = {}
    for number, text in enumerate([V1, V2, V3, V4, V5, V6, V7], start=1):
        specs[number] = tmp_path / f"v{number}.yaml"
        specs[number].write_text(text.lstrip(), encoding="utf-8")
    project = tmp_path / "evolving"
    timings: dict[str, dict[str, float]] = {}

    started = time.monotonic()
    assert main(["generate", str(specs[1]), "-o", str(project)]) == 0
    generated = time.monotonic() - started
    (project / USER_FILE).write_text(USER_TEXT, encoding="utf-8")

    with scratch_database(backend, project, tmp_path) as url:
        db = Database(project, url)
        timings["v1"] = {"generate_s": generated, "upgrade_s": db.must("upgrade", "head")}
        db.sql(
            "INSERT INTO author (name, born_on, created_at, updated_at, version) "
            "VALUES ('Ursula', '1929-10-21', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
            "INSERT INTO book (title, pages, notes, status, created_at, updated_at, version) "
            "VALUES ('Dune', 412, 'a classic', 'published', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP, 1), ('Emma', NULL, NULL, 'draft', CURRENT_TIMESTAMP, "
            f"CURRENT_TIMESTAMP, 1), ('{'L' * 100}', 1, 'long', 'draft', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP, 1)",
        )
        original = books(db, "title", "pages", "notes", "status")
        assert [b["title"] for b in original] == ["Dune", "Emma", "L" * 100]

        expectations = {
            2: ({"Tag: new resource at /tags": False, "Book.tags: new optional field": False}, 0),
            3: ({"Book.edition: new optional field (default 1)": False}, 0),
            4: (
                {
                    "Book.heading: renamed from title: clients must use `heading` instead": True,
                    "Book: sort key title removed": True,
                    "Book: sort key heading added": False,
                },
                0,
            ),
            5: (
                {
                    "Book.heading: most characters 100 -> 200": False,
                    "Book.pages: minimum 1 -> 0": False,
                },
                0,
            ),
            6: ({"Book.author: new optional field": False}, 0),
            7: ({"Book.notes: field removed": True}, 1),
        }
        for number in range(2, 8):
            spec = specs[number]
            plan = plan_of(spec, project, capsys)
            expected_api, destructive = expectations[number]
            assert api(plan) == expected_api, f"v{number}"
            assert plan["breaking"] == sum(expected_api.values())
            assert plan["destructive"] == destructive
            assert plan["migration"]["file"].startswith(f"migrations/versions/{number:04d}_")
            assert plan["migration"]["down_revision"] == f"{number - 1:04d}"
            history = {
                p: d for p, d in tree_hash(project).items() if p.startswith("migrations/versions/")
            }
            if number == 7:  # destructive: refused without the flag, and nothing is written
                before = tree_hash(project)
                assert plan["generate_needs"] == ["--allow-destructive"]
                assert main(["generate", str(spec), "-o", str(project)]) == 2
                message = capsys.readouterr().err
                assert "drop column book.notes" in message and "nothing was written" in message
                assert tree_hash(project) == before

            started = time.monotonic()
            flags = ["--allow-destructive"] if number == 7 else []
            assert main(["generate", str(spec), "-o", str(project), *flags]) == 0
            took = {"generate_s": time.monotonic() - started}

            # history is kept byte for byte; one new revision; the user's module is untouched
            now = {p: d for p, d in tree_hash(project).items() if p.startswith("migrations/")}
            assert {p: now[p] for p in history} == history
            new = sorted(
                set(now) - set(history) - {"migrations/env.py", "migrations/script.py.mako"}
            )
            assert new == [plan["migration"]["file"]]
            assert (project / USER_FILE).read_text(encoding="utf-8") == USER_TEXT

            took["upgrade_s"] = db.must("upgrade", "head")
            _check_rows(db, number, original)
            took["downgrade_s"] = db.must("downgrade", "-1")
            took["upgrade_again_s"] = db.must("upgrade", "head")
            took["check_s"] = db.must("check")
            took["alembic_startup_s"] = db.must("current")  # the floor of every figure above
            _check_rows(db, number, original)
            _use_the_new_schema(db, number)
            timings[f"v{number}"] = took

    report = {"backend": backend, "versions": timings}
    out = Path(tempfile.gettempdir()) / f"backforge-evolve-timings-{backend}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    with capsys.disabled():
        print(f"\nmigration timings on {backend} (seconds), also in {out}:")
        print("  version   generate  upgrade  downgrade  re-upgrade  check  (alembic startup)")
        for version, t in timings.items():
            print(
                f"  {version:8} {t['generate_s']:9.2f} {t['upgrade_s']:8.2f} "
                f"{t.get('downgrade_s', 0):10.2f} {t.get('upgrade_again_s', 0):11.2f} "
                f"{t.get('check_s', 0):6.2f}  ({t.get('alembic_startup_s', 0):.2f})"
            )


def _check_rows(db: Database, number: int, original: list[dict[str, Any]]) -> None:
    """Every row inserted at v1 is there with its values, under the current column names."""
    title = "title" if number < 4 else "heading"
    columns = [title, "pages", "status"] + (["notes"] if number < 7 else [])
    rows = books(db, *columns)
    assert [r["id"] for r in rows] == [r["id"] for r in original]
    for row, before in zip(rows, original, strict=True):
        assert row[title] == before["title"]
        assert row["pages"] == before["pages"]
        assert row["status"] == before["status"]
        if number < 7:
            assert row["notes"] == before["notes"]
    if number >= 3:
        assert [r["edition"] for r in books(db, "edition")] == [1, 1, 1]
    if number >= 6:
        assert [r["author_id"] for r in books(db, "author_id")] == [None, None, None]


def _use_the_new_schema(db: Database, number: int) -> None:
    """What each version allows works on the migrated database."""
    now = "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1"
    if number == 2:
        db.sql(
            f"INSERT INTO tag (label, created_at, updated_at, version) VALUES ('sf', {now})",
            "INSERT INTO book_tags (book_id, tag_id) SELECT b.id, t.id FROM book b, tag t "
            "WHERE b.title = 'Dune'",
        )
    if number >= 2:
        links = db.sql("SELECT count(*) AS n FROM book_tags")
        assert links == [{"n": 1}]
    if number == 5:
        db.sql(
            f"INSERT INTO book (heading, pages, status, edition, created_at, updated_at, "
            f"version) VALUES ('{'W' * 150}', 0, 'draft', 1, {now})",
            f"DELETE FROM book WHERE heading = '{'W' * 150}'",
        )
    if number == 6:
        db.sql(
            "UPDATE book SET author_id = (SELECT id FROM author WHERE name = 'Ursula') "
            "WHERE heading = 'Dune'"
        )
        assert [r["author_id"] is not None for r in books(db, "author_id")] == [
            True,
            False,
            False,
        ]
        db.sql("UPDATE book SET author_id = NULL")
