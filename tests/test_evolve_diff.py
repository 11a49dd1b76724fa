"""The diff of two IR snapshots: typed database operations (destructive or not), API changes
(breaking or not), renames, the reverse operations, and the revision text they render to."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest

from backforge.errors import ProjectError, SpecError
from backforge.evolve.diff import Diff, diff, renames_in
from backforge.evolve.history import history, recorded
from backforge.evolve.migration import blocks, render_revision, slug
from backforge.evolve.operations import (
    AddColumn,
    AddConstraint,
    AlterColumn,
    CreateIndex,
    CreateTable,
    DropColumn,
    DropConstraint,
    DropIndex,
    DropTable,
    FixRows,
    Guard,
    MoveLinkTable,
)
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import ServiceIR, build_ir
from backforge.spec import load_spec_text
from backforge.sqltypes import SqlType, type_change

BASE = """
service: {name: shop}
resources:
  Author:
    fields:
      name: {type: string, max_length: 80, required: true}
  Book:
    fields:
      title: {type: string, max_length: 100, required: true}
      pages: {type: int, min: 1}
      notes: text
      status: {type: enum, values: [draft, published, retired], default: draft}
      tags: {type: many, to: Tag}
    filter: [status]
    sort: [title]
  Tag:
    fields:
      label: {type: string, max_length: 40, required: true, unique: true}
"""


ISBN = '"The ISBN: 13 digits, no dashes, as printed on the back cover of the book."'


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def changed(old: str, new: str) -> Diff:
    """The diff between two specs, the old one read back from its JSON as a project keeps it."""
    new_text = textwrap.dedent(new)
    spec = load_spec_text(new_text)
    before = ir_from_json(ir(old).to_json())
    return diff(before, build_ir(spec, new_text), renames_in(spec))


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def kinds(ops: list) -> list[str]:  # type: ignore[type-arg]
    return [type(op).__name__ for op in ops]


def api(d: Diff) -> dict[str, bool]:
    return {f"{c.where}: {c.summary}": c.breaking for c in d.api}


def test_the_ir_reads_back_from_its_json() -> None:
    original = ir(BASE)
    again = ir_from_json(original.to_json())
    assert again.to_json() == original.to_json()
    assert schema_of(again) == schema_of(original)
    assert diff(again, original).empty


def test_the_schema_names_things_as_the_models_do() -> None:
    schema = schema_of(ir(BASE))
    book = schema.get("book")
    assert book is not None
    assert [c.name for c in book.columns][:3] == ["id", "title", "pages"]
    assert {c.name for c in book.checks} == {"ck_book_pages", "ck_book_status"}
    assert {i.name for i in book.indexes} == {"ix_book_status", "ix_book_title"}
    link = schema.get("book_tags")
    assert link is not None and link.link
    assert {fk.name for fk in link.foreign_keys} == {
        "fk_book_tags_book_id_book",
        "fk_book_tags_tag_id_tag",
    }
    status = book.column("status")
    assert status is not None and status.values == ("draft", "published", "retired")
    assert status.default_sql == "'draft'" and not status.nullable


def test_a_new_resource_is_a_new_table_and_not_breaking() -> None:
    d = changed(BASE, BASE + "  Room:\n    fields:\n      code: string\n")
    assert kinds(d.operations) == ["CreateTable"]
    assert not d.destructive
    assert api(d) == {"Room: new resource at /rooms": False}
    assert kinds(d.reverse) == ["DropTable"]  # the downgrade drops it again


def test_a_removed_resource_is_destructive_and_breaking() -> None:
    text = edit(BASE, "      tags: {type: many, to: Tag}\n", "")
    text = text[: text.index("  Tag:")]
    d = changed(BASE, text)
    assert kinds(d.operations) == ["DropTable", "DropTable"]  # the link table goes first
    assert [op.table for op in d.operations] == ["book_tags", "tag"]
    assert all(op.destructive for op in d.operations)
    assert "every row of Tag (table tag)" in [op.loses for op in d.operations]
    assert api(d)["Tag: resource removed (its endpoints under /tags are gone)"] is True
    assert api(d)["Book.tags: field removed"] is True
    assert kinds(d.reverse) == ["CreateTable", "CreateTable"]  # tag, then its link table


def test_a_new_field_with_a_default_fills_existing_rows() -> None:
    d = changed(
        BASE,
        edit(
            BASE,
            "      notes: text\n",
            "      notes: text\n      edition: {type: int, default: 1, min: 1}\n",
        ),
    )
    add = [op for op in d.operations if isinstance(op, AddColumn)]
    assert len(add) == 1 and not add[0].column.nullable
    assert add[0].column.default == 1 and add[0].column.default_sql == "1"
    assert kinds(d.operations) == ["AddColumn", "AddConstraint"]  # no guard: rows get 1
    assert not d.destructive
    assert api(d) == {"Book.edition: new optional field (default 1)": False}


def test_a_new_required_field_without_default_is_refused() -> None:
    d = changed(
        BASE,
        edit(
            BASE,
            "      notes: text\n",
            "      notes: text\n      isbn: {type: string, required: true}\n",
        ),
    )
    assert kinds(d.operations) == ["Refusal", "AddColumn"]
    assert len(d.refusals) == 1
    assert "cannot add the required field Book.isbn without a default" in d.refusals[0]
    assert api(d) == {"Book.isbn: new required input without default": True}
    back = [op for op in d.reverse if isinstance(op, DropColumn)]
    assert back and back[0].column.name == "isbn"
    # on a new resource it is just a column of the new table
    fresh = changed(
        BASE, BASE + "  Room:\n    fields:\n      code: {type: string, required: true}\n"
    )
    assert fresh.refusals == []


def test_a_rename_keeps_the_column_and_renames_its_index() -> None:
    new = edit(
        BASE,
        "      title: {type: string, max_length: 100, required: true}\n",
        "      heading: {type: string, max_length: 100, required: true, renamed_from: title}\n",
    )
    d = changed(BASE, new.replace("sort: [title]", "sort: [heading]"))
    assert kinds(d.operations) == ["DropIndex", "AlterColumn", "CreateIndex"]
    alter = d.operations[1]
    assert isinstance(alter, AlterColumn) and alter.renamed and not alter.type_changed
    assert (alter.old.name, alter.new.name) == ("title", "heading")
    assert not d.destructive
    assert api(d)["Book.heading: renamed from title: clients must use `heading` instead"] is True
    assert api(d)["Book: sort key title removed"] is True
    reverse = [op for op in d.reverse if isinstance(op, AlterColumn)]
    assert (reverse[0].old.name, reverse[0].new.name) == ("heading", "title")


def test_without_renamed_from_a_rename_is_a_drop_and_an_add() -> None:
    new = edit(
        BASE,
        "      title: {type: string, max_length: 100, required: true}\n",
        "      heading: {type: string, max_length: 100}\n",
    )
    d = changed(BASE, new.replace("sort: [title]", "sort: [heading]"))
    assert {"DropColumn", "AddColumn"} <= set(kinds(d.operations))
    assert [op.loses for op in d.destructive] == ["the values of column book.title"]


def test_renaming_a_ref_renames_its_foreign_key_and_index() -> None:
    old = edit(
        BASE, "      notes: text\n", "      notes: text\n      author: {type: ref, to: Author}\n"
    )
    new = edit(
        old,
        "      author: {type: ref, to: Author}\n",
        "      writer: {type: ref, to: Author, renamed_from: author}\n",
    )
    d = changed(old, new)
    names = {
        (type(op).__name__, getattr(op, "constraint", getattr(op, "index", None)).name)
        for op in d.operations
        if isinstance(op, DropConstraint | AddConstraint | DropIndex | CreateIndex)
    }
    assert names == {
        ("DropConstraint", "fk_book_author_id_author"),
        ("AddConstraint", "fk_book_writer_id_author"),
        ("DropIndex", "ix_book_author_id"),
        ("CreateIndex", "ix_book_writer_id"),
    }
    alter = next(op for op in d.operations if isinstance(op, AlterColumn))
    assert (alter.old.name, alter.new.name) == ("author_id", "writer_id")
    assert not d.destructive


def test_renaming_a_many_field_moves_its_links() -> None:
    new = edit(
        BASE,
        "      tags: {type: many, to: Tag}\n",
        "      labels: {type: many, to: Tag, renamed_from: tags}\n",
    )
    d = changed(BASE, new)
    assert kinds(d.operations) == ["MoveLinkTable"]
    move = d.operations[0]
    assert isinstance(move, MoveLinkTable)
    assert (move.old.name, move.new.name) == ("book_tags", "book_labels")
    assert not d.destructive
    assert kinds(d.reverse) == ["MoveLinkTable"]


def test_renamed_from_naming_nothing_is_refused() -> None:
    new = edit(
        BASE,
        "      title: {type: string, max_length: 100, required: true}\n",
        "      heading: {type: string, max_length: 100, required: true, renamed_from: titel}\n",
    )
    with pytest.raises(ProjectError, match="renamed_from: titel names no field of Book"):
        changed(BASE, new.replace("sort: [title]", "sort: [heading]"))


def test_a_renamed_from_already_applied_is_history() -> None:
    v2 = edit(
        BASE,
        "      title: {type: string, max_length: 100, required: true}\n",
        "      heading: {type: string, max_length: 100, required: true, renamed_from: title}\n",
    ).replace("sort: [title]", "sort: [heading]")
    d = changed(
        v2,
        v2.replace(
            "max_length: 100, required: true, renamed", "max_length: 120, required: true, renamed"
        ),
    )
    assert kinds(d.operations) == ["AlterColumn"]
    assert not d.operations[0].renamed  # type: ignore[attr-defined]


def test_the_spec_refuses_contradictory_renames() -> None:
    with pytest.raises(SpecError, match="still in the spec"):
        ir(
            edit(
                BASE,
                "      notes: text\n",
                "      notes: text\n      remarks: {type: text, renamed_from: notes}\n",
            )
        )
    with pytest.raises(SpecError, match="renamed from itself"):
        ir(edit(BASE, "      notes: text\n", "      notes: {type: text, renamed_from: notes}\n"))


def test_widening_is_safe_and_narrowing_destructive() -> None:
    wider = changed(
        BASE, edit(BASE, "max_length: 100, required: true", "max_length: 200, required: true")
    )
    assert kinds(wider.operations) == ["AlterColumn"] and not wider.destructive
    assert api(wider) == {"Book.title: most characters 100 -> 200": False}
    narrower = changed(
        BASE, edit(BASE, "max_length: 100, required: true", "max_length: 50, required: true")
    )
    assert kinds(narrower.operations) == ["FixRows", "AlterColumn"]
    cut = narrower.operations[0]
    assert isinstance(cut, FixRows) and "substr" in cut.sql and "> 50" in cut.sql
    assert [op.loses for op in narrower.destructive] == [
        "book.title: text longer than 50 characters is cut to 50"
    ]
    assert api(narrower) == {"Book.title: most characters 100 -> 50": True}


def test_min_and_max_changes_replace_the_check_constraint() -> None:
    lower = changed(BASE, edit(BASE, "pages: {type: int, min: 1}", "pages: {type: int, min: 0}"))
    assert kinds(lower.operations) == ["DropConstraint", "AddConstraint"]  # rows still fit
    assert not lower.destructive
    assert api(lower) == {"Book.pages: minimum 1 -> 0": False}
    higher = changed(BASE, edit(BASE, "pages: {type: int, min: 1}", "pages: {type: int, min: 10}"))
    guard = next(op for op in higher.operations if isinstance(op, Guard))
    assert guard.sql == 'SELECT count(*) FROM "book" WHERE NOT ("pages" >= 10)'
    assert api(higher) == {"Book.pages: minimum 1 -> 10": True}
    assert not higher.destructive  # rows that break it stop the migration; nothing is lost


def test_removing_enum_values_is_destructive_and_remaps_rows_to_the_default() -> None:
    d = changed(
        BASE, edit(BASE, "values: [draft, published, retired]", "values: [draft, published]")
    )
    fix = next(op for op in d.operations if isinstance(op, FixRows))
    assert fix.sql == 'UPDATE "book" SET "status" = \'draft\' WHERE "status" IN (\'retired\')'
    assert [op.loses for op in d.destructive] == [
        "book.status values retired (replaced by 'draft')"
    ]
    assert api(d) == {"Book.status: values removed: retired": True}
    added = changed(
        BASE,
        edit(
            BASE,
            "values: [draft, published, retired]",
            "values: [draft, published, retired, unpublished]",
        ),
    )
    assert not added.destructive
    assert api(added) == {"Book.status: values added: unpublished": False}
    assert "AlterColumn" in kinds(added.operations)  # the column grows to the longest value


def test_removing_values_of_a_required_enum_without_default_stops_on_rows() -> None:
    old = edit(
        BASE,
        "      notes: text\n",
        "      notes: text\n      kind: {type: enum, values: [a, b], required: true}\n",
    )
    d = changed(old, old.replace("values: [a, b], required", "values: [a], required"))
    guard = next(op for op in d.operations if isinstance(op, Guard) and op.lost)
    assert "IN ('b')" in guard.sql and guard.destructive


def test_optional_to_required_fills_from_the_default_or_guards() -> None:
    with_default = changed(
        BASE, edit(BASE, "      notes: text\n", "      notes: {type: text, default: none yet}\n")
    )
    fill = next(op for op in with_default.operations if isinstance(op, FixRows))
    assert fill.sql == 'UPDATE "book" SET "notes" = \'none yet\' WHERE "notes" IS NULL'
    assert not with_default.destructive
    required = changed(
        BASE, edit(BASE, "pages: {type: int, min: 1}", "pages: {type: int, min: 1, required: true}")
    )
    guard = next(op for op in required.operations if isinstance(op, Guard))
    assert guard.sql == 'SELECT count(*) FROM "book" WHERE "pages" IS NULL'
    assert api(required) == {"Book.pages: now required on create": True}


def test_a_dropped_field_is_destructive_and_its_downgrade_restores_a_nullable_column() -> None:
    required = edit(BASE, "      notes: text\n", "      notes: {type: text, required: true}\n")
    d = changed(required, edit(required, "      notes: {type: text, required: true}\n", ""))
    assert kinds(d.operations) == ["DropColumn"]
    assert d.destructive and api(d) == {"Book.notes: field removed": True}
    restore = [op for op in d.reverse if isinstance(op, AddColumn)]
    assert restore[0].column.name == "notes" and restore[0].column.nullable
    assert not any(isinstance(op, Guard) for op in d.reverse)


def test_a_new_relation_adds_a_named_foreign_key_and_index() -> None:
    d = changed(
        BASE,
        edit(
            BASE,
            "      notes: text\n",
            "      notes: text\n      author: {type: ref, to: Author, on_delete: set_null}\n",
        ),
    )
    assert kinds(d.operations) == ["AddColumn", "AddConstraint", "CreateIndex"]
    fk = d.operations[1]
    assert isinstance(fk, AddConstraint)
    assert fk.constraint.name == "fk_book_author_id_author"
    assert fk.constraint.ondelete == "SET NULL"  # type: ignore[union-attr]
    assert api(d) == {"Book.author: new optional field": False}


def test_unique_added_is_breaking_and_guarded_against_duplicates() -> None:
    d = changed(
        BASE,
        edit(BASE, "      notes: text\n", "      notes: {type: text}\n").replace(
            "title: {type: string, max_length: 100, required: true}",
            "title: {type: string, max_length: 100, required: true, unique: true}",
        ),
    )
    guard = next(op for op in d.operations if isinstance(op, Guard))
    assert "GROUP BY" in guard.sql and "uq_book_title" in guard.message
    assert api(d)["Book.title: now unique (duplicates are refused with 409)"] is True


def test_api_only_changes_have_no_database_operations() -> None:
    d = changed(
        BASE, edit(BASE, "      notes: text\n", "      notes: {type: text, read_only: true}\n")
    )
    assert d.operations == []
    assert api(d) == {"Book.notes: no longer accepted on writes": True}


def test_type_changes_are_classified() -> None:
    integer, text = SqlType("Integer"), SqlType("Text")
    assert type_change(integer, SqlType("BigInteger")) == ("widen", None)
    assert type_change(SqlType("String", 10), text) == ("widen", None)
    assert type_change(text, SqlType("String", 10))[0] == "narrow"
    numeric = SqlType("Numeric", precision=10, scale=2)
    assert type_change(numeric, SqlType("Numeric", precision=12, scale=2)) == ("widen", None)
    assert type_change(numeric, SqlType("Numeric", precision=10, scale=1))[0] == "narrow"
    assert type_change(integer, SqlType("String", 255)) == ("convert", None)
    change, note = type_change(SqlType("String", 255), integer)
    assert change == "convert"
    assert note == "values that do not convert to Integer fail the migration"


def test_a_changed_type_is_converted_with_a_cast() -> None:
    d = changed(BASE, edit(BASE, "      notes: text\n", "      notes: int\n"))
    alter = next(op for op in d.operations if isinstance(op, AlterColumn))
    assert alter.using == '"notes"::integer'
    assert alter.destructive
    assert api(d) == {"Book.notes: type text -> int": True}


# --- the revision text -------------------------------------------------------------------------


def test_blocks_group_one_table_and_phase() -> None:
    new = edit(
        BASE,
        "      title: {type: string, max_length: 100, required: true}\n",
        "      heading: {type: string, max_length: 200, required: true, renamed_from: title}\n",
    )
    d = changed(BASE, new.replace("sort: [title]", "sort: [heading]"))
    grouped = blocks(d.operations)
    assert [(b.table, b.batch, len(b.operations)) for b in grouped] == [
        ("book", True, 1),  # drop the old index
        ("book", True, 1),  # rename and widen
        ("book", True, 1),  # create the new index
    ]
    assert slug(d.operations) == "rename_book_title_to_heading"


def project_with(tmp_path: Path, *revisions: tuple[str, str, str | None]) -> Path:
    """A project whose manifest records these revisions (file name, id, down revision)."""
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    record = []
    for name, rev, down in revisions:
        (versions / name).write_text(f'"""{name}"""\n')
        record.append(
            {"file": f"migrations/versions/{name}", "revision": rev, "down_revision": down}
        )
    (tmp_path / ".backforge").mkdir()
    (tmp_path / ".backforge" / "manifest.json").write_text(json.dumps({"migrations": record}))
    return tmp_path


def test_history_finds_the_head_and_the_next_number(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        ("0001_initial.py", "0001", None),
        ("0002_add_tag.py", "0002", "0001"),
        ("a1b2c3_seed.py", "a1b2c3", "0002"),  # written by hand with `alembic revision`
    )
    past = history(project)
    assert past.head == "a1b2c3" and past.next_number == 3
    assert [s.revision for s in past.scripts] == ["0001", "0002", "a1b2c3"]


def test_a_revision_file_the_manifest_does_not_record_is_left_to_alembic(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0001_initial.py", "0001", None))
    assert recorded(project) is not None
    (project / "migrations" / "versions" / "0002_by_hand.py").write_text("# by hand\n")
    assert recorded(project) is None  # only Alembic can say what this file is
    (project / "migrations" / "versions" / "0002_by_hand.py").unlink()
    (project / "migrations" / "versions" / "__init__.py").write_text("")
    assert [s.revision for s in recorded(project) or []] == ["0001"]


def test_history_refuses_two_heads(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        ("0001_initial.py", "0001", None),
        ("0002_a.py", "0002", "0001"),
        ("0003_b.py", "0003", "0001"),
    )
    with pytest.raises(ProjectError, match="2 heads"):
        history(project)


@pytest.mark.parametrize(
    "new",
    [
        edit(BASE, "max_length: 100, required: true", "max_length: 50, required: true"),
        edit(BASE, "values: [draft, published, retired]", "values: [draft, published]"),
        edit(
            BASE,
            "      tags: {type: many, to: Tag}\n",
            "      labels: {type: many, to: Tag, renamed_from: tags}\n",
        ),
        edit(
            BASE,
            "      notes: text\n",
            "      notes: text\n      isbn: {type: string, default: x, description: "
            + ISBN
            + "}\n",
        ),
        BASE[: BASE.index("  Tag:")].replace("      tags: {type: many, to: Tag}\n", ""),
    ],
)
def test_revisions_are_valid_python_within_the_line_length(tmp_path: Path, new: str) -> None:
    project = project_with(tmp_path, ("0001_initial.py", "0001", None))
    d = changed(BASE, new)
    revision = render_revision(history(project), ir(new), d.operations, d.reverse, d.api)
    assert revision.path.startswith("migrations/versions/0002_")
    tree = ast.parse(revision.text)
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert {"upgrade", "downgrade"} <= names
    assert 'down_revision: str | None = "0001"' in revision.text
    long = [line for line in revision.text.splitlines() if len(line) > 100]
    assert not [line for line in long if line.lstrip().startswith(("#", "-", '"', "'"))]


def test_drop_table_definitions_are_kept_for_the_downgrade() -> None:
    text = BASE[: BASE.index("  Tag:")].replace("      tags: {type: many, to: Tag}\n", "")
    d = changed(BASE, text)
    recreated = [op for op in d.reverse if isinstance(op, CreateTable)]
    tag = next(op.definition for op in recreated if op.table == "tag")
    assert {u.name for u in tag.uniques} == {"uq_tag_label"}
    dropped = [op for op in d.operations if isinstance(op, DropTable)]
    assert dropped[0].definition.link


def test_a_ref_to_another_resource_is_a_new_column_with_its_own_index() -> None:
    old = edit(
        BASE, "      notes: text\n", "      notes: text\n      owner: {type: ref, to: Author}\n"
    )
    d = changed(old, old.replace("owner: {type: ref, to: Author}", "owner: {type: ref, to: Tag}"))
    assert kinds(d.operations) == [
        # the key first: MySQL / MariaDB refuse to drop an index a foreign key uses
        "DropConstraint",
        "DropIndex",
        "DropColumn",
        "AddColumn",
        "AddConstraint",
        "CreateIndex",
    ]
    assert [op.loses for op in d.destructive] == ["the values of column book.owner_id"]
    assert api(d) == {"Book.owner: now refers to Tag instead of Author": True}


def test_service_wide_api_changes() -> None:
    text = BASE.replace("service: {name: shop}", "service: {name: shop}\napi: {base_path: /v2}")
    d = changed(BASE, text.replace("/v2}", "/v2, pagination: {style: offset, max_limit: 50}}"))
    assert api(d) == {
        "API: base path /api/v1 -> /v2": True,
        "API: pagination cursor -> offset": True,
        "API: max_limit lowered 100 -> 50": True,
    }
    assert d.operations == []


def test_the_idempotency_table_is_created_for_an_older_project_and_never_dropped(
    tmp_path: Path,
) -> None:
    new = ir(BASE)
    assert "idempotency_keys" in schema_of(new).names
    same = diff(new, new)
    assert same.empty
    older = ir(BASE)
    older.system_tables = []  # an ir.json written before the table existed
    upgrade = diff(ir_from_json(older.to_json()), new)
    assert [(type(op), op.table) for op in upgrade.operations] == [
        (CreateTable, "idempotency_keys")
    ]
    assert not upgrade.destructive and not upgrade.refusals
    project = project_with(tmp_path, ("0001_initial.py", "0001", None))
    text = render_revision(
        history(project), new, upgrade.operations, upgrade.reverse, upgrade.api
    ).text
    ast.parse(text)
    assert 'op.create_table(\n        "idempotency_keys"' in text
    assert 'op.drop_table("idempotency_keys")' in text


OWNED = """
service: {name: shop}
auth: {users: true, roles: [admin, member]}
resources:
  Order:
    owned: true
    fields: {note: string}
    permissions: {read: owner, create: authenticated}
  Item:
    fields:
      order: {type: ref, to: Order, required: true}
    permissions: {read: authenticated, create: authenticated}
"""


def test_owned_through_changes_the_api_not_the_tables() -> None:
    through = edit(OWNED, "  Item:\n", "  Item:\n    owned: {through: order}\n")
    through = edit(through, "{read: authenticated,", "{read: owner,")
    again = ir_from_json(ir(through).to_json())
    assert again.resource("Item").through == "order"
    assert schema_of(again) == schema_of(ir(OWNED))  # no owner column, nothing else
    d = changed(OWNED, through)
    assert d.operations == []
    assert api(d) == {
        "Item: now owned through order: only the owner of its order (and roles that see "
        "every record) may see or change a record": True,
        "Item: who may read: authenticated -> owner": True,
    }
    back = changed(through, OWNED)
    assert back.operations == []
    assert api(back) == {
        "Item: no longer owned through order": False,
        "Item: who may read: owner -> authenticated": False,
    }


PLAIN = """
service: {name: shop}
resources:
  Order:
    fields: {note: string}
"""
ACCOUNTS = "auth: {users: true, roles: [admin, member], api_keys: true}\n"
WITH_ACCOUNTS = edit(PLAIN, "resources:\n", ACCOUNTS + "resources:\n")
OWNED_WITH_ROWS = edit(
    WITH_ACCOUNTS,
    "    fields: {note: string}",
    "    owned: {existing_rows: keeper@example.com}\n    fields: {note: string}",
)


def test_turning_accounts_on_creates_their_tables_first_and_off_drops_them() -> None:
    on = changed(PLAIN, WITH_ACCOUNTS)
    created = [op.table for op in on.operations]
    assert created == ["users", "refresh_tokens", "api_keys", "audit_events"]
    assert all(isinstance(op, CreateTable) for op in on.operations)
    assert [op.table for op in on.reverse] == created[::-1]
    assert not on.destructive
    assert api(on)[
        "API: accounts added: sign-in and tokens under /auth; actions not open to "
        "`anyone` now answer 401 without a token"
    ]
    assert api(on)["Order: who may create: anyone -> nobody"] is True
    off = changed(WITH_ACCOUNTS, PLAIN)
    assert [op.table for op in off.operations] == created[::-1]
    lost = [op.loses for op in off.destructive]
    assert lost[:1] == ["every row of the audit log (table audit_events)"]
    assert "every row of accounts (table users)" in lost
    # the tables the diff creates are the tables auth/models.py maps (alembic check proves it
    # end to end); a project that had accounts all along sees no change
    assert changed(WITH_ACCOUNTS, WITH_ACCOUNTS).empty


def test_owning_existing_rows_needs_the_account_that_takes_them() -> None:
    owned = edit(
        WITH_ACCOUNTS, "    fields: {note: string}", "    owned: true\n    fields: {note: string}"
    )
    refused = changed(WITH_ACCOUNTS, owned)
    (message,) = refused.refusals
    assert "cannot make Order owned: the rows already in order would have no owner" in message
    assert "owned: {existing_rows: admin@example.com}" in message
    assert "`python -m shop.auth.bootstrap <email>`" in message  # the service's own command

    handed = changed(WITH_ACCOUNTS, OWNED_WITH_ROWS)
    assert not handed.refusals and not handed.destructive
    assert kinds(handed.operations) == [
        "FixRows",
        "AddColumn",
        "FillColumn",
        "RequireColumn",
        "AddConstraint",
        "CreateIndex",
    ]
    create, add, fill, require = handed.operations[:4]
    assert (
        'INSERT INTO "users"' in create.sql
        and "'keeper@example.com', '!', 'admin', FALSE" in create.sql
    )
    assert "WHERE NOT EXISTS" in create.sql
    assert add.column.name == "owner_id" and add.column.nullable
    assert fill.sql == (
        'UPDATE "order" SET "owner_id" = (SELECT "id" FROM "users" WHERE "email" = '
        "'keeper@example.com') WHERE \"owner_id\" IS NULL"
    )
    assert require.old.nullable and not require.new.nullable
    assert api(handed)[
        "Order: now owned: a record belongs to the account that creates it, and "
        "only its owner (and roles that see every record) may see or change it"
    ]
    # the column goes with the ownership; the account stays
    assert kinds(handed.reverse) == ["DropConstraint", "DropIndex", "DropColumn"]
    # all at once: accounts on and the rows handed over, in one revision, tables first
    at_once = changed(PLAIN, OWNED_WITH_ROWS)
    assert kinds(at_once.operations)[:4] == ["CreateTable"] * 4
    assert kinds(at_once.operations)[4:] == kinds(handed.operations)
    # once owned, the hint is history: no change
    assert changed(OWNED_WITH_ROWS, OWNED_WITH_ROWS).empty


def test_the_handover_renders_in_the_order_it_runs(tmp_path: Path) -> None:
    new = ir(OWNED_WITH_ROWS)
    d = changed(PLAIN, OWNED_WITH_ROWS)
    project = project_with(tmp_path, ("0001_initial.py", "0001", None))
    text = render_revision(history(project), new, d.operations, d.reverse, d.api).text
    ast.parse(text)
    steps = [
        '"users"',
        '"audit_events"',
        "INSERT INTO",
        "add_column",
        "UPDATE",
        "alter_column",
        "create_foreign_key",
    ]
    upgrade = text[text.index("def upgrade") : text.index("def downgrade")]
    at = [upgrade.index(step) for step in steps]
    assert at == sorted(at), text
    assert "python -m shop.auth.bootstrap keeper@example.com" in " ".join(text.split())


LIBRARY = """
service: {name: shop}
resources:
  Author:
    fields:
      name: {type: string, max_length: 80, required: true, unique: true}
      rank: {type: int, min: 1}
      peers: {type: many, to: Author}
  Book:
    fields:
      title: {type: string, required: true}
      author: {type: ref, to: Author, on_delete: cascade}
      tags: {type: many, to: Author}
"""
WRITER = edit(
    edit(LIBRARY, "  Author:\n    fields:", "  Writer:\n    renamed_from: Author\n    fields:"),
    "to: Author",
    "to: Writer",
).replace("to: Author", "to: Writer")


def test_a_renamed_resource_renames_its_table_and_names_keeping_the_rows() -> None:
    d = changed(LIBRARY, WRITER)
    assert not d.refusals and not d.destructive
    ops = [op.summary for op in d.operations]
    assert ops[0] == "rename table author to writer"
    assert "create table writer_peers (the links of Writer.peers)" not in ops  # moved, not new
    assert "move the links of Author.peers from author_peers to writer_peers" in ops
    # the constraints and indexes named after the table get the new name
    for old_name, new_name in (
        ("uq_author_name", "uq_writer_name"),
        ("ck_author_rank", "ck_writer_rank"),
        ("fk_book_author_id_author", "fk_book_author_id_writer"),
    ):
        assert any(old_name in s and s.startswith("drop") for s in ops), (old_name, ops)
        assert any(new_name in s and s.startswith("add") for s in ops), (new_name, ops)
    # Book.tags points at the renamed resource: its link table stays, the column is renamed
    assert "alter column book_tags.author_id: rename to writer_id" in ops
    assert not any("drop column" in s or "drop table" in s for s in ops), ops
    assert api(d) == {
        "Writer: renamed from Author (its schemas are named Writer)": True,
        "Writer: collection moved /authors -> /writers": True,
    }
    # the reverse renames back
    back = [op.summary for op in d.reverse]
    assert "rename table writer to author" in back
    assert "alter column book_tags.writer_id: rename to author_id" in back
    # once applied the hint is history; a hint naming nothing is refused
    assert changed(WRITER, WRITER).empty
    with pytest.raises(ProjectError, match="renamed_from: Scribe names no resource"):
        changed(LIBRARY, WRITER.replace("renamed_from: Author", "renamed_from: Scribe"))


def test_a_rename_renders_with_the_postgresql_names(tmp_path: Path) -> None:
    d = changed(LIBRARY, WRITER)
    project = project_with(tmp_path, ("0001_initial.py", "0001", None))
    text = render_revision(history(project), ir(WRITER), d.operations, d.reverse, d.api).text
    ast.parse(text)
    assert 'op.rename_table("author", "writer")' in text
    assert 'RENAME CONSTRAINT "pk_author" TO "pk_writer"' in text
    assert 'ALTER SEQUENCE IF EXISTS "author_id_seq" RENAME TO "writer_id_seq"' in text
    assert revision_name(text).startswith("shop: rename author to writer and ")


def revision_name(text: str) -> str:
    return text.splitlines()[1].strip('"')


NAMED = """
service: {name: shop}
resources:
  Member:
    fields:
      code: {type: uuid, required: true, unique: true}
      nick: {type: slug, required: true, unique: true}
"""


def test_changing_lookup_moves_every_item_url() -> None:
    by_code = edit(NAMED, "  Member:\n", "  Member:\n    lookup: code\n")
    assert ir_from_json(ir(by_code).to_json()).resource("Member").lookup == "code"
    d = changed(NAMED, by_code)
    assert d.operations == []  # the field is unique already: nothing changes in the tables
    assert api(d) == {
        "Member: item URLs name records by code, not id: /members/{id} -> /members/{code}": True
    }
    by_nick = edit(by_code, "lookup: code", "lookup: nick")
    assert api(changed(by_code, by_nick)) == {
        "Member: item URLs name records by nick, not code: /members/{code} -> /members/{nick}": True
    }
    assert api(changed(by_nick, NAMED)) == {
        "Member: item URLs name records by id, not nick: /members/{nick} -> /members/{id}": True
    }
    assert api(changed(by_code, by_code)) == {}


ACTIONS = BASE.replace(
    "    sort: [title]\n",
    """\
    sort: [title]
    actions:
      publish:
        when: {status: draft}
        sets: {status: published, notes: {input: note}}
        input:
          note: {type: text, max_length: 500}
      rate:
        handler: true
        input: {stars: {type: int, min: 1, max: 5, required: true}}
        output: {average: {type: float, required: true}}
""",
)


def test_actions_read_back_and_change_no_table() -> None:
    original = ir(ACTIONS)
    again = ir_from_json(original.to_json())
    assert again.to_json() == original.to_json()
    assert again.resource("Book").actions[1].inputs[0].maximum == 5
    assert diff(again, original).empty
    d = changed(BASE, ACTIONS)
    assert d.operations == []
    assert api(d) == {
        "Book.publish: new action publish (POST /books/{key}/publish)": False,
        "Book.rate: new action rate (POST /books/{key}/rate)": False,
    }


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("      rate:\n", "      rated:\n", None),  # a removed (and an added) action
        (
            "note: {type: text, max_length: 500}",
            "note: {type: text, max_length: 50}",
            {"Book.publish.note: most characters 500 -> 50": True},
        ),
        (
            "note: {type: text, max_length: 500}",
            "note: {type: text, max_length: 900}",
            {"Book.publish.note: most characters 500 -> 900": False},
        ),
        (
            "note: {type: text, max_length: 500}",
            "note: {type: text, max_length: 500, required: true}",
            {"Book.publish.note: action input now required": True},
        ),
        (
            "        input:\n          note: {type: text, max_length: 500}\n",
            "        input:\n          note: {type: text, max_length: 500}\n          why: text\n",
            {"Book.publish.why: new optional action input": False},
        ),
        (
            "when: {status: draft}",
            "when: {status: retired}",
            {'Book.publish: precondition of publish changed: {"status": "retired"}': True},
        ),
        (
            "output: {average: {type: float, required: true}}",
            "output: {average: {type: float, required: true}, votes: int}",
            {"Book.rate: the answer of rate changed": True},
        ),
    ],
)
def test_action_changes_are_classified(old: str, new: str, expected: dict | None) -> None:  # type: ignore[type-arg]
    d = changed(ACTIONS, edit(ACTIONS, old, new))
    assert d.operations == []
    found = api(d)
    if old == "      rate:\n":
        assert found == {
            "Book.rate: action rate removed (POST /books/{key}/rate)": True,
            "Book.rated: new action rated (POST /books/{key}/rated)": False,
        }
    else:
        assert found == expected


def test_narrowing_who_may_run_an_action_is_breaking() -> None:
    bookclub = (Path(__file__).parents[1] / "examples" / "bookclub.yaml").read_text()
    allowed = "allow: [editor, owner]"
    assert allowed in bookclub
    assert api(changed(bookclub, edit(bookclub, allowed, "allow: owner"))) == {
        "Book.publish: who may publish: editor, owner -> owner": True
    }
    assert api(changed(bookclub, edit(bookclub, allowed, "allow: [editor, member, owner]"))) == {
        "Book.publish: who may publish: editor, owner -> editor, member, owner": False
    }
