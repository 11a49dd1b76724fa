"""Foreign-key order of the tables, the references that close a cycle, and the checks on them
(the migrations themselves run on real databases in test_dependency_order_e2e.py)."""

from __future__ import annotations

import textwrap

import pytest

from backforge.errors import SpecError
from backforge.evolve.diff import diff
from backforge.evolve.operations import AddConstraint, CreateTable, DropConstraint, DropTable
from backforge.evolve.snapshot import ir_from_json, schema_of
from backforge.ir import ServiceIR, build_ir
from backforge.spec import load_spec_text
from backforge.targets.sqlalchemy import column_args


def ir(text: str) -> ServiceIR:
    text = textwrap.dedent(text)
    return build_ir(load_spec_text(text), text)


SHOP = """
service: {name: shop}
resources:
  Group: {fields: {name: string}}
  Order: {fields: {group: {type: ref, to: Group}}}
  OrderItem:
    fields:
      order: {type: ref, to: Order, required: true}
      product: {type: ref, to: Product, required: true}
  Product: {fields: {name: string}}
"""

CYCLE = """
service: {name: league}
resources:
  Team:
    fields:
      captain: {type: ref, to: Player}
      parent: {type: ref, to: Team}
  Player:
    fields:
      team: {type: ref, to: Team, required: true}
  Coach:
    fields:
      team: {type: ref, to: Team}
"""


def test_referenced_tables_come_first_whatever_their_names() -> None:
    service = ir(SHOP)
    assert [r.name for r in service.tables_in_order] == ["Group", "Product", "Order", "OrderItem"]
    assert not any(f.deferred for r in service.resources for f in r.refs)
    assert not any(fk.deferred for t in schema_of(service).tables for fk in t.foreign_keys)


def test_a_cycle_defers_one_key_and_keeps_the_rest_inline() -> None:
    service = ir(CYCLE)
    # Coach waits on the cycle without being on it; Player is the first on it by name
    assert [r.name for r in service.tables_in_order] == ["Player", "Team", "Coach"]
    deferred = {(r.name, f.name) for r in service.resources for f in r.refs if f.deferred}
    assert deferred == {("Player", "team")}
    player = service.resource("Player").ref_named("team")
    assert player is not None and "use_alter=True" in column_args(player)
    team = service.resource("Team").ref_named("captain")
    assert team is not None and "use_alter" not in column_args(team)
    keys = {fk.name: fk.deferred for t in schema_of(service).tables for fk in t.foreign_keys}
    assert keys == {
        "fk_player_team_id_team": True,
        "fk_team_captain_id_player": False,
        "fk_team_parent_id_team": False,
        "fk_coach_team_id_team": False,
    }
    assert ir(CYCLE).to_json() == service.to_json()  # deterministic


def test_a_new_cycle_in_a_later_revision_gets_its_key_after_the_tables() -> None:
    old = ir_from_json(ir(SHOP).to_json())
    new_text = textwrap.dedent(SHOP) + textwrap.indent(
        "Venue: {fields: {club: {type: ref, to: Club}}}\n"
        "Club: {fields: {venue: {type: ref, to: Venue, required: true}}}\n",
        "  ",
    )
    new = build_ir(load_spec_text(new_text), new_text)
    changes = diff(old, new)
    steps = [(type(op).__name__, op.table) for op in changes.operations]
    assert steps == [
        ("CreateTable", "club"),
        ("CreateTable", "venue"),
        ("AddConstraint", "club"),
    ]
    created = [op for op in changes.operations if isinstance(op, CreateTable)]
    assert [fk.deferred for fk in created[0].definition.foreign_keys] == [True]
    added = changes.operations[2]
    assert isinstance(added, AddConstraint) and added.constraint.name == "fk_club_venue_id_venue"
    back = [(type(op).__name__, op.table) for op in changes.reverse]
    assert back == [("DropConstraint", "club"), ("DropTable", "venue"), ("DropTable", "club")]
    assert isinstance(changes.reverse[0], DropConstraint)
    assert all(isinstance(op, DropTable) for op in changes.reverse[1:])


@pytest.mark.parametrize(
    ("resources", "line", "path", "chain"),
    [
        (
            "  A: {fields: {b: {type: ref, to: B, required: true}}}\n"
            "  B: {fields: {a: {type: ref, to: A, required: true}}}\n",
            3,
            "resources.A.fields.b",
            "A.b -> B, B.a -> A",
        ),
        (
            "  Zed: {fields: {x: {type: ref, to: Ex, required: true}}}\n"
            "  Ex:\n"
            "    fields:\n"
            "      why: {type: ref, to: Why, required: true}\n"
            "      zed: {type: ref, to: Zed}\n"
            "  Why: {fields: {zed: {type: ref, to: Zed, required: true}}}\n",
            6,
            "resources.Ex.fields.why",
            "Ex.why -> Why, Why.zed -> Zed, Zed.x -> Ex",
        ),
    ],
)
def test_a_cycle_of_required_references_is_refused_where_it_starts(
    resources: str, line: int, path: str, chain: str
) -> None:
    text = "service: {name: loop}\nresources:\n" + resources
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("spec.yaml", line, path)
    assert f"required references form a cycle ({chain})" in problem.message
    assert "required: false" in problem.fix


def test_a_cycle_with_one_optional_reference_is_accepted() -> None:
    text = (
        "service: {name: loop}\nresources:\n"
        "  A: {fields: {b: {type: ref, to: B, required: true}}}\n"
        "  B: {fields: {a: {type: ref, to: A}}}\n"
    )
    service = build_ir(load_spec_text(text, "spec.yaml"), text)
    assert {(r.name, f.name) for r in service.resources for f in r.refs if f.deferred} == {
        ("A", "b")
    }
