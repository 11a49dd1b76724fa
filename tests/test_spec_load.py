"""Loading a spec: YAML with lines, the model, structural errors, and the examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from backforge.errors import Problem, SpecError
from backforge.spec import load_spec, load_spec_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SKETCH = Path(__file__).parent / "specs" / "sketch.yaml"


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    assert caught.value.exit_code == 2
    return caught.value.problems


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def test_the_sketch_of_the_team_loads() -> None:
    spec = load_spec(SKETCH)
    book = spec.resources["Book"]
    assert spec.service.name == "bookstore"
    assert book.fields["price"].precision == 10
    assert book.fields["author"].to == "Author" and book.fields["author"].on_delete == "restrict"
    assert book.fields["tags"].type == "many"
    assert spec.resources["Author"].fields["bio"].type == "text"  # shorthand
    assert spec.resources["Review"].unique_together == [["book", "owner"]]
    notes = spec.accepted_but_not_generated()
    assert not any(n.startswith(("auth:", "resources.Book.owned")) for n in notes)
    assert notes == []  # its cache is generated now


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads_and_uses_only_what_is_generated(path: Path) -> None:
    spec = load_spec(path)
    assert 3 <= len(spec.resources) <= 4
    assert spec.accepted_but_not_generated() == []


def test_there_are_at_least_three_examples() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"bookstore", "projects", "inventory"} <= names


def test_reserved_words_are_accepted_as_names() -> None:
    spec = load_spec(ROOT / "examples" / "projects.yaml")
    assert {"Group", "User", "Class", "Order"} <= set(spec.resources)
    order = spec.resources["Order"]
    assert {"order", "limit", "sort", "type", "from"} <= set(order.fields)
    assert spec.api.pagination.style == "offset"


def test_defaults_and_shorthand() -> None:
    spec = load_spec_text(
        "service: {name: shop}\nresources:\n  Book:\n    fields: {title: string}\n"
    )
    assert spec.service.version == "0.1.0"
    assert spec.api.base_path == "/api/v1"
    assert (spec.api.pagination.style, spec.api.pagination.default_limit) == ("cursor", 20)
    assert spec.api.pagination.max_limit == 100
    title = spec.resources["Book"].fields["title"]
    assert title.type == "string" and not title.required and title.given() == {"type"}


def test_malformed_yaml_names_its_line() -> None:
    problem = only("service: {name: shop\nresources: {}\n")
    assert (problem.file, problem.line, problem.path) == ("spec.yaml", 2, "")
    assert problem.message.startswith("not valid YAML")
    assert problem.fix


def test_duplicate_keys_are_refused_not_merged() -> None:
    problem = only(
        "service:\n  name: shop\nresources:\n  Book:\n    fields: {a: int}\n"
        "  Book:\n    fields: {b: int}\n"
    )
    assert (problem.line, problem.path) == (6, "resources.Book")
    assert "duplicate key 'Book' (first defined on line 4)" in problem.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    problem = only(text)
    assert (problem.line, problem.message) == (1, "the spec is empty")
    assert "backforge init" in problem.fix


@pytest.mark.parametrize("text", ["- a\n- b\n", "just words\n", "42\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    problem = only(text)
    assert (problem.line, problem.path) == (1, "")
    assert "must be a mapping with `service` and `resources`" in problem.message
    assert "service:" in problem.fix


def test_unknown_section_suggests_the_right_one() -> None:
    found = problems("service: {name: shop}\nresorces:\n  Book: {fields: {a: int}}\n")
    unknown = next(p for p in found if p.path == "resorces")
    assert (unknown.line, unknown.message) == (2, "unknown section `resorces`")
    assert unknown.fix.startswith("did you mean `resources`?")
    missing = next(p for p in found if p.path == "resources")
    assert missing.message == "`resources` is required here"


def test_unknown_option_suggests_and_lists_the_options_of_the_type() -> None:
    problem = only(
        "service: {name: shop}\nresources:\n  Book:\n    fields:\n"
        "      title: {type: string, max_lenght: 80}\n"
    )
    assert (problem.line, problem.path) == (5, "resources.Book.fields.title.max_lenght")
    assert problem.message == "unknown option `max_lenght`"
    assert problem.fix.startswith("did you mean `max_length`?")
    assert "pattern" in problem.fix and "precision" not in problem.fix


def test_unknown_resource_option() -> None:
    problem = only(
        "service: {name: shop}\nresources:\n  Book:\n    fields: {a: int}\n    filtr: [a]\n"
    )
    assert (problem.line, problem.path) == (5, "resources.Book.filtr")
    assert "did you mean `filter`?" in problem.fix


@pytest.mark.parametrize(
    ("written", "hint"), [("strng", "string"), ("datetim", "datetime"), ("integer", "int")]
)
def test_unknown_type_suggests_the_closest(written: str, hint: str) -> None:
    problem = only(
        f"service: {{name: shop}}\nresources:\n  Book:\n    fields:\n      a: {written}\n"
    )
    assert (problem.line, problem.path) == (5, "resources.Book.fields.a.type")
    assert problem.message == f"unknown field type {written!r}"
    assert problem.fix.startswith(f"did you mean `{hint}`?")
    assert "uuid" in problem.fix


def test_a_field_must_be_a_type_or_a_mapping() -> None:
    problem = only("service: {name: shop}\nresources:\n  Book:\n    fields:\n      a:\n")
    assert (problem.line, problem.path) == (5, "resources.Book.fields.a")
    assert "must be a type name or a mapping of options" in problem.message
    assert "bio: text" in problem.fix


def test_numbers_and_booleans_where_text_is_expected() -> None:
    found = problems(
        "service: {name: shop, version: 1.0}\nresources:\n  Book:\n    fields:\n"
        "      a: {type: enum, values: [yes, maybe]}\n"
    )
    version, value = found
    assert (version.line, version.path) == (1, "service.version")
    assert version.message == "expected text, got the number 1.0"
    assert version.fix == 'put it in quotes: "1.0"'
    assert (value.line, value.path) == (5, "resources.Book.fields.a.values[0]")
    assert "boolean" in value.message and "quotes" in value.fix


def test_one_message_per_place_for_unions() -> None:
    problem = only(
        "service: {name: shop}\nresources:\n  Book:\n    fields: {a: int}\n"
        "    indexes: [{fields: [a], nme: x}]\n"
    )
    assert problem.path == "resources.Book.indexes[0].nme"
    assert "did you mean `name`?" in problem.fix


def test_invalid_service_name_pattern() -> None:
    problem = only("service: {name: Shop-1}\nresources:\n  Book: {fields: {a: int}}\n")
    assert (problem.line, problem.path) == (1, "service.name")
    assert problem.message == "'Shop-1' is not a valid value here"
    assert "lowercase" in problem.fix


def test_missing_file_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "nope.yaml")
    assert caught.value.problems[0].message == "no such file"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("service: {name: caf\xe9}\n".encode("latin-1"))
    with pytest.raises(SpecError) as caught:
        load_spec(latin)
    assert "UTF-8" in caught.value.problems[0].fix


def test_problem_format() -> None:
    problem = Problem("shop.yaml", 6, "resources.Book", "something is wrong", "do this")
    assert str(problem) == "shop.yaml:6 at resources.Book: something is wrong\n    fix: do this"
    assert str(Problem("shop.yaml", None, "", "no such file")) == "shop.yaml: no such file"
    assert problem.as_dict()["line"] == 6


def test_all_problems_are_reported_in_one_run_structural_and_semantic() -> None:
    text = """\
service: {name: fastapi}
api: {pagination: {default_limit: 500, max_limit: 100}}
resources:
  Book:
    fields:
      title: {type: strng, required: true}
      price: {type: decimal, precison: 10}
      author: {type: ref, to: Writer}
      status: {type: enum, values: [draft], default: gone}
    sort: [titel]
  book_tag:
    fields: {a: int}
"""
    found = problems(text)
    where = {(p.line, p.path) for p in found}
    assert where == {
        (1, "service.name"),
        (2, "api.pagination.default_limit"),
        (6, "resources.Book.fields.title.type"),
        (7, "resources.Book.fields.price.precison"),
        (8, "resources.Book.fields.author.to"),
        (9, "resources.Book.fields.status.default"),
        (10, "resources.Book.sort[0]"),
        (11, "resources.book_tag"),
    }
    assert [p.line for p in found] == sorted(p.line for p in found)
    assert all(p.fix for p in found)
    rendered = str(SpecError(found))
    assert rendered.startswith("spec.yaml:1 at service.name: ")
    assert "\n    fix: " in rendered


def test_keys_are_names_as_written() -> None:
    spec = load_spec_text(
        "service: {name: shop}\nresources:\n"
        "  Switch:\n    fields: {on: bool, off: bool, yes: int}\n"
    )
    assert list(spec.resources["Switch"].fields) == ["on", "off", "yes"]
