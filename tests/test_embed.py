"""Relations by natural key (`by`), targets created on first use (`create_missing`),
embedded refs (`embed`) and filters by related values: the checks that refuse what cannot
work (with file:line and a fix, exit 2, nothing written), what `plan` says when they change, and
what the generated project holds (no migration for `by`, indexed filters, the OpenAPI shapes).
The generated tests run in tests/test_embed_e2e.py."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from backforge.cli import main
from backforge.errors import Problem, SpecError
from backforge.evolve.diff import diff
from backforge.evolve.snapshot import ir_from_json
from backforge.ir import build_ir
from backforge.spec import load_spec_text

HEAD = "service: {name: shop}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
TAG = "Tag:\n  fields:\n    name: {type: string, max_length: 40, required: true, unique: true}\n"


def spec(resources: str) -> str:
    return HEAD + textwrap.indent(textwrap.dedent(resources), "  ")


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    return caught.value.problems


# (id, resources after TAG, line, path, words in the message, words in the fix); the field
# under test is on line 9 (HEAD: 3 lines, TAG: 3, `Post:`, `fields:`).
CASES = [
    (
        "by names no field",
        "Post:\n  fields:\n    tags: {type: many, to: Tag, by: label}\n",
        9,
        "resources.Post.fields.tags.by",
        "`by: label` is not a field of Tag",
        "name",
    ),
    (
        "by a field that is not unique",
        "Post:\n  fields:\n    tag: {type: ref, to: Tag, by: note}\n",
        9,
        "resources.Post.fields.tag.by",
        "Tag.note is not unique and required",
        "`unique: true`",
    ),
    (
        "by an email field",
        "Post:\n  fields:\n    tag: {type: ref, to: Tag, by: body}\n",
        9,
        "resources.Post.fields.tag.by",
        "an email field cannot name Tag records",
        "string",
    ),
    (
        "create_missing without by",
        "Post:\n  fields:\n    tags: {type: many, to: Tag, create_missing: true}\n",
        9,
        "resources.Post.fields.tags.create_missing",
        "has no `by`",
        "add `by:",
    ),
    (
        "create_missing on a ref",
        "Post:\n  fields:\n    tag: {type: ref, to: Tag, by: name, create_missing: true}\n",
        9,
        "resources.Post.fields.tag.create_missing",
        "does not apply to a ref",
        "remove it",
    ),
    (
        "create_missing of a target that needs more",
        "Post:\n  fields:\n    topics: {type: many, to: Topic, by: name, create_missing: true}\n"
        "Topic:\n  fields:\n    name: {type: string, required: true, unique: true}\n"
        "    kind: {type: string, required: true}\n",
        9,
        "resources.Post.fields.topics.create_missing",
        "a Topic needs kind besides name",
        "give kind a default",
    ),
    (
        "create_missing of an owned target",
        "Post:\n  fields:\n    topics: {type: many, to: Topic, by: name, create_missing: true}\n"
        "Topic:\n  owned: true\n  fields:\n"
        "    name: {type: string, required: true, unique: true}\n",
        9,
        "resources.Post.fields.topics.create_missing",
        "Topic is owned",
        "remove create_missing",
    ),
    (
        "create_missing of a cached target",
        "Post:\n  fields:\n    topics: {type: many, to: Topic, by: name, create_missing: true}\n"
        "Topic:\n  cache: {ttl: 60s}\n  fields:\n"
        "    name: {type: string, required: true, unique: true}\n",
        9,
        "resources.Post.fields.topics.create_missing",
        "Topic is cached",
        "cache: false",
    ),
    (
        "embed on a many",
        "Post:\n  fields:\n    tags: {type: many, to: Tag, embed: true}\n",
        9,
        "resources.Post.fields.tags.embed",
        "does not apply to a many",
        "remove it",
    ),
    (
        "embed that would leak",
        "Post:\n  fields:\n    note: {type: ref, to: Note, embed: true}\n"
        "  permissions: {read: anyone, list: anyone}\n"
        "Note:\n  owned: true\n  fields: {text: string}\n"
        "  permissions: {read: owner, list: owner, create: authenticated}\n",
        9,
        "resources.Post.fields.note.embed",
        "show its records to callers who may not read them",
        "`read` permission at least as wide",
    ),
    (
        "embed two levels deep",
        "Post:\n  fields:\n    note: {type: ref, to: Note, embed: true}\n"
        "Note:\n  fields:\n    tag: {type: ref, to: Tag, embed: true}\n",
        9,
        "resources.Post.fields.note.embed",
        "embedding goes one level deep",
        "remove `embed`",
    ),
    (
        "embed in a cached resource",
        "Post:\n  cache: {ttl: 60s}\n  fields:\n    tag: {type: ref, to: Tag, embed: true}\n",
        10,
        "resources.Post.fields.tag.embed",
        "would keep answering with the old record",
        "cache: false",
    ),
    (
        "filter on a many without by",
        "Post:\n  fields:\n    tags: {type: many, to: Tag}\n  filter: [tags]\n",
        10,
        "resources.Post.filter[0]",
        "cannot filter on 'tags' (a many field)",
        "remove it",
    ),
]


@pytest.mark.parametrize(
    ("resources", "line", "path", "message", "fix"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_problem_names_its_place_and_a_fix(
    resources: str, line: int, path: str, message: str, fix: str
) -> None:
    tag = TAG + "    note: string\n    body: {type: email, required: true, unique: true}\n"
    found = problems(spec(tag + resources))
    line += 2  # the two fields added to Tag above
    assert len(found) == 1, "\n".join(map(str, found))
    problem = found[0]
    assert (problem.file, problem.line, problem.path) == ("spec.yaml", line, path), problem
    assert message in problem.message, problem.message
    assert fix in problem.fix, problem.fix


def test_a_refused_spec_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec(TAG + "Post:\n  fields:\n    tags: {type: many, to: Tag, by: label}\n"))
    out = tmp_path / "out"
    assert main(["generate", str(path), "-o", str(out)]) == 2
    assert not out.exists()


VALID = spec(
    TAG
    + """\
Writer:
  fields:
    handle: {type: string, max_length: 40, required: true, unique: true}
Post:
  fields:
    title: string
    writer: {type: ref, to: Writer, by: handle, embed: true}
    tags: {type: many, to: Tag, by: name, create_missing: true}
  filter: [tags, writer]
"""
)


def ir_of(text: str):  # type: ignore[no-untyped-def]
    return build_ir(load_spec_text(text), text)


def test_a_valid_spec_builds_and_keeps_the_ids_in_its_columns() -> None:
    ir = ir_of(VALID)
    post = ir.resource("Post")
    writer, tags = post.ref_named("writer"), post.many[0]
    assert writer is not None and writer.by == "handle" and writer.embed
    assert writer.column == "writer_id" and tags.link_table == "post_tags"
    assert tags.create_missing and tags.target_key is not None
    assert writer.indexed  # ?writer=ada: the column is indexed, the handle is unique
    assert [p.attr for p, _ in post.related_filters] == ["tags", "tags__in", "writer", "writer__in"]
    assert ir.related and not ir_of(spec(TAG)).related


def plan(old: str, new: str) -> tuple[list[str], dict[str, bool]]:
    before = ir_from_json(ir_of(old).to_json())
    d = diff(before, ir_of(new))
    return [type(op).__name__ for op in d.operations], {
        f"{c.where}: {c.summary}": c.breaking for c in d.api
    }


def test_plan_flags_by_and_embed_as_api_breaking_without_a_migration() -> None:
    plain = (
        VALID.replace(", by: handle, embed: true", "")
        .replace(", by: name, create_missing: true", "")
        .replace("filter: [tags, writer]", "filter: [writer]")
    )
    operations, changes = plan(plain, VALID)
    assert operations == []  # the columns and link tables keep the ids
    assert changes["Post.writer: names its Writer records by their handle instead of their ids"]
    assert changes["Post.writer: responses now carry the whole record of its Writer"]
    assert changes["Post.tags: names its Tag records by their name instead of their ids"]
    assert changes["Post.tags: values naming no Tag now create it"] is False
    operations, changes = plan(VALID, plain)
    assert operations == []
    assert changes["Post.tags: values naming no Tag are refused again (409)"] is True
    assert changes["Post.writer: names its Writer records by their ids instead of their handle"]


def test_the_generated_project_ships_relations_and_documents_both_shapes(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(VALID)
    out = tmp_path / "shop"
    assert main(["generate", str(path), "-o", str(out)]) == 0
    assert (out / "shop" / "core" / "relations.py").exists()
    openapi = json.loads((out / "openapi.json").read_text())
    schemas = openapi["components"]["schemas"]
    read = schemas["PostRead"]["properties"]
    assert read["tags"] == {"items": {"type": "string"}, "type": "array", "title": "Tags"}
    assert "WriterRead" in json.dumps(read["writer"])
    create = schemas["PostCreate"]["properties"]
    assert create["writer"]["anyOf"][0]["type"] == "string"
    assert create["tags"]["items"]["type"] == "string"
    parameters = {p["name"] for p in openapi["paths"]["/api/v1/posts"]["get"]["parameters"]}
    assert {"tags", "tags__in", "writer", "writer__in"} <= parameters
    link = openapi["paths"]["/api/v1/posts/{id}/tags/{target_id}"]["put"]["parameters"]
    assert [p["schema"]["type"] for p in link if p["name"] == "target_id"] == ["string"]
    migration = next((out / "migrations" / "versions").glob("0001_*.py")).read_text()
    assert "ix_post_writer_id" in migration and '"post_tags"' in migration


def test_a_spec_without_relations_ships_no_relations_module(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(spec(TAG))
    out = tmp_path / "shop"
    assert main(["generate", str(path), "-o", str(out)]) == 0
    assert not (out / "shop" / "core" / "relations.py").exists()


def test_embedding_the_parent_of_an_owned_through_record_is_allowed() -> None:
    """Its owner is the parent's owner: embedding the parent shows nobody anything new."""
    text = spec(
        """\
        Question:
          owned: true
          fields:
            code: {type: string, max_length: 40, required: true, unique: true}
          permissions: {list: owner, read: owner, create: authenticated, update: owner}
        Answer:
          owned: {through: question}
          fields:
            question: {type: ref, to: Question, required: true, by: code, embed: true}
          permissions: {list: owner, read: owner, create: authenticated, update: owner}
        """
    )
    answer = ir_of(text).resource("Answer")
    assert answer.through == "question" and answer.ref_named("question").embed  # type: ignore[union-attr]
