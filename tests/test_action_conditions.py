"""Action preconditions beyond equality (`when: {field: {ne|lt|lte|gt|gte: v}}`, `{in: [..]}`,
`null`): what they mean, the spec checks (file:line, exit 2, nothing written), the IR's states
for the generated tests, the generated code, and `plan`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backforge import conditions
from backforge.cli import main
from backforge.errors import Problem, SpecError
from backforge.evolve.diff import diff
from backforge.evolve.snapshot import ir_from_json
from backforge.ir import ServiceIR, build_ir
from backforge.render import render_project
from backforge.spec import load_spec_text

SPEC = Path(__file__).parent / "specs" / "actions2.yaml"

# A resource with an action whose `when` is the test's: the `when:` line is line 12.
BOOK = """\
service: {{name: shop}}
resources:
  Book:
    fields:
      state: {{type: enum, values: [draft, live, gone], default: draft}}
      score: {{type: int, min: 0, max: 10}}
      title: {{type: string, max_length: 20, required: true}}
      price: {{type: decimal, precision: 6, scale: 2}}
      due: date
    actions:
      go:
        when: {when}
        sets: {{state: live}}
"""


def book(when: str) -> str:
    return BOOK.format(when=when)


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    return caught.value.problems


def ir_of(text: str) -> ServiceIR:
    return build_ir(load_spec_text(text, "spec.yaml"), text)


# --- what a condition means (the generated runtime gives SQL the same meaning) -------------


CONDITION_CASES = [
    (3, 3, True),
    (None, None, True),
    (3, None, False),
    (3, {"ne": 4}, True),
    (4, {"ne": 4}, False),
    (None, {"ne": 4}, True),  # IS DISTINCT FROM: null differs from a value
    (None, {"ne": None}, False),
    ("a", {"ne": None}, True),
    (2, {"gte": 2, "lt": 5}, True),
    (5, {"gte": 2, "lt": 5}, False),
    (1, {"gte": 2, "lt": 5}, False),
    (None, {"lt": 5}, False),  # an ordering never holds for null
    (5, {"lte": 5}, True),
    (6, {"gt": 5}, True),
    ("open", {"in": ["open", "waiting"]}, True),
    ("new", {"in": ["open", "waiting"]}, False),
    (None, {"in": ["open"]}, False),
    (None, {"in": ["open", None]}, True),
    (dt.date(2024, 1, 1), {"lte": dt.date(2024, 1, 1)}, True),
    (Decimal("9.99"), {"lt": Decimal("10")}, True),
]


@pytest.mark.parametrize(("found", "condition", "holds"), CONDITION_CASES)
def test_a_condition_holds_as_sql_would_hold_it(found: Any, condition: Any, holds: bool) -> None:
    assert conditions.holds(found, condition) is holds


def test_a_condition_is_described_in_words() -> None:
    assert conditions.describe("score", {"gte": 2, "lt": 5}) == "score >= 2 and score < 5"
    assert conditions.describe("state", "draft") == "state = 'draft'"


# --- spec checks ----------------------------------------------------------------------------

# (id, when, path under resources.Book.actions.go.when, words in the message, words in the fix)
CASES = [
    ("ordering on a string", "{title: {lt: a}}", "title.lt", "compares ordered values", "`ne`"),
    ("ordering on an enum", "{state: {gte: live}}", "state.gte", "'state' is an enum", "`in`"),
    ("ordering with null", "{score: {lt: null}}", "score.lt", "`lt: null`", "give a value"),
    ("value outside min/max", "{score: {gt: 11}}", "score.gt", "outside min/max", "bounds"),
    ("unknown enum value", "{state: {in: [draft, nope]}}", "state.in", "not one of", "live"),
    ("empty in", "{state: {in: []}}", "state.in", "holds for no value", "at least one"),
    ("null in of a required", "{title: {in: [a, null]}}", "title.in", "never null", "value"),
    ("ne null of a required", "{title: {ne: null}}", "title.ne", "never null", "remove"),
    ("too long a value", "{title: {ne: " + "x" * 30 + "}}", "title.ne", "characters", "shorten"),
    ("wrong type", "{score: {gte: many}}", "score.gte", "does not fit", "value"),
    ("unsatisfiable", "{score: {lt: 0}}", "score", "no value of 'score' meets", "loosen"),
    ("empty range", "{score: {gt: 4, lt: 5}}", "score", "score > 4 and score < 5", "loosen"),
    ("unknown operator", "{score: {foo: 1}}", "score.foo", "unknown option `foo`", "gte, in"),
    ("no operator", "{score: {}}", "score", "needs an operator", "{gte: 1}"),
]


@pytest.mark.parametrize(
    ("when", "path", "message", "fix"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_condition_names_its_line_and_a_fix(
    when: str, path: str, message: str, fix: str
) -> None:
    found = problems(book(when))
    assert len(found) == 1, found
    problem = found[0]
    assert problem.line == 12, problem
    assert problem.path == f"resources.Book.actions.go.when.{path}", problem
    assert message in problem.message, problem
    assert fix in problem.fix, problem


def test_generate_refuses_a_bad_condition_with_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(book("{title: {lt: a}}"))
    out = tmp_path / "out"
    assert main(["generate", str(spec), "-o", str(out)]) == 2
    assert not out.exists()
    assert "spec.yaml:12" in capsys.readouterr().err


@pytest.mark.parametrize(
    "when",
    [
        "{score: {gte: 2, lt: 5}, state: {in: [draft, null]}, due: {lte: 2030-01-01}}",
        "{score: {ne: null}, price: {gt: 9.5}, title: {ne: a}}",
        "{state: {ne: gone}, score: null}",
        "{score: {lte: 0}}",  # only the bound itself meets it
    ],
)
def test_good_conditions_pass(when: str) -> None:
    load_spec_text(book(when), "spec.yaml")


# --- the IR: a state that meets `when` and one that breaks it ------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "{score: {gte: 2, lt: 5}, state: {in: [draft, null]}, due: {lte: 2030-01-01}}",
        "{score: {ne: null}, price: {gt: 9.5}, title: {ne: example}}",
        "{score: {lte: 0}}",
        "{state: {ne: draft}}",
        "{price: {in: [1.5, 2.25]}}",
    ],
)
def test_the_generated_tests_get_a_state_that_meets_when_and_one_that_breaks_it(
    when: str,
) -> None:
    r = ir_of(book(when)).resource("Book")
    action = r.actions[0]
    state = action.state(r)
    assert set(state) == set(action.when)
    for column, condition in action.when.items():
        f = next(f for f in r.columns if f.column == column)
        assert conditions.holds(state[column], condition), (column, state)
        assert state[column] is None or f.fits(state[column]), (column, state)
    conflict = action.conflict(r)
    assert conflict is not None
    column, value = conflict
    assert not conditions.holds(value, action.when[column])


def test_conditions_are_typed_as_their_fields() -> None:
    action = ir_of(book("{price: {in: [1.5, 2.25]}, due: {gt: 2024-05-01}}")).resource("Book")
    when = action.actions[0].when
    assert when == {
        "price": {"in": [Decimal("1.50"), Decimal("2.25")]},
        "due": {"gt": dt.date(2024, 5, 1)},
    }


def test_the_ir_reads_conditions_back_from_its_json() -> None:
    original = ir_of(book("{score: {gte: 2, lt: 5}, due: {lte: 2030-01-01}}"))
    assert diff(ir_from_json(original.to_json()), original).empty


def test_changing_a_condition_is_breaking_in_plan() -> None:
    old = ir_from_json(ir_of(book("{score: {gte: 2}}")).to_json())
    new = ir_of(book("{score: {gte: 3}}"))
    found = {f"{c.where}: {c.summary}": c.breaking for c in diff(old, new).api}
    assert found == {'Book.go: precondition of go changed: {"score": {"gte": 3}}': True}


# --- the generated code --------------------------------------------------------------------


def test_the_generated_schemas_and_tests_carry_the_conditions() -> None:
    text = SPEC.read_text()
    files = render_project(ir_of(text))
    schemas = files["tickets/ticket/schemas.py"].replace("'", '"')
    assert '"status": {"in": ["open", "waiting"]},' in schemas
    assert '"assignee": {"ne": None},' in schemas
    assert '"priority": {"lt": 5, "gte": 2},' in schemas
    assert '"due_on": {"lte": date.fromisoformat("2030-01-01")},' in schemas
    tests = files["tests/test_ticket_actions.py"]
    assert "ESCALATE_STATE" in tests and "from datetime import" in tests
    assert "_holds" in files["tickets/core/actions.py"]


def test_the_runtime_checks_conditions_as_the_ir_means_them() -> None:
    """The runtime's Python check before its UPDATE (core/actions.py; its SQL runs in the
    generated project's tests) agrees with backforge.conditions."""
    namespace: dict[str, Any] = {"Any": Any}
    source = (Path(conditions.__file__).parent / "runtime" / "core" / "actions.py").read_text()
    exec(source[source.index("SYMBOLS = ") :], namespace)  # the module's condition helpers
    for case in CONDITION_CASES:
        found, condition, holds = case
        assert namespace["_equal"](found, condition) is holds, case
    assert namespace["_described"]("n", {"gte": 2, "lt": 5}) == "n >= 2 and n < 5"
    assert namespace["_described"]("s", "x") == "s = 'x'"
    assert namespace["_described"]("d", {"lte": dt.date(2030, 1, 1)}) == "d <= 2030-01-01"
    assert namespace["_described"]("s", {"in": ["a", None]}) == "s in ['a', None]"


# --- `allow: <ref field>.owner` ---------------------------------------------------------------

# Question and Answer, with accept's `allow:` on line 20.
FORUM = """\
service: {{name: forum}}
auth: {{users: true, roles: [admin, moderator, member], default_role: member}}
resources:
  Question:
    owned: {question_owned}
    fields:
      title: {{type: string, required: true}}
  Answer:
    owned: true
    fields:
      question: {{type: ref, to: Question, required: {required}}}
      body: {{type: text, required: true}}
      accepted: {{type: bool, default: false}}
      rating: int
      note: {{type: ref, to: Question}}
    actions:
      accept:
        when: {{accepted: false}}
        sets: {{accepted: true}}
        allow: {allow}
"""


def forum(allow: str, *, question_owned: str = "true", required: str = "true") -> str:
    return FORUM.format(allow=allow, question_owned=question_owned, required=required)


REF_OWNER_CASES = [
    ("not a field", forum("quest.owner"), "'quest' is not a field of Answer", "`question`"),
    ("not a ref", forum("rating.owner"), "'rating' is an int field", "ref field"),
    ("optional ref", forum("note.owner"), "may point at nothing", "required: true"),
    (
        "target not owned",
        forum("question.owner", question_owned="false"),
        "records of Question belong to no account",
        "owned: true",
    ),
]


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [c[1:] for c in REF_OWNER_CASES],
    ids=[c[0] for c in REF_OWNER_CASES],
)
def test_a_bad_ref_owner_names_its_line_and_a_fix(text: str, message: str, fix: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    problem = found[0]
    assert problem.line == 20 and problem.path.startswith("resources.Answer.actions.accept.allow")
    assert message in problem.message, problem
    assert fix in problem.fix, problem


def test_the_owner_of_a_referenced_record_may_run_the_action() -> None:
    r = ir_of(forum("[question.owner, moderator]")).resource("Answer")
    action = r.actions[0]
    assert action.allow == ["moderator", "question.owner"]
    assert action.parents == ("question",)
    auth = ir_of(forum("question.owner")).auth
    assert auth is not None
    matrix = {m["caller"]: m["status"] for m in r.action_matrix(action, auth)}
    # the parent's owner may; the answer's own owner may not (it is not named), a role named may
    assert matrix == {
        "anonymous": 401,
        "admin": 0,
        "moderator": 0,
        "member": 403,
        "owner": 403,
        "question.owner": 0,
    }
    files = render_project(ir_of(forum("[question.owner, owner]")))
    assert 'parents=("question",)' in files["forum/answer/routes.py"].replace("'", '"')
    tests = files["tests/test_answer_actions.py"]
    assert "async def own_parent(" in tests and '("question.owner", 0)' in tests.replace("'", '"')


def test_a_spec_without_ref_owners_gets_none_of_their_code() -> None:
    files = render_project(ir_of(forum("owner")))
    assert "parents=" not in files["forum/answer/routes.py"]
    assert "own_parent" not in files["tests/test_answer_actions.py"]


def test_dropping_a_ref_owner_from_allow_is_breaking_in_plan() -> None:
    old = ir_from_json(ir_of(forum("[question.owner, moderator]")).to_json())
    new = ir_of(forum("moderator"))
    found = {f"{c.where}: {c.summary}": c.breaking for c in diff(old, new).api}
    assert found == {"Answer.accept: who may accept: moderator, question.owner -> moderator": True}
    wider = {c.breaking for c in diff(ir_from_json(new.to_json()), old).api}
    assert wider == {False}


# --- derived slugs (`from:` on a slug field) ------------------------------------------------

# A resource whose slug field is on line 7.
ARTICLE = """\
service: {{name: shop}}
resources:
  Article:
    fields:
      title: {{type: string, max_length: 200, required: true}}
      views: int
      slug: {slug}
"""


SLUG_CASES = [
    ("from no field", "{type: slug, from: titel}", "from", "names no other field", "`title`"),
    ("from itself", "{type: slug, from: slug}", "from", "names no other field", "title"),
    ("from an int", "{type: slug, from: views}", "from", "'views' is an int field", "title"),
    ("on_change alone", "{type: slug, on_change: update}", "on_change", "derived slug", "from"),
    ("with a default", "{type: slug, from: title, default: a}", "default", "no default", "remove"),
    ("from on a string", "{type: string, from: title}", "from", "does not apply", "remove it"),
]


@pytest.mark.parametrize(
    ("slug", "option", "message", "fix"),
    [c[1:] for c in SLUG_CASES],
    ids=[c[0] for c in SLUG_CASES],
)
def test_a_bad_derived_slug_names_its_line_and_a_fix(
    slug: str, option: str, message: str, fix: str
) -> None:
    found = problems(ARTICLE.format(slug=slug))
    assert len(found) == 1, found
    problem = found[0]
    assert problem.line == 7, problem
    assert problem.path == f"resources.Article.fields.slug.{option}", problem
    assert message in problem.message and fix in problem.fix, problem


def test_a_derived_slug_is_read_only_always_present_and_may_be_the_lookup() -> None:
    text = ARTICLE.format(slug="{type: slug, from: title, unique: true, on_change: update}")
    text = text.replace("  Article:\n", "  Article:\n    lookup: slug\n")
    r = ir_of(text).resource("Article")
    slug = next(f for f in r.fields if f.name == "slug")
    assert (slug.writable, slug.readable, slug.nullable) == (False, True, False)
    assert (slug.derived_from, slug.on_change) == ("title", "update")
    assert r.derived_slugs == [slug] and r.slug_source(slug).name == "title"
    files = render_project(ir_of(text))
    service = files["shop/article/service.py"]
    assert 'Derived("slug", "title", 255, update=True)' in service.replace("'", '"')
    assert "update_derived" in service and "shop/core/slugs.py" in files
    assert "tests/test_article_slugs.py" in files
    kept = ir_of(ARTICLE.format(slug="{type: slug, from: title}"))
    assert kept.resource("Article").derived_slugs[0].on_change == "keep"
    assert "update_derived(" not in render_project(kept)["shop/article/service.py"]


def test_a_spec_without_derived_slugs_gets_none_of_their_code() -> None:
    files = render_project(ir_of(ARTICLE.format(slug="{type: slug, unique: true}")))
    assert "shop/core/slugs.py" not in files
    assert "tests/test_article_slugs.py" not in files
    assert "Derived" not in files["shop/article/service.py"]


def test_slugify_folds_accents_cuts_and_suffixes() -> None:
    namespace: dict[str, Any] = {}
    source = (Path(conditions.__file__).parent / "runtime" / "core" / "slugs.py").read_text()
    start, end = source.index("def slugify("), source.index("async def free_slug(")
    exec("import re\nimport unicodedata\n" + source[start:end], namespace)
    slugify, suffixed = namespace["slugify"], namespace["suffixed"]
    assert slugify("  Crème Brûlée: 10 Ways! ", 40, "page") == "creme-brulee-10-ways"
    assert slugify("Ærø & Straße — ça va?", 40, "page") == "r-strae-ca-va"
    assert slugify("How to train your dragon", 12, "page") == "how-to-train"
    assert slugify("Hello world", 6, "page") == "hello"  # no trailing dash
    assert slugify("日本語", 40, "page") == "page"  # nothing ASCII: the fallback
    assert slugify(None, 40, "page") == "page"
    assert suffixed("hello-world", 2, 40) == "hello-world-2"
    assert suffixed("hello-world", 12, 12) == "hello-wor-12"
    assert suffixed("hello-world", 3, 8) == "hello-3"


def test_plan_flags_a_changed_derived_slug_and_refuses_one_on_existing_rows() -> None:
    plain = ARTICLE.format(slug="{type: slug, unique: true}").replace("      views: int\n", "")
    kept = plain.replace("{type: slug, unique: true}", "{type: slug, from: title, unique: true}")
    moving = kept.replace("unique: true}", "unique: true, on_change: update}")
    changes = diff(ir_from_json(ir_of(kept).to_json()), ir_of(moving))
    found = {f"{c.where}: {c.summary}": c.breaking for c in changes.api}
    assert found == {
        "Article.slug: slug from title, on_change keep -> from title, on_change update": True
    }
    assert changes.operations == []  # no table changes
    # a new derived slug on a table with rows: its rows would have none (a backfill is needed)
    without = plain.replace("      slug: {type: slug, unique: true}\n", "")
    added = diff(ir_from_json(ir_of(without).to_json()), ir_of(kept))
    refusals = [op for op in added.operations if type(op).__name__ == "Refusal"]
    assert refusals and "Article.slug" in refusals[0].message


# --- actions on the collection (`on: collection`) ---------------------------------------------

# Ticket with one action, whose body starts on line 10.
TICKETS = """\
service: {{name: desk}}
auth: {{users: true, roles: [admin, agent, member], default_role: member}}
resources:
  Ticket:
    owned: true
    events: {events}
    fields:
      status: {{type: enum, values: [open, closed], default: open}}
    actions:
      {action}
"""


def tickets(action: str, events: str = "[]") -> str:
    return TICKETS.format(action=action, events=events)


HANDLER = "handler: true, output: {closed: {type: int, required: true}}"
COLLECTION_CASES = [
    (
        "declarative",
        tickets("close_all: {on: collection, sets: {status: closed}}"),
        "resources.Ticket.actions.close_all.on",
        "declarative collection action is not generated yet",
        "handler: true",
    ),
    (
        "with when",
        tickets("close_all: {on: collection, when: {status: open}, " + HANDLER + "}"),
        "resources.Ticket.actions.close_all.when",
        "has no `when`",
        "handler",
    ),
    (
        "allowed to the owner",
        tickets("close_all: {on: collection, allow: owner, " + HANDLER + "}"),
        "resources.Ticket.actions.close_all.allow",
        "a collection action has none",
        "roles",
    ),
    (
        "named like the feed",
        tickets("events: {on: collection, " + HANDLER + "}", events="[updated]"),
        "resources.Ticket.actions.events",
        "clashes with the change feed",
        "rename",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "message", "fix"),
    [c[1:] for c in COLLECTION_CASES],
    ids=[c[0] for c in COLLECTION_CASES],
)
def test_a_bad_collection_action_names_its_line_and_a_fix(
    text: str, path: str, message: str, fix: str
) -> None:
    found = problems(text)
    assert len(found) == 1, found
    problem = found[0]
    assert problem.line == 10 and problem.path == path, problem
    assert message in problem.message and fix in problem.fix, problem


def test_a_collection_action_is_a_post_on_the_collection_with_its_own_access() -> None:
    text = tickets("close_all: {on: collection, allow: agent, " + HANDLER + "}")
    ir = ir_of(text)
    r = ir.resource("Ticket")
    action = r.actions[0]
    assert action.collection and action.handler and action.allow == ["agent"]
    assert ir.auth is not None
    matrix = {m["caller"]: m["status"] for m in r.action_matrix(action, ir.auth)}
    assert matrix == {"anonymous": 401, "admin": 0, "agent": 0, "member": 403}  # no owner
    files = render_project(ir)
    routes = files["desk/ticket/routes.py"].replace("'", '"')
    assert '@collection.post(\n    "/close-all",' in routes
    assert "close_all_tickets_takes_post_only" in routes
    assert "run_collection_handler(" in routes and "run_handler" not in routes.split("import")[1]
    assert "async def close_all(self, values: dict[str, Any])" in files["desk/ticket/actions.py"]
    assert "CLOSE_ALL_URL" in files["tests/test_ticket_actions.py"]
    # without `allow`, the update rule's roles (a collection has no owner)
    default = ir_of(tickets("close_all: {on: collection, " + HANDLER + "}"))
    assert default.resource("Ticket").actions[0].allow == []


def test_a_collection_action_at_the_url_of_an_enum_lookup_value_is_refused() -> None:
    text = (
        tickets("archive: {on: collection, " + HANDLER + "}")
        .replace(
            "      status: {type: enum, values: [open, closed], default: open}\n",
            "      kind: {type: enum, values: [bug, archive], required: true, unique: true}\n",
        )
        .replace("    owned: true\n", "    owned: true\n    lookup: kind\n")
    )
    found = problems(text)
    assert len(found) == 1, found
    assert "the URL of the Ticket whose kind is 'archive'" in found[0].message
