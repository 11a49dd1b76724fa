"""Envelopes (`api.envelope`, a resource's `envelope: {one, many}`) and detail-only fields
(`in_list: false`): the checks that refuse what makes no sense, the names the IR resolves, what
`plan` calls breaking, and what a generated project gets (and what one without them does not)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from backforge.cli import main
from backforge.errors import Problem, SpecError
from backforge.evolve.diff import Diff, diff, renames_in
from backforge.evolve.snapshot import ir_from_json
from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project
from backforge.spec import load_spec_text

HEAD = "service: {name: forum}\napi:\n  envelope: true\nresources:\n"  # resources on line 5


def spec(resources: str, head: str = HEAD) -> str:
    return head + textwrap.indent(textwrap.dedent(resources), "  ")


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    return caught.value.problems


def ir(text: str) -> ServiceIR:
    return build_ir(load_spec_text(text), text)


QUESTION = """\
Question:
  lookup: slug
  fields:
    slug: {type: slug, required: true, unique: true}
    title: {type: string, max_length: 200, required: true}
    body: {type: text, required: true, in_list: false}
"""

# (id, resources, head, line, path, words in the message, words in the fix)
CASES = [
    (
        "one and many alike",
        "Post:\n  envelope: {one: posts, many: posts}\n  fields: {title: string}\n",
        HEAD,
        6,
        "resources.Post.envelope.many",
        "one record and a page's records alike",
        "two different names",
    ),
    (
        "many named like a page member",
        "Post:\n  envelope: {many: limit}\n  fields: {title: string}\n",
        HEAD,
        6,
        "resources.Post.envelope.many",
        "clashes with the page's own `limit`",
        "envelope: {many: ...}",
    ),
    (
        "one of another resource",
        "Post:\n  fields: {title: string}\nNote:\n  envelope: {one: post}\n"
        "  fields: {title: string}\n",
        HEAD,
        8,
        "resources.Note.envelope.one",
        "already Post's",
        "envelope: {one: ...}",
    ),
    (
        "default many of one resource is another's one",
        "Post:\n  plural: note\n  fields: {title: string}\nNote:\n  fields: {title: string}\n",
        HEAD,
        8,
        "resources.Note",
        "'note' of Note is already",
        "envelope: {one: ...}",
    ),
    (
        "not an identifier",
        "Post:\n  envelope: {one: Post-Item}\n  fields: {title: string}\n",
        HEAD,
        6,
        "resources.Post.envelope.one",
        "",
        "",
    ),
    (
        "envelope names without api.envelope",
        "Post:\n  envelope: {one: item}\n  fields: {title: string}\n",
        "service: {name: forum}\nresources:\n",
        4,
        "resources.Post.envelope",
        "api.envelope is not true",
        "envelope: true",
    ),
    (
        "envelope with bare-array pages",
        "Post:\n  fields: {title: string}\n",
        "service: {name: forum}\napi:\n  envelope: true\n  pagination: {shape: array}\n"
        "resources:\n",
        3,
        "api.envelope",
        "a bare array has no member",
        "shape: array",
    ),
    (
        "in_list on a write-only field",
        "Post:\n  fields:\n    secret: {type: string, write_only: true, in_list: false}\n",
        HEAD,
        7,
        "resources.Post.fields.secret.in_list",
        "no answer shows it",
        "drop in_list",
    ),
    (
        "in_list on the lookup key",
        "Post:\n  lookup: slug\n  fields:\n"
        "    slug: {type: slug, required: true, unique: true, in_list: false}\n",
        HEAD,
        8,
        "resources.Post.fields.slug.in_list",
        "clients find a record's URL by it",
        "drop `in_list: false`",
    ),
]


@pytest.mark.parametrize(
    ("resources", "head", "line", "path", "message", "fix"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_problem_names_its_place_and_a_fix(
    resources: str, head: str, line: int, path: str, message: str, fix: str
) -> None:
    found = problems(spec(resources, head))
    assert len(found) == 1, "\n".join(map(str, found))
    problem = found[0]
    assert (problem.file, problem.line, problem.path) == ("spec.yaml", line, path)
    assert message in problem.message
    assert fix in problem.fix


def test_a_refused_spec_writes_nothing_and_exits_2(tmp_path: Path) -> None:
    source = tmp_path / "spec.yaml"
    source.write_text(spec(CASES[0][1]))
    out = tmp_path / "out"
    assert main(["generate", str(source), "-o", str(out)]) == 2
    assert not out.exists()


def test_the_ir_names_the_members_in_wire_case() -> None:
    text = spec(
        QUESTION + "BookReview:\n  fields: {stars: int}\nPost:\n  envelope: {one: entry}\n"
        "  fields: {title: string}\n",
        HEAD.replace("api:\n", "api:\n  field_names: camelCase\n"),
    )
    found = {r.name: r for r in ir(text).resources}
    review = found["BookReview"]
    assert (review.envelope_one, review.envelope_many, review.envelope_count) == (
        "bookReview",
        "bookReviews",
        "bookReviewsCount",
    )
    post = found["Post"]
    assert (post.envelope_one, post.envelope_many, post.envelope_count) == (
        "entry",
        "posts",
        "postsCount",
    )
    question = found["Question"]
    assert question.has_list_item
    assert [f.name for f in question.list_fields] == ["slug", "title"]


def test_snake_case_members_and_no_members_without_api_envelope() -> None:
    snake = {r.name: r for r in ir(spec("BookReview:\n  fields: {stars: int}\n")).resources}
    assert snake["BookReview"].envelope_count == "book_reviews_count"
    plain = ir(spec(QUESTION, "service: {name: forum}\nresources:\n"))
    assert not plain.envelope and plain.resources[0].envelope_one == ""


def test_the_ir_reads_back_from_json() -> None:
    original = ir(spec(QUESTION))
    again = ir_from_json(original.to_json())
    assert again.to_json() == original.to_json()
    assert again.envelope and again.resources[0].envelope_many == "questions"
    assert not next(f for f in again.resources[0].fields if f.name == "body").in_list


def test_the_ir_of_a_spec_without_them_keeps_its_keys() -> None:
    text = ir(spec("Post:\n  fields: {title: string}\n", "service: {name: forum}\nresources:\n"))
    written = text.to_json()
    for key in ("envelope", "envelope_one", "envelope_many", "envelope_count", "in_list"):
        assert f'"{key}"' not in written


def changed(old: str, new: str) -> Diff:
    loaded = load_spec_text(new)
    return diff(ir_from_json(ir(old).to_json()), build_ir(loaded, new), renames_in(loaded))


def api(d: Diff) -> dict[str, bool]:
    return {f"{c.where}: {c.summary}": c.breaking for c in d.api}


PLAIN = spec(QUESTION.replace(", in_list: false", ""), "service: {name: forum}\nresources:\n")


def test_turning_envelopes_on_or_off_breaks_clients() -> None:
    on = api(changed(PLAIN, PLAIN.replace("resources:", "api: {envelope: true}\nresources:")))
    assert on == {"API: records and list pages are now wrapped in envelopes (api.envelope)": True}
    off = api(changed(PLAIN.replace("resources:", "api: {envelope: true}\nresources:"), PLAIN))
    assert off == {
        "API: records and list pages are now no longer wrapped in envelopes (api.envelope)": True
    }


def test_renaming_an_envelope_breaks_clients() -> None:
    before = spec(QUESTION)
    after = before.replace(
        "    lookup: slug\n", "    lookup: slug\n    envelope: {many: items}\n", 1
    )
    found = api(changed(before, after))
    assert found == {
        "Question: envelope member 'questions' renamed 'items'": True,
        "Question: envelope member 'questions_count' renamed 'items_count'": True,
    }


def test_a_field_leaving_lists_breaks_clients_and_changes_no_table() -> None:
    detail_only = "body: {type: text, required: true, in_list: false}"
    d = changed(PLAIN, PLAIN.replace("body: {type: text, required: true}", detail_only))
    assert api(d) == {"Question.body: left out of list items now (in_list: false)": True}
    assert not d.operations
    back = changed(
        PLAIN.replace(
            "body: {type: text, required: true}",
            "body: {type: text, required: true, in_list: false}",
        ),
        PLAIN,
    )
    assert api(back) == {"Question.body: shown in list items now": False}


def test_a_project_with_envelopes_gets_their_module_and_tests() -> None:
    files = render_project(ir(spec(QUESTION)))
    assert "forum/core/envelopes.py" in files
    assert "tests/test_envelopes.py" in files
    schemas = files["forum/question/schemas.py"]
    for model in ("QuestionListItem", "QuestionEnvelope", "QuestionCreateEnvelope", "QuestionPage"):
        assert f"class {model}(" in schemas
    assert 'serialization_alias="questions_count"' in schemas


def test_offset_pages_count_without_the_module() -> None:
    text = spec(QUESTION).replace(
        "  envelope: true\n", "  envelope: true\n  pagination: {style: offset}\n"
    )
    files = render_project(ir(text))
    assert "forum/core/envelopes.py" not in files
    assert "total_of" not in files["forum/question/repository.py"]


def test_a_project_without_them_gets_nothing_of_them() -> None:
    files = render_project(ir(PLAIN))
    assert "forum/core/envelopes.py" not in files and "tests/test_envelopes.py" not in files
    assert "Envelope" not in files["forum/question/schemas.py"]
    assert "QuestionListItem" not in files["forum/question/schemas.py"]
    assert "factories.record" not in files["tests/test_question.py"]
