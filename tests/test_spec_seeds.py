"""Seed data in the spec: checked against the fields with file:line problems, resolved into the
records `<package>.seed` applies, and refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backforge.cli import main
from backforge.errors import Problem, SpecError
from backforge.ir import build_ir
from backforge.spec import load_spec_text

SHOP = """\
service: {name: shop}
resources:
  Shelf:
    fields:
      code: {type: string, max_length: 4, pattern: '^[A-Z]+$', required: true, unique: true}
      floor: {type: int, min: 0, max: 3}
  Book:
    fields:
      isbn: {type: string, max_length: 13, required: true, unique: true}
      price: {type: decimal, precision: 6, scale: 2, min: 0}
      shelf: {type: ref, to: Shelf}
      related: {type: many, to: Book}
      printed_on: date
  Note:
    fields:
      text: {type: string, required: true}
seed:
"""


def problems(seed: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(SHOP + seed, "spec.yaml")
    return caught.value.problems


# (id, seed section, line, path, words in the message)
CASES = [
    ("unknown resource", "  Shelve:\n    - {code: A}\n", 18, "seed.Shelve", "not a resource"),
    ("no natural key", "  Note:\n    - {text: hi}\n", 18, "seed.Note", "no natural key"),
    ("unknown field", "  Shelf:\n    - {code: A, flor: 1}\n", 19, "seed.Shelf[0].flor", "flor"),
    ("missing key", "  Shelf:\n    - {floor: 1}\n", 19, "seed.Shelf[0]", "key field `code`"),
    (
        "wrong type",
        "  Shelf:\n    - {code: A, floor: two}\n",
        19,
        "seed.Shelf[0].floor",
        "does not fit",
    ),
    (
        "out of bounds",
        "  Shelf:\n    - {code: A, floor: 9}\n",
        19,
        "seed.Shelf[0].floor",
        "outside min/max",
    ),
    ("pattern", "  Shelf:\n    - {code: a1}\n", 19, "seed.Shelf[0].code", "does not match"),
    ("too long", "  Shelf:\n    - {code: ABCDE}\n", 19, "seed.Shelf[0].code", "5 characters"),
    (
        "duplicate key",
        "  Shelf:\n    - {code: A}\n    - {code: A}\n",
        20,
        "seed.Shelf[1].code",
        "repeats seed record 0",
    ),
    (
        "dangling ref",
        "  Shelf:\n    - {code: A}\n  Book:\n    - {isbn: '1', shelf: B}\n",
        21,
        "seed.Book[0].shelf",
        "'B' names no Shelf seed record",
    ),
    (
        "self ref to a later record",
        "  Book:\n    - {isbn: '1', related: ['2']}\n    - {isbn: '2'}\n",
        19,
        "seed.Book[0].related",
        "earlier in the list",
    ),
    (
        "too many decimals",
        "  Book:\n    - {isbn: '1', price: 1.234}\n",
        19,
        "seed.Book[0].price",
        "decimal places",
    ),
    ("required missing", "  Book:\n    - {price: 1}\n", 19, "seed.Book[0]", "`isbn`"),
]


@pytest.mark.parametrize(
    ("seed", "line", "path", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_seed_problem_names_its_place(seed: str, line: int, path: str, words: str) -> None:
    found = problems(seed)
    assert any(p.path == path and words in p.message for p in found), found
    problem = next(p for p in found if p.path == path and words in p.message)
    assert (problem.file, problem.line) == ("spec.yaml", line)
    assert problem.fix


GOOD = """\
  Shelf:
    - {code: A, floor: 1}
    - code: B
  Book:
    - {isbn: '1', price: 9.5, shelf: A, printed_on: 2024-02-29}
    - {isbn: '2', shelf: B, related: ['1']}
"""


def test_a_valid_seed_becomes_records_in_creation_order() -> None:
    spec = load_spec_text(SHOP + GOOD, "spec.yaml")
    seeds = build_ir(spec, SHOP + GOOD).seeds
    assert [b["resource"] for b in seeds] == ["Shelf", "Book"]
    shelf, book = seeds
    assert shelf["key"] == ["code"] and book["key"] == ["isbn"]
    assert book["refs"] == {"shelf": "Shelf"} and book["many"] == {"related": "Book"}
    assert book["rows"][0] == {
        "isbn": "1",
        "price": "9.5",
        "shelf": "A",
        "printed_on": "2024-02-29",
    }


def test_unique_together_is_a_natural_key() -> None:
    text = SHOP.replace(
        "  Note:\n    fields:\n      text: {type: string, required: true}\n",
        "  Note:\n    fields:\n      text: {type: string, required: true}\n"
        "      shelf: {type: ref, to: Shelf, required: true}\n"
        "    unique_together: [[shelf, text]]\n",
    )
    seed = (
        "  Shelf:\n    - {code: A}\n  Note:\n    - {shelf: A, text: x}\n    - {shelf: A, text: x}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec_text(text + seed, "spec.yaml")
    [problem] = caught.value.problems
    assert problem.path == "seed.Note[1]" and "same shelf, text" in problem.message
    spec = load_spec_text(text + seed.rsplit("    -", 1)[0], "spec.yaml")
    assert build_ir(spec, "").seeds[1]["key"] == ["shelf", "text"]


def test_a_bad_seed_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SHOP + "  Shelf:\n    - {code: a}\n")
    assert main(["generate", str(spec), "-o", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()


def test_the_seed_ships_as_json(tmp_path: Path) -> None:
    spec = tmp_path / "shop.yaml"
    spec.write_text(SHOP + GOOD)
    assert main(["generate", str(spec), "-o", str(tmp_path / "out")]) == 0
    data = json.loads((tmp_path / "out" / "shop" / "seed_data.json").read_text())
    assert sum(len(b["rows"]) for b in data) == 4
    manifest = json.loads((tmp_path / "out" / ".backforge" / "manifest.json").read_text())
    assert manifest["seeds"] == [
        {"resource": "Shelf", "records": 2, "key": ["code"], "command": "python -m shop.seed"},
        {"resource": "Book", "records": 2, "key": ["isbn"], "command": "python -m shop.seed"},
    ]


def test_owned_resources_are_not_seeded() -> None:
    text = (
        "service: {name: club}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
        "  Note:\n    owned: true\n    fields:\n      code: {type: string, unique: true}\n"
        "seed:\n  Note:\n    - {code: a}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.path) == (9, "seed.Note")
    assert "owned" in problem.message and "through the API" in problem.fix


def test_resources_owned_through_a_parent_are_not_seeded() -> None:
    text = (
        "service: {name: club}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
        "  Note:\n    owned: true\n    fields:\n      code: {type: string, unique: true}\n"
        "  Line:\n    owned: {through: note}\n    fields:\n"
        "      note: {type: ref, to: Note, required: true}\n"
        "      code: {type: string, unique: true}\n"
        "seed:\n  Line:\n    - {code: a, note: a}\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    found = [p for p in caught.value.problems if p.path == "seed.Line"]
    assert found and "owned" in found[0].message
