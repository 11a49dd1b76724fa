"""`parent:` (nested collections): what the spec checks refuse, where, and how to fix it; the IR
and the routes of a valid nested spec."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from backforge.cli import main
from backforge.errors import Problem, SpecError
from backforge.ir import build_ir
from backforge.spec import load_spec_text

HEAD = "service: {name: forum}\nresources:\n"  # the resources below start on line 3
QUESTION = """\
Question:
  lookup: slug
  fields:
    slug: {type: slug, required: true, unique: true}
"""  # lines 3-6; the Answer below starts on line 7


def spec(answer: str, question: str = QUESTION) -> str:
    body = question + textwrap.dedent(answer)
    return HEAD + textwrap.indent(body, "  ")


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    return caught.value.problems


# (resources of Answer, line, path, words in the message, words in the fix)
CASES = {
    "unknown field": (
        "Answer:\n  parent: questoin\n  fields:\n"
        "    question: {type: ref, to: Question, required: true}\n",
        8,
        "resources.Answer.parent",
        "not a field of Answer",
        "did you mean `question`",
    ),
    "not a ref": (
        "Answer:\n  parent: body\n  fields:\n    body: {type: text, required: true}\n",
        8,
        "resources.Answer.parent",
        "is a text field",
        "type: ref",
    ),
    "not required": (
        "Answer:\n  parent: question\n  fields:\n    question: {type: ref, to: Question}\n",
        8,
        "resources.Answer.parent",
        "is not required",
        "required: true",
    ),
    "write-only": (
        "Answer:\n  parent: question\n  fields:\n"
        "    question: {type: ref, to: Question, required: true, write_only: true}\n",
        8,
        "resources.Answer.parent",
        "is write_only",
        "remove `write_only: true`",
    ),
    "a parent action named like the plural": (
        "Answer:\n  parent: question\n  fields:\n"
        "    question: {type: ref, to: Question, required: true}\n",
        8,
        "resources.Answer.parent",
        "the action 'answers' of Question",
        "plural:",
    ),
}


@pytest.mark.parametrize(
    ("answer", "line", "path", "message", "fix"), CASES.values(), ids=CASES.keys()
)
def test_parent_problems(answer: str, line: int, path: str, message: str, fix: str) -> None:
    question = QUESTION
    if "action" in message:  # Question gets `actions: {answers: …}` (lines 7-8): two down
        question += "  actions:\n    answers: {handler: true}\n"
        line += 2
    found = problems(spec(answer, question))
    assert len(found) == 1, "\n".join(map(str, found))
    problem = found[0]
    assert (problem.file, problem.line, problem.path) == ("spec.yaml", line, path)
    assert message in problem.message
    assert fix in problem.fix


def test_a_parent_on_itself_is_refused() -> None:
    text = HEAD + textwrap.indent(
        "Node:\n  parent: up\n  fields:\n    up: {type: ref, to: Node, required: true}\n", "  "
    )
    found = [p for p in problems(text) if p.path == "resources.Node.parent"]
    assert len(found) == 1 and found[0].line == 4
    assert "itself" in found[0].message


def test_a_mark_of_the_parent_named_like_the_plural_is_refused() -> None:
    question = QUESTION + "  marks:\n    answers: {count: answers_count}\n"
    found = problems(
        spec(
            "Answer:\n  parent: question\n  fields:\n"
            "    question: {type: ref, to: Question, required: true}\n",
            question,
        )
    )
    found = [p for p in found if p.path == "resources.Answer.parent"]  # (marks need accounts)
    assert len(found) == 1 and found[0].line == 10
    assert "the mark 'answers'" in found[0].message


def test_a_bad_parent_is_exit_2_and_nothing_is_written(tmp_path: Path) -> None:
    source = tmp_path / "forum.yaml"
    source.write_text(
        spec("Answer:\n  parent: question\n  fields:\n    question: {type: ref, to: Question}\n")
    )
    out = tmp_path / "out"
    assert main(["generate", str(source), "-o", str(out)]) == 2
    assert not out.exists()


def test_a_valid_nested_spec_becomes_nested_routes() -> None:
    text = spec(
        "Answer:\n  parent: question\n  fields:\n"
        "    question: {type: ref, to: Question, required: true, on_delete: cascade}\n"
        "    body: {type: text, required: true}\n"
    )
    ir = build_ir(load_spec_text(text, "spec.yaml"), text)
    answer, question = ir.resource("Answer"), ir.resource("Question")
    assert answer.parent == "question" and ir.parent_of(answer) is question
    assert ir.parent_of(question) is None and ir.top_resources == [question]
    assert ir.parent_names == ["Question"] and ir.nested
    parent_field = answer.ref_named("question")
    assert parent_field is not None and not parent_field.writable  # from the path only
    assert '"parent": "question"' in ir.to_json()


def test_a_spec_without_parents_keeps_its_ir() -> None:
    text = HEAD + "  Book:\n    fields: {title: string}\n"
    ir = build_ir(load_spec_text(text, "spec.yaml"), text)
    assert '"parent"' not in ir.to_json() and not ir.nested
