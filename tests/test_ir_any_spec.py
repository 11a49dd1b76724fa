"""What the IR decides so that a generated project's own tests hold for any valid spec: who the
tests of shared behaviour call as (`reader`), and which tests a spec gives no way to exercise."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project
from backforge.spec import load_spec_text
from backforge.targets.factories import factory
from backforge.targets.fastapi import body_decimal_pattern

SPECS = Path(__file__).parent / "specs"
ACCOUNTS = "auth: {users: true, roles: [admin, staff, guest], default_role: guest}\n"


def ir_of(text: str) -> ServiceIR:
    return build_ir(load_spec_text(text), text)


def spec(resources: str, head: str = ACCOUNTS) -> str:
    return "service: {name: shop}\n" + head + "resources:\n" + resources


def test_without_accounts_anybody_reads_the_first_resource() -> None:
    ir = ir_of((SPECS / "notes.yaml").read_text())
    assert (ir.reader.resource.name, ir.reader.role) == ("Note", None)
    assert ir.reader.anonymous


def test_a_later_resource_anybody_may_read_wins_over_signing_in() -> None:
    ir = ir_of(
        spec(
            "  Audit: {fields: {note: string}}\n"  # no permissions: the admin role only
            "  Shelf: {fields: {label: string}, permissions: {list: anyone, read: anyone}}\n"
        )
    )
    assert (ir.reader.resource.name, ir.reader.role) == ("Shelf", None)


def test_list_without_read_is_not_enough_for_anybody() -> None:
    ir = ir_of(spec("  Shelf: {fields: {label: string}, permissions: {list: anyone}}\n"))
    assert (ir.reader.resource.name, ir.reader.role) == ("Shelf", "admin")


def test_when_every_action_needs_a_role_the_first_role_that_may_read_signs_in() -> None:
    ir = ir_of((SPECS / "clinic.yaml").read_text())
    assert (ir.reader.resource.name, ir.reader.role) == ("Appointment", "doctor")
    assert not ir.reader.anonymous


@pytest.mark.parametrize(
    ("permissions", "role"),
    [
        ("{list: authenticated, read: authenticated}", "staff"),
        ("{list: [guest], read: [guest]}", "guest"),
        ("{list: staff, read: guest}", "admin"),  # nobody but the admin may do both
        ("{}", "admin"),  # default deny: only the admin role
    ],
)
def test_the_reader_role_may_list_and_read(permissions: str, role: str) -> None:
    ir = ir_of(spec(f"  Shelf: {{fields: {{label: string}}, permissions: {permissions}}}\n"))
    assert ir.reader.role == role
    assert ir.reader.resource.may_list_and_read(role, ir.auth)  # type: ignore[arg-type]


def test_owners_alone_reading_their_records_leaves_the_admin_role() -> None:
    """An account reads only what it owns: a fresh one could not read an existing record."""
    ir = ir_of(
        spec(
            "  Entry:\n    owned: true\n    fields: {title: string}\n"
            "    permissions: {list: owner, read: owner, create: authenticated}\n"
        )
    )
    assert (ir.reader.resource.name, ir.reader.role) == ("Entry", "admin")


def test_tests_a_spec_cannot_exercise_are_listed_with_a_reason() -> None:
    ir = ir_of(
        "service: {name: shop}\nresources:\n"
        "  Tag: {fields: {label: {type: string, unique: true, required: true}}}\n"
        "seed:\n  Tag: [{label: a}, {label: b}]\n"
    )
    assert ir.seed_drift is None  # the only text field is the natural key
    missing = {entry["test"]: entry["reason"] for entry in ir.tests_not_generated}
    assert set(missing) == {
        "tests/test_seed.py::test_seeding_sets_an_edited_record_back",
        "tests/test_queries.py::test_a_failed_<resource>_create_writes_nothing",
        "tests/test_poison.py::test_patterns_match_the_whole_text",
    }
    assert all(missing.values())


def test_a_spec_that_exercises_everything_leaves_nothing_out() -> None:
    ir = ir_of(
        "service: {name: shop}\nresources:\n"
        "  Tag:\n    fields:\n      label: {type: string, unique: true, required: true}\n"
        "      note: string\n      code: {type: string, pattern: '^[a-z]+$'}\n"
        "  Book: {fields: {tags: {type: many, to: Tag}}}\n"
        "seed:\n  Tag: [{label: a, note: first}, {label: b}]\n"
    )
    resource, field, rows = ir.seed_drift  # type: ignore[misc]
    assert (resource.name, field.name, rows) == ("Tag", "note", 1)
    assert ir.tests_not_generated == []


def test_pages_of_one_row_leave_out_the_statement_count_test() -> None:
    text = (
        "service: {name: shop}\napi: {pagination: {default_limit: 1, max_limit: 1}}\n"
        "resources:\n  Tag: {fields: {label: string}}\n"
    )
    ir = ir_of(text)
    assert not ir.query_tests  # nothing left for tests/test_queries.py
    assert "tests/test_queries.py" not in render_project(ir)
    assert any("max_limit is 1" in entry["reason"] for entry in ir.tests_not_generated)


def test_search_is_tested_on_a_field_the_test_can_write() -> None:
    ir = ir_of(
        "service: {name: shop}\nresources:\n  Tag:\n    fields:\n"
        "      code: {type: string, read_only: true, default: x, searchable: true}\n"
        "      label: {type: string, searchable: true}\n"
        "  Note:\n    fields:\n"
        "      code: {type: string, read_only: true, default: x, searchable: true}\n"
    )
    assert ir.resource("Tag").search_field.name == "label"  # type: ignore[union-attr]
    assert ir.resource("Note").search_field is None
    missing = [entry["test"] for entry in ir.tests_not_generated]
    assert "tests/test_note.py::test_search_finds_text_case_insensitively" in missing
    assert "tests/test_tag.py::test_search_finds_text_case_insensitively" not in missing


def test_bodies_that_cannot_differ_leave_out_the_reused_key_test() -> None:
    """An int with min = max and a one-value enum give every create the same body: sending it
    again under the same Idempotency-Key is a replay (201), not another body (422)."""
    ir = ir_of(
        "service: {name: shop}\nresources:\n"
        "  Group:\n    fields:\n      match: {type: int, min: 1, max: 1, required: true}\n"
        "      kind: {type: enum, values: [only]}\n"
        "  Tag: {fields: {weight: {type: int, min: 1, max: 2}}}\n"
    )
    assert not ir.resource("Group").varied_payload
    assert ir.resource("Tag").varied_payload
    varied = render_project(ir)["tests/test_idempotency.py"].split("VARIED = [")[1].split("]")[0]
    assert '("tags", tag_payload)' in varied and "group_payload" not in varied
    ir = ir_of(
        "service: {name: shop}\nresources:\n"
        "  Group: {fields: {match: {type: int, min: 1, max: 1}}}\n"
    )
    assert "test_the_same_key_with_another_body_is_422" not in render_project(ir).get(
        "tests/test_idempotency.py", ""
    )
    missing = [entry["test"] for entry in ir.tests_not_generated]
    assert "tests/test_idempotency.py::test_the_same_key_with_another_body_is_422" in missing


def test_without_text_on_create_the_poison_tests_are_not_generated() -> None:
    """Numbers, choices and references carry no text: the poison tests would get no resource
    to parametrize over (pytest skips an empty set), so they are left out and listed."""
    ir = ir_of(
        "service: {name: shop}\nresources:\n"
        "  Person:\n    fields:\n      age: int\n      mentor: {type: ref, to: Person}\n"
        "      kind: {type: enum, values: [a, b]}\n"
    )
    assert not ir.resource("Person").takes_text
    poison = render_project(ir)["tests/test_poison.py"]
    assert "TEXTUAL = []" in poison
    assert "def test_poison_in_any_field_is_refused_and_never_stored" not in poison
    assert "def test_any_accepted_body_reads_back_and_lists" not in poison
    missing = [entry["test"] for entry in ir.tests_not_generated]
    assert "tests/test_poison.py::test_any_accepted_body_reads_back_and_lists" in missing
    ir = ir_of("service: {name: shop}\nresources:\n  Tag: {fields: {price: decimal}}\n")
    assert ir.resource("Tag").takes_text
    assert (
        "def test_any_accepted_body_reads_back_and_lists"
        in render_project(ir)["tests/test_poison.py"]
    )


def test_a_decimal_with_no_whole_digit_varies_in_its_last_place() -> None:
    """NUMERIC(3, 3) holds no whole number but 0: counting in whole numbers gave every record
    the same value (a unique one answered 409); its pattern was [0-9]{1,0}, which no regex
    engine compiles."""
    ir = ir_of(
        "service: {name: shop}\nresources:\n"
        "  Tag: {fields: {share: {type: decimal, precision: 3, scale: 3, unique: true}}}\n"
    )
    share = next(f for f in ir.resource("Tag").fields if f.name == "share")
    values = {eval(factory(share), {"n": n}) for n in range(1, 200)}
    pattern = body_decimal_pattern(share)
    assert len(values) == 199 and all(re.fullmatch(pattern, v) for v in values)
    assert share.factory_varies
