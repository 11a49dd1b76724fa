"""`backforge import database`: the mapping from a reflected schema (a JSON fixture read from
tests/data/dbimport/legacy_postgres.sql) to a spec, without a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from backforge.cli import main
from backforge.errors import ProjectError, SpecError
from backforge.importers.database import import_database, map_check, map_schema
from backforge.importers.reflect import hide_password
from backforge.spec.load import load_spec_text

DATA = Path(__file__).parent / "data" / "dbimport"


def schema() -> dict:
    return json.loads((DATA / "legacy_postgres.json").read_text())


def imported(existing: dict | None = None) -> tuple[dict, object]:
    result = map_schema(schema(), "library", existing)
    load_spec_text(result.text, "library.yaml")  # it validates
    return yaml.safe_load(result.text), result


def test_tables_map_to_resources_with_their_names_keys_and_missing_fields() -> None:
    spec, _ = imported()
    assert spec["service"] == {"name": "library", "existing_database": True}
    author = spec["resources"]["Author"]
    assert author["table"] == "authors"
    assert author["primary_key"] == {"column": "author_id", "type": "int"}
    assert author["lacks"] == ["created_at", "updated_at", "version"]
    assert "primary_key" not in spec["resources"]["Book"]  # bigserial id: backforge's own


def test_columns_types_checks_defaults_and_uniques() -> None:
    fields = imported()[0]["resources"]["Book"]["fields"]
    assert fields["title"] == {"type": "string", "max_length": 200, "required": True}
    assert fields["price"] == {"type": "decimal", "precision": 10, "scale": 2, "min": 0}
    assert fields["rating"] == {"type": "int", "min": 1, "max": 5}
    assert fields["status"] == {
        "type": "enum",
        "values": ["draft", "published"],
        "default": "draft",
    }
    assert fields["published_on"] == {"type": "date", "index": True}
    email = imported()[0]["resources"]["Author"]["fields"]["email"]
    assert email["unique"] is True
    assert imported()[0]["resources"]["Book"]["unique_together"] == [["title", "author"]]


def test_an_unmapped_check_is_a_comment_saying_why() -> None:
    text = imported()[1].text
    assert "# CHECK books_pages_check: (pages % 2) = 0 -- not mapped" in text


def test_foreign_keys_self_references_and_link_tables() -> None:
    spec, result = imported()
    resources = spec["resources"]
    assert resources["Author"]["fields"]["mentor"] == {
        "type": "ref",
        "to": "Author",
        "on_delete": "set_null",
        "column": "mentor",
    }
    assert resources["Book"]["fields"]["author"]["on_delete"] == "cascade"
    assert resources["Book"]["fields"]["tags"] == {
        "type": "many",
        "to": "Tag",
        "link": {"table": "book_tags", "column": "book_id", "target_column": "tag_id"},
    }
    loan = resources["Loan"]  # a link table with a column of its own: a resource
    assert loan["fields"]["book"]["type"] == loan["fields"]["author"]["type"] == "ref"
    assert loan["unique_together"] == [["book", "author"]]
    statuses = {t.table: t.status for t in result.tables}
    assert statuses["book_tags"] == "link"
    assert statuses["audit_log"] == "not mapped"
    assert "no primary key" in result.summary()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("CHECK ((price >= (0)::numeric))", ("price", {"min": 0})),
        ("CHECK (((rating >= 1) AND (rating <= 5)))", ("rating", {"min": 1, "max": 5})),
        ("rating BETWEEN 1 AND 5", ("rating", {"min": 1, "max": 5})),
        ("qty > 0", ("qty", {"min": 1})),
        ("status IN ('a', 'b')", ("status", {"values": ["a", "b"]})),
        (
            "CHECK (((s)::text = ANY ((ARRAY['x'::character varying, 'y'::character varying])"
            "::text[])))",
            ("s", {"values": ["x", "y"]}),
        ),
        ("price > 0.5", None),
        ("(pages % 2) = 0", None),
        ("a >= b", None),
    ],
)
def test_check_constraints(sql: str, expected: object) -> None:
    assert map_check(sql) == expected


def test_the_same_schema_gives_the_same_bytes() -> None:
    assert map_schema(schema(), "library").text == map_schema(schema(), "library").text


def test_reimport_keeps_renames_and_additions_and_reports_dropped() -> None:
    spec, _ = imported()
    spec["resources"]["Writer"] = spec["resources"].pop("Author")
    writer = spec["resources"]["Writer"]
    writer["description"] = "People who write."
    writer["fields"]["name"] = {**writer["fields"].pop("full_name"), "column": "full_name"}
    writer["fields"]["name"]["description"] = "As printed."
    writer["sort"] = ["name"]
    for body in spec["resources"].values():  # references follow the rename
        for f in body["fields"].values():
            if f.get("to") == "Author":
                f["to"] = "Writer"
    spec["resources"]["Note"] = {"fields": {"body": "text"}}  # the user's own resource
    spec["resources"]["Shelf"] = {"table": "shelves", "fields": {"label": "string"}}
    reflected = schema()
    tags = next(t for t in reflected["tables"] if t["name"] == "tags")
    tags["columns"].append(
        {"name": "colour", "type": "varchar", "length": 20, "nullable": True, "default": None}
    )
    result = map_schema(reflected, "library", spec)
    merged = yaml.safe_load(result.text)
    load_spec_text(result.text, "library.yaml")
    writer = merged["resources"]["Writer"]
    assert "Author" not in merged["resources"]
    assert writer["description"] == "People who write."
    assert writer["fields"]["name"]["description"] == "As printed."
    assert writer["fields"]["name"]["column"] == "full_name"
    assert writer["sort"] == ["name"]
    assert merged["resources"]["Book"]["fields"]["author"]["to"] == "Writer"
    assert merged["resources"]["Note"] == {"fields": {"body": "text"}}
    assert merged["resources"]["Tag"]["fields"]["colour"] == {"type": "string", "max_length": 20}
    assert [t.table for t in result.tables if t.status == "dropped"] == ["shelves"]


def test_errors_name_the_url_without_its_password_and_write_nothing(tmp_path: Path) -> None:
    assert hide_password("postgresql://bob:s3cret@db/x") == "postgresql://bob:***@db/x"
    with pytest.raises(ProjectError, match="sqlite"):
        import_database("mysql://bob:s3cret@db/x", tmp_path / "a.yaml")
    with pytest.raises(ProjectError, match="-o"):
        import_database("sqlite:///x.db", tmp_path / "missing" / "a.yaml", reflected=schema())
    out = tmp_path / "b.yaml"
    code = main(["import", "database", "mysql://bob:s3cret@db/x", "-o", str(out)])
    assert code == 2 and not out.exists()


def test_the_command_writes_a_valid_spec_and_a_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("backforge.importers.reflect.reflect", lambda *a: schema())
    out = tmp_path / "library.yaml"
    url = "postgresql://postgres@127.0.0.1/library"
    assert main(["import", "database", url, "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {t["table"]: t["status"] for t in summary["tables"]}["audit_log"] == "not mapped"
    assert main(["validate", str(out)]) == 0


# --- SQLite (tests/data/dbimport/legacy_sqlite.sql, reflected to legacy_sqlite.json) ---------


def sqlite_spec() -> tuple[dict, str]:
    result = map_schema(json.loads((DATA / "legacy_sqlite.json").read_text()), "library")
    load_spec_text(result.text, "library.yaml")  # it validates
    return yaml.safe_load(result.text), result.text


def test_sqlite_on_delete_actions_of_inline_and_table_level_references() -> None:
    resources = sqlite_spec()[0]["resources"]
    assert resources["Author"]["fields"]["mentor"]["on_delete"] == "set_null"
    assert resources["Book"]["fields"]["author"]["on_delete"] == "cascade"
    assert resources["Loan"]["fields"]["author"]["on_delete"] == "restrict"
    assert resources["Bin"]["fields"]["parent"]["on_delete"] == "set_null"
    assert resources["Book"]["fields"]["tags"]["type"] == "many"  # two cascading keys


def test_sqlite_inline_unique_columns_composite_uniques_and_unique_indexes() -> None:
    resources = sqlite_spec()[0]["resources"]
    # an unbounded TEXT column (SQLite's usual string) stays text, unique as it is
    assert resources["Author"]["fields"]["email"] == {
        "type": "text",
        "required": True,
        "unique": True,
    }
    assert resources["Tag"]["fields"]["label"]["unique"] is True  # after VARCHAR(40)
    assert resources["Book"]["unique_together"] == [["title", "author"]]
    assert resources["Bin"]["unique_together"] == [["code", "room"], ["room", "status"]]


def test_sqlite_checks_indexes_and_unnamed_constraints() -> None:
    spec, text = sqlite_spec()
    book = spec["resources"]["Book"]["fields"]
    assert book["rating"] == {"type": "int", "min": 1, "max": 5}
    assert book["published_on"] == {"type": "date", "index": True}
    assert spec["resources"]["Bin"]["fields"]["status"] == {
        "type": "enum",
        "values": ["draft", "published"],
        "default": "draft",
    }
    assert "# CHECK: pages % 2 = 0 -- not mapped" in text  # unnamed: no "None"
    assert "# CHECK bins_code_long: length(code) > 1 -- not mapped" in text
    assert "None" not in text


def test_a_renamed_ref_field_keeps_its_column() -> None:
    data = json.loads((DATA / "legacy_sqlite.json").read_text())
    bins = next(t for t in data["tables"] if t["name"] == "bins")
    for column in bins["columns"]:
        if column["name"] == "keeper_id":
            column["name"] = "owner_id"  # `owner` is taken: the field becomes owner_2
    for fk in bins["foreign_keys"]:
        if fk["columns"] == ["keeper_id"]:
            fk["columns"] = ["owner_id"]
    spec = yaml.safe_load(map_schema(data, "library").text)
    assert spec["resources"]["Bin"]["fields"]["owner_2"]["column"] == "owner_id"


def test_a_unique_text_field_needs_an_existing_database() -> None:
    body = "resources:\n  Note:\n    fields:\n      body: {type: text, unique: true}\n"
    with pytest.raises(SpecError, match="text field cannot be unique"):
        load_spec_text("service: {name: notes}\n" + body, "notes.yaml")
    existing = "service: {name: notes, existing_database: true}\n" + body
    load_spec_text(existing, "notes.yaml")
