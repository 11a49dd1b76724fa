"""Evolution of nested collections: adding, removing or changing `parent` moves a resource's
list and create (API-breaking) and changes no table (no migration)."""

from __future__ import annotations

import textwrap

from backforge.evolve.diff import Diff, diff, renames_in
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import ServiceIR, build_ir
from backforge.spec import load_spec_text

FLAT = """
service: {name: forum}
resources:
  Question:
    lookup: slug
    fields:
      slug: {type: slug, required: true, unique: true}
  Tag:
    fields:
      name: {type: string, max_length: 40, required: true, unique: true}
  Answer:
    fields:
      question: {type: ref, to: Question, required: true, on_delete: cascade}
      tag: {type: ref, to: Tag, required: true}
      body: {type: text, required: true}
"""
UNDER_QUESTION = FLAT.replace("  Answer:\n", "  Answer:\n    parent: question\n")
UNDER_TAG = FLAT.replace("  Answer:\n", "  Answer:\n    parent: tag\n")


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def changed(old: str, new: str) -> Diff:
    spec = load_spec_text(new)
    return diff(ir_from_json(ir(old).to_json()), build_ir(spec, new), renames_in(spec))


def moves(d: Diff) -> list[tuple[str, bool]]:
    return [(c.summary, c.breaking) for c in d.api if "list and create move" in c.summary]


def test_a_parent_reads_back_from_the_json_a_project_keeps() -> None:
    original = ir(UNDER_QUESTION)
    again = ir_from_json(original.to_json())
    assert again.to_json() == original.to_json()
    assert again.resource("Answer").parent == "question"
    assert diff(again, original).empty


def test_adding_a_parent_moves_the_routes_and_changes_no_table() -> None:
    d = changed(FLAT, UNDER_QUESTION)
    assert moves(d) == [
        ("its list and create move: /answers -> under its question (/…/{key}/answers)", True)
    ]
    assert schema_of(ir(FLAT)) == schema_of(ir(UNDER_QUESTION))
    assert not d.operations  # no migration


def test_removing_or_changing_a_parent_is_breaking_too() -> None:
    assert moves(changed(UNDER_QUESTION, FLAT)) == [
        ("its list and create move: under its question (/…/{key}/answers) -> /answers", True)
    ]
    [(summary, breaking)] = moves(changed(UNDER_QUESTION, UNDER_TAG))
    assert breaking and "under its question" in summary and "under its tag" in summary
    assert not changed(UNDER_QUESTION, UNDER_TAG).operations


def test_an_unchanged_parent_is_no_change() -> None:
    assert changed(UNDER_QUESTION, UNDER_QUESTION).empty
