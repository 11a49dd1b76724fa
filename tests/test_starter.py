"""`backforge init`: the starter spec is valid, representative, commented, and names are checked."""

from __future__ import annotations

import pytest

from backforge.errors import SpecError
from backforge.spec import load_spec_text
from backforge.starter import starter_spec


def test_the_starter_loads_and_shows_the_main_features() -> None:
    spec = load_spec_text(starter_spec("shop"))
    assert spec.service.name == "shop" and spec.service.title == "Shop API"
    assert 2 <= len(spec.resources) <= 3
    fields = [(name, f) for r in spec.resources.values() for name, f in r.fields.items()]
    types = {f.type for _, f in fields}
    assert {"ref", "many", "enum", "string", "text", "decimal", "date"} <= types
    assert any(f.type == "string" and f.unique for _, f in fields)
    assert any(f.searchable for _, f in fields)
    assert any(f.pattern for _, f in fields)
    assert any(f.type == "ref" and f.on_delete == "cascade" for _, f in fields)
    assert all(r.fields for r in spec.resources.values())
    assert any(r.filter for r in spec.resources.values())
    assert any(r.sort for r in spec.resources.values())
    assert any(r.indexes for r in spec.resources.values())
    assert spec.accepted_but_not_generated() == []


def test_the_starter_explains_its_options() -> None:
    text = starter_spec("shop")
    comments = " ".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line)
    for idea in ("shorthand", "many-to-many", "many-to-one", "unique", "?sort=", "?status="):
        assert idea in comments, idea
    for automatic in ("id", "created_at", "updated_at", "version"):
        assert f"`{automatic}`" in comments


@pytest.mark.parametrize("name", ["a", "my_service", "yes", "null", "true", "on", "x" * 40])
def test_any_valid_name_gives_a_valid_spec(name: str) -> None:
    assert load_spec_text(starter_spec(name)).service.name == name


def test_the_default_name_and_determinism() -> None:
    assert load_spec_text(starter_spec()).service.name == "my_service"
    assert starter_spec("shop") == starter_spec("shop")


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Shop", "not a valid service name"),
        ("my-shop", "not a valid service name"),
        ("1shop", "not a valid service name"),
        ("", "not a valid service name"),
        ("x" * 41, "not a valid service name"),
        ("class", "would shadow a Python keyword or a library"),
        ("fastapi", "would shadow a Python keyword or a library"),
    ],
)
def test_an_invalid_name_is_refused_with_a_fix(name: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        starter_spec(name)
    (problem,) = caught.value.problems
    assert caught.value.exit_code == 2
    assert problem.path == "NAME" and words in problem.message
    assert problem.fix
