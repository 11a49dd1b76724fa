"""Evolution of profiles: profile fields added to a live project are new columns of `users`
(nullable: accounts made before have no profile; a required one is required of new
registrations only), follows a new table; removing them is destructive."""

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
service: {name: blog}
auth:
  users: true
  roles: [admin, member]
resources:
  Article:
    owned: true
    fields:
      title: {type: string, max_length: 200, required: true}
"""
PROFILED = BASE.replace(
    "  roles: [admin, member]\n",
    """\
  roles: [admin, member]
  profile:
    lookup: username
    fields:
      username: {type: string, max_length: 40, required: true, unique: true}
      bio: text
      age: {type: int, min: 0, max: 150}
    follow: {count: followers_count, mine: following}
""",
).replace(
    "    owned: true\n",
    "    owned: true\n    author: author\n    views: {following: {owner: followed}}\n",
)


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


def changed(old: str, new: str) -> Diff:
    spec = load_spec_text(new)
    return diff(ir_from_json(ir(old).to_json()), build_ir(spec, new), renames_in(spec))


def test_profiles_read_back_from_the_json_a_project_keeps() -> None:
    original = ir(PROFILED)
    again = ir_from_json(original.to_json())
    assert again.to_json() == original.to_json()
    assert schema_of(again) == schema_of(original)
    assert diff(again, original).empty
    users = schema_of(original).get("users")
    assert users is not None
    columns = {c.name: c for c in users.columns}
    assert columns["username"].nullable and columns["bio"].nullable
    assert ("username",) in [u.columns for u in users.uniques]
    assert [c.column for c in users.checks] == ["age"]
    follows = schema_of(original).get("account_follows")
    assert follows is not None and follows.primary_key == ("follower_id", "followed_id")
    assert {(fk.column, fk.ref_table, fk.ondelete) for fk in follows.foreign_keys} == {
        ("follower_id", "users", "CASCADE"),
        ("followed_id", "users", "CASCADE"),
    }
    assert [i.columns for i in follows.indexes] == [("followed_id",)]


def test_profiles_added_to_a_live_project_add_columns_and_the_follows_table() -> None:
    d = changed(BASE, PROFILED)
    summaries = [op.summary for op in d.operations]
    assert any("create table account_follows" in s for s in summaries), summaries
    for column in ("username", "bio", "age"):
        assert any(f"users.{column}" in s or f"column {column}" in s for s in summaries), summaries
    assert not d.destructive


def test_removing_profiles_is_destructive() -> None:
    d = changed(PROFILED, BASE)
    summaries = [op.summary for op in d.destructive]
    assert any("drop table account_follows" in s for s in summaries), summaries
    assert any("username" in s for s in summaries), summaries


def test_plan_lists_and_generate_migrates_the_new_profile(tmp_path: Path, capsys: Any) -> None:
    base, profiled = tmp_path / "base.yaml", tmp_path / "profiled.yaml"
    base.write_text(textwrap.dedent(BASE))
    profiled.write_text(textwrap.dedent(PROFILED))
    project = tmp_path / "blog"
    assert main(["generate", str(base), "-o", str(project)]) == 0
    capsys.readouterr()
    assert main(["plan", str(profiled), str(project)]) == 0
    plan = capsys.readouterr().out
    assert "account_follows" in plan and "username" in plan
    assert main(["generate", str(profiled), "-o", str(project)]) == 0
    (revision,) = (project / "migrations" / "versions").glob("0002_*.py")
    text = revision.read_text()
    assert '"account_follows"' in text and '"username"' in text
    assert 'op.drop_table("account_follows")' in text
    ast.parse(text)
