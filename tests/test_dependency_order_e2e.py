"""Tables in foreign-key order, and cycles of references, on a real database.

Two services, each in two versions: a shop whose resource names sort against their
dependencies (`OrderItem` refers to `Product`), and a league whose resources refer to each
other (`Team` <-> `Player`, then `Club` -> `Venue` -> `League` -> `Club` added later). For
each, on SQLite, PostgreSQL and MariaDB: the initial revision goes up, down and up again and passes
`alembic check`, the generated suite passes against that database, then the second version's
revision goes up, down one step and up, and passes `alembic check` again. The order of the
statements in both revisions is checked: referenced tables first, keys that close a cycle
added after both tables exist and dropped before either goes.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from evolve_support import Database, scratch_database

from backforge.cli import main
from backforge.verify.environment import ensure_env

pytestmark = pytest.mark.e2e

SHOP_V1 = """
service: {name: shop, version: 1.0.0}
auth: {users: true, roles: [admin, seller, buyer], default_role: buyer}
resources:
  Group:
    fields:
      name: {type: string, max_length: 80, required: true, unique: true}
    permissions: {list: anyone, read: anyone, create: admin, update: admin, delete: admin}
  Order:
    owned: true
    fields:
      note: {type: string, max_length: 200}
      group: {type: ref, to: Group}
    permissions: {list: owner, read: owner, create: authenticated, update: owner, delete: owner}
  OrderItem:
    fields:
      order: {type: ref, to: Order, required: true, on_delete: cascade}
      product: {type: ref, to: Product, required: true, on_delete: restrict}
      quantity: {type: int, min: 1, required: true}
    permissions: {list: authenticated, read: authenticated, create: authenticated,
                  update: authenticated, delete: authenticated}
  Product:
    fields:
      name: {type: string, max_length: 120, required: true}
      price: {type: decimal, precision: 10, scale: 2, min: 0, required: true}
    permissions: {list: anyone, read: anyone, create: [admin, seller], update: [admin, seller],
                  delete: admin}
"""
# v2: a new resource that refers to an old one and to a newer one sorting after it
SHOP_V2 = (
    SHOP_V1
    + """
  Basket:
    fields:
      label: {type: string, max_length: 40, required: true}
      voucher: {type: ref, to: Voucher, required: true}
      product: {type: ref, to: Product}
  Voucher:
    fields:
      code: {type: string, max_length: 20, required: true, unique: true}
"""
)

LEAGUE_V1 = """
service: {name: league, version: 1.0.0}
resources:
  Team:
    fields:
      name: {type: string, max_length: 80, required: true, unique: true}
      captain: {type: ref, to: Player}
      parent: {type: ref, to: Team, on_delete: set_null}
  Player:
    fields:
      name: {type: string, max_length: 80, required: true}
      team: {type: ref, to: Team, required: true, on_delete: cascade}
      rating: {type: int, min: 0, max: 100}
"""
# v2: a longer cycle, all new, and a new reference from an old table into it
LEAGUE_V2 = (
    LEAGUE_V1
    + """      club: {type: ref, to: Club, on_delete: set_null}
  Venue:
    fields:
      name: {type: string, max_length: 80, required: true}
      league: {type: ref, to: League, on_delete: set_null}
  League:
    fields:
      name: {type: string, max_length: 80, required: true}
      founder: {type: ref, to: Club}
  Club:
    fields:
      name: {type: string, max_length: 80, required: true}
      venue: {type: ref, to: Venue, required: true}
"""
)

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]


STEP = re.compile(
    r'op\.(create_table|drop_table)\(\s*"(\w+)"|(create_foreign_key|drop_constraint)\(\s*op\.f\("(fk_\w+)"\)'
)


def statements(text: str, function: str) -> list[str]:
    """The table and foreign-key steps of one function of a revision, in order."""
    body = text.split(f"def {function}() -> None:", 1)[1].split("\ndef ", 1)[0]
    return [" ".join(p for p in m.groups() if p) for m in STEP.finditer(body)]


def inline_keys(text: str, table: str) -> list[str]:
    """The foreign keys created with one table in a revision's upgrade()."""
    upgrade = text.split("def upgrade() -> None:", 1)[1].split("\ndef downgrade", 1)[0]
    block = upgrade.split(f'op.create_table(\n        "{table}",', 1)[1].split("\n    )\n", 1)[0]
    return re.findall(r'name=op\.f\("(fk_\w+)"\)', block)


def revision(project: Path, number: str) -> str:
    [path] = (project / "migrations" / "versions").glob(f"{number}_*.py")
    return path.read_text(encoding="utf-8")


def run_suite(project: Path, url: str) -> str:
    env = ensure_env(project)
    done = subprocess.run(
        [str(env.python), "-m", "pytest", "-x", "-p", "no:cacheprovider"],
        cwd=project,
        env=env.environ({"TEST_DATABASE_URL": url}),
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
    return summary


def through_two_versions(
    tmp_path: Path, backend: str, name: str, v1: str, v2: str
) -> tuple[Path, str, str]:
    """Generate v1, migrate and test it, evolve to v2, migrate; both revisions' texts."""
    project = tmp_path / name
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(v1.lstrip(), encoding="utf-8")
    assert main(["generate", str(spec), "-o", str(project)]) == 0
    with scratch_database(backend, project, tmp_path) as url:
        db = Database(project, url)
        db.must("upgrade", "head")
        db.must("downgrade", "base")
        db.must("upgrade", "head")
        db.must("check")
        db.must("downgrade", "base")
        print(f"{name} v1 on {backend}: {run_suite(project, url)}")
        db.must("upgrade", "head")

        spec.write_text(v2.lstrip(), encoding="utf-8")
        assert main(["generate", str(spec), "-o", str(project)]) == 0
        db.must("upgrade", "head")
        db.must("downgrade", "-1")
        db.must("upgrade", "head")
        db.must("check")
        db.must("downgrade", "base")
        db.must("upgrade", "head")
        db.must("check")
    return project, revision(project, "0001"), revision(project, "0002")


@pytest.mark.parametrize("backend", BACKENDS)
def test_tables_are_created_in_dependency_order(tmp_path: Path, backend: str) -> None:
    _project, first, second = through_two_versions(tmp_path, backend, "shop", SHOP_V1, SHOP_V2)
    created = [s for s in statements(first, "upgrade") if s.startswith("create_table")]
    tables = [s.split()[1] for s in created]
    assert tables.index("users") < tables.index("order")
    assert tables.index("group") < tables.index("order") < tables.index("order_item")
    assert tables.index("product") < tables.index("order_item")
    dropped = [s.split()[1] for s in statements(first, "downgrade") if s.startswith("drop_table")]
    resources = [t for t in tables if t in ("group", "order", "order_item", "product")]
    assert [t for t in dropped if t in resources] == list(reversed(resources))
    assert "create_foreign_key" not in first  # no cycle: every key is created with its table

    assert statements(second, "upgrade") == ["create_table voucher", "create_table basket"]
    assert statements(second, "downgrade") == ["drop_table basket", "drop_table voucher"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_cycle_of_references_migrates_with_the_closing_key_added_afterwards(
    tmp_path: Path, backend: str
) -> None:
    _project, first, second = through_two_versions(
        tmp_path, backend, "league", LEAGUE_V1, LEAGUE_V2
    )
    # Player comes first by name; its key to Team waits until team exists
    assert statements(first, "upgrade")[-3:] == [
        "create_table player",
        "create_table team",
        "create_foreign_key fk_player_team_id_team",
    ]
    assert inline_keys(first, "player") == []
    assert inline_keys(first, "team") == ["fk_team_captain_id_player", "fk_team_parent_id_team"]
    assert statements(first, "downgrade")[:3] == [
        "drop_constraint fk_player_team_id_team",
        "drop_table team",
        "drop_table player",
    ]

    # Club -> Venue -> League -> Club, all new: Club first with its key to Venue deferred
    assert statements(second, "upgrade") == [
        "create_table club",
        "create_table league",
        "create_table venue",
        "create_foreign_key fk_club_venue_id_venue",
        "create_foreign_key fk_player_club_id_club",
    ]
    assert inline_keys(second, "club") == []
    assert inline_keys(second, "league") == ["fk_league_founder_id_club"]
    assert inline_keys(second, "venue") == ["fk_venue_league_id_league"]
    assert statements(second, "downgrade") == [
        "drop_constraint fk_player_club_id_club",
        "drop_constraint fk_club_venue_id_venue",
        "drop_table venue",
        "drop_table league",
        "drop_table club",
    ]
