"""Semantic checks of `auth.profile`, `auth.token_schemes`, `resources.<R>.author` and
`resources.<R>.views`: where each problem is reported (file:line), and that generate refuses
the spec with exit 2 and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from backforge.cli import main
from backforge.errors import Problem, SpecError
from backforge.ir import build_ir
from backforge.spec import load_spec_text

AUTH = """service: {name: blog}
auth:
  users: true
  roles: [admin, member]
  profile:
    lookup: username
    fields:
      username: {type: string, max_length: 40, required: true, unique: true}
      bio: text
    follow: {count: followers_count, mine: following}
resources:
"""  # the resources start on line 12
ARTICLE = """  Article:
    owned: true
    fields:
      title: {type: string, required: true}
"""  # its keys after `fields` start on line 16


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    return caught.value.problems


CASES = {
    "lookup names no profile field": (
        AUTH.replace("lookup: username", "lookup: handle") + ARTICLE,
        (6, "auth.profile.lookup", "is not one of the profile fields"),
    ),
    "lookup not unique": (
        AUTH.replace("required: true, unique: true}", "required: true}") + ARTICLE,
        (6, "auth.profile.lookup", "must be a unique, required string"),
    ),
    "lookup not a string": (
        AUTH.replace("lookup: username", "lookup: age").replace(
            "      bio: text\n",
            "      bio: text\n      age: {type: int, unique: true, required: true}\n",
        )
        + ARTICLE,
        (6, "auth.profile.lookup", "must be a unique, required string"),
    ),
    "profile field named like an account field": (
        AUTH.replace("      bio: text\n", "      email: text\n") + ARTICLE,
        (9, "auth.profile.fields.email", "every account has already"),
    ),
    "profile field of a relation type": (
        AUTH.replace("      bio: text\n", "      team: {type: ref, to: Article}\n") + ARTICLE,
        (9, "auth.profile.fields.team.type", "a profile field cannot be a ref field"),
    ),
    "follow count named like a profile field": (
        AUTH.replace("count: followers_count", "count: bio") + ARTICLE,
        (10, "auth.profile.follow.count", "clashes with a field of the profile"),
    ),
    "token schemes without Bearer": (
        AUTH.replace(
            "  roles: [admin, member]\n", "  roles: [admin, member]\n  token_schemes: [Token]\n"
        )
        + ARTICLE,
        (5, "auth.token_schemes", "the Bearer scheme is left out"),
    ),
    "author on a resource not owned": (
        AUTH + ARTICLE.replace("    owned: true\n", "") + "    author: author\n",
        (15, "resources.Article.author", "is not `owned: true`"),
    ),
    "author named like a field": (
        AUTH + ARTICLE + "    author: title\n",
        (16, "resources.Article.author", "clashes with a field"),
    ),
    "author without profiles": (
        "service: {name: blog}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
        + ARTICLE
        + "    author: author\n",
        (8, "resources.Article.author", "`auth.profile` is not set"),
    ),
    "a view without follows": (
        AUTH.replace("    follow: {count: followers_count, mine: following}\n", "")
        + ARTICLE
        + "    views: {following: {owner: followed}}\n",
        (15, "resources.Article.views.following", "`auth.profile.follow` is not set"),
    ),
    "a view named like the feed": (
        AUTH + ARTICLE + "    events: [created]\n    views: {events: {owner: followed}}\n",
        (17, "resources.Article.views.events", "clashes with the change feed"),
    ),
    "a view named like a mark": (
        AUTH
        + ARTICLE
        + "    marks: {star: {count: stars}}\n    views: {star: {owner: followed}}\n",
        (17, "resources.Article.views.star", "clashes with a mark or action"),
    ),
    "a view of an unknown kind": (
        AUTH + ARTICLE + "    views: {following: {owner: liked}}\n",
        (16, "resources.Article.views.following.owner", ""),
    ),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_profile_problems(text: str, expected: tuple[int, str, str]) -> None:
    found = problems(text)
    assert any(
        (p.file, p.line, p.path) == ("spec.yaml", *expected[:2]) and expected[2] in p.message
        for p in found
    ), [(p.line, p.path, p.message) for p in found]
    assert all(p.fix for p in found)


def test_a_valid_profile_spec_builds() -> None:
    text = AUTH + ARTICLE + "    author: author\n    views: {following: {owner: followed}}\n"
    ir = build_ir(load_spec_text(text, "spec.yaml"), text)
    assert ir.auth is not None and ir.auth.profile_lookup == "username"
    assert [f.name for f in ir.auth.profile_fields] == ["username", "bio"]
    assert all(f.nullable for f in ir.auth.profile_fields)  # accounts made without a profile
    assert ir.auth.follow_count == "followers_count" and ir.auth.follow_mine == "following"
    article = ir.resource("Article")
    assert article.author == "author" and article.views == {"following": "followed"}
    assert article.cache_ttl is None


def test_generate_refuses_a_bad_profile_with_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "blog.yaml"
    spec.write_text(AUTH.replace("lookup: username", "lookup: handle") + ARTICLE)
    out = tmp_path / "out"
    assert main(["generate", str(spec), "-o", str(out)]) == 2
    assert not out.exists()
