"""Evolution of marks: a mark added to a live project is a new table (and a new endpoint pair,
not breaking); a removed mark drops its table (destructive, breaking); renaming or removing a
count or mine field breaks clients and changes no table."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

from backforge.cli import main
from backforge.evolve.diff import Diff, diff, renames_in
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import ServiceIR, build_ir
from backforge.spec import load_spec_text

BASE = """
service: {name: forum}
auth: {users: true, roles: [admin, member]}
resources:
  Question:
    lookup: slug
    fields:
      slug: {type: slug, required: true, unique: true}
      title: {type: string, max_length: 200, required: true}
"""
MARKED = (
    BASE
    + """\
    sort: [votes_count]
    marks:
      vote: {count: votes_count, mine: voted}
"""
)


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def changed(old: str, new: str) -> Diff:
    spec = load_spec_text(new)
    return diff(ir_from_json(ir(old).to_json()), build_ir(spec, new), renames_in(spec))


def api(d: Diff) -> dict[str, bool]:
    return {f"{c.where}: {c.summary}": c.breaking for c in d.api}


def test_marks_read_back_from_the_json_a_project_keeps() -> None:
    original = ir(MARKED)
    again = ir_from_json(original.to_json())
    assert again.to_json() == original.to_json()
    assert schema_of(again) == schema_of(original)
    assert diff(again, original).empty
    table = schema_of(original).get("question_votes")
    assert table is not None
    assert table.primary_key == ("user_id", "question_id")
    assert {(fk.column, fk.ref_table, fk.ondelete) for fk in table.foreign_keys} == {
        ("user_id", "users", "CASCADE"),
        ("question_id", "question", "CASCADE"),
    }
    assert [i.columns for i in table.indexes] == [("question_id",)]


def test_a_mark_added_to_a_live_project_creates_its_table() -> None:
    d = changed(BASE, MARKED)
    assert [op.summary for op in d.operations] == [
        "create table question_votes (the links of Question.vote)"
    ]
    assert not d.destructive
    assert api(d) == {
        "Question.vote: new mark vote (PUT and DELETE /questions/{key}/vote)": False,
        "Question.votes_count: new read-only count of vote": False,
        "Question.voted: new read-only mine of vote": False,
        "Question: sort key votes_count added": False,
    }


def test_plan_and_generate_add_the_table_of_a_new_mark(tmp_path: Path, capsys: Any) -> None:
    base, marked = tmp_path / "base.yaml", tmp_path / "marked.yaml"
    base.write_text(textwrap.dedent(BASE))
    marked.write_text(textwrap.dedent(MARKED))
    project = tmp_path / "forum"
    assert main(["generate", str(base), "-o", str(project)]) == 0
    capsys.readouterr()
    assert main(["plan", str(marked), str(project)]) == 0
    plan = capsys.readouterr().out
    assert "create table question_votes" in plan
    assert main(["generate", str(marked), "-o", str(project)]) == 0
    (revision,) = (project / "migrations" / "versions").glob("0002_*.py")
    text = revision.read_text()
    assert '"question_votes"' in text and 'op.drop_table("question_votes")' in text
    ast.parse(text)


def test_a_removed_mark_is_destructive_and_breaking() -> None:
    d = changed(MARKED, BASE)
    assert [op.summary for op in d.destructive] == [
        "drop table question_votes (the links of Question.vote)"
    ]
    assert api(d)["Question.vote: mark vote removed (PUT and DELETE /questions/{key}/vote)"]


def test_renaming_a_count_or_a_mine_breaks_clients_and_changes_no_table() -> None:
    renamed = MARKED.replace("mine: voted", "mine: my_vote")
    d = changed(MARKED, renamed)
    assert d.operations == []
    assert api(d) == {"Question.my_vote: mine of vote renamed from voted": True}
    d = changed(
        MARKED,
        MARKED.replace("vote: {count: votes_count, mine: voted}", "vote: {mine: voted}").replace(
            "    sort: [votes_count]\n", ""
        ),
    )
    assert d.operations == []
    assert api(d)["Question.votes_count: count of vote removed"] is True
