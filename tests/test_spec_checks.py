"""Semantic checks: each kind of problem, where it is reported, and how to fix it."""

from __future__ import annotations

import textwrap

import pytest

from backforge.errors import Problem, SpecError
from backforge.ir import build_ir
from backforge.spec import load_spec_text

HEAD = "service: {name: shop}\nresources:\n"  # the resources below start on line 3


def spec(resources: str, head: str = HEAD) -> str:
    return head + textwrap.indent(textwrap.dedent(resources), "  ")


def problems(text: str) -> list[Problem]:
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    return caught.value.problems


# A resource with actions: the action under test starts on line 8.
ACTION_BOOK = (
    "Book:\n  fields:\n    state: {type: enum, values: [draft, live]}\n"
    "    isbn: {type: string, unique: true}\n  actions:\n"
)

# (id, resources, line, path, words in the message, words in the fix)
CASES = [
    (
        "dangling ref",
        "Book:\n  fields:\n    author: {type: ref, to: Writer}\n",
        5,
        "resources.Book.fields.author.to",
        "`to: Writer` names no resource",
        "Book",
    ),
    (
        "feed without events",
        "Book:\n  fields: {title: string}\n  feed: true\n",
        5,
        "resources.Book.feed",
        "has no `events`",
        "add `events:",
    ),
    (
        "enum lookup value events beside the feed",
        "Book:\n  fields:\n    kind: {type: enum, values: [news, events], required: true, "
        "unique: true}\n  lookup: kind\n  events: [created]\n",
        6,
        "resources.Book.lookup",
        "lookup value 'events'",
        "feed: false",
    ),
    (
        "ref without to",
        "Book:\n  fields:\n    author: {type: ref}\n",
        5,
        "resources.Book.fields.author",
        "a ref field needs `to:`",
        "to: <Resource>",
    ),
    (
        "resource name not PascalCase",
        "book_item:\n  fields: {a: int}\n",
        3,
        "resources.book_item",
        "resource name 'book_item' is not PascalCase",
        "BookReview",
    ),
    (
        "field name not snake_case",
        "Book:\n  fields:\n    Title: string\n",
        5,
        "resources.Book.fields.Title",
        "field name 'Title' is not a lowercase snake_case name",
        "lowercase",
    ),
    (
        "field name with a double underscore",
        "Book:\n  fields:\n    a__b: string\n",
        5,
        "resources.Book.fields.a__b",
        "not a lowercase snake_case name",
        "single underscores",
    ),
    (
        "two resources, one table",
        "HTTPLog:\n  fields: {a: int}\nHttpLog:\n  fields: {a: int}\n  plural: logs\n",
        5,
        "resources.HttpLog",
        "both become table 'http_log'",
        "rename",
    ),
    (
        "two resources, one URL",
        "Book:\n  fields: {a: int}\nVolume:\n  plural: books\n  fields: {a: int}\n",
        5,
        "resources.Volume",
        "both are served at /books",
        "plural",
    ),
    (
        "link table clashes with a resource",
        "Book:\n  fields:\n    tag: {type: many, to: Tag}\nTag:\n  fields: {a: int}\n"
        "BookTag:\n  fields: {a: int}\n",
        5,
        "resources.Book.fields.tag",
        "link table 'book_tag'",
        "rename",
    ),
    (
        "ref column clash",
        "Author:\n  fields: {a: int}\nBook:\n  fields:\n"
        "    author: {type: ref, to: Author}\n    author_id: int\n",
        8,
        "resources.Book.fields.author_id",
        "clashes with 'author': both use column 'author_id'",
        "rename",
    ),
    (
        "automatic id",
        "Book:\n  fields:\n    id: int\n    title: string\n",
        5,
        "resources.Book.fields.id",
        "`id` is added to every resource automatically",
        "remove it",
    ),
    (
        "automatic created_at",
        "Book:\n  fields:\n    created_at: datetime\n",
        5,
        "resources.Book.fields.created_at",
        "`created_at` is added",
        "remove it",
    ),
    (
        "option of another type",
        "Book:\n  fields:\n    pages: {type: int, searchable: true}\n",
        5,
        "resources.Book.fields.pages.searchable",
        "option `searchable` does not apply to an int field",
        "max, min",
    ),
    (
        "enum default outside values",
        "Book:\n  fields:\n    status: {type: enum, values: [draft, done], default: gone}\n",
        5,
        "resources.Book.fields.status.default",
        "'gone' is not one of the values",
        "use one of the values: draft, done",
    ),
    (
        "enum without values",
        "Book:\n  fields:\n    status: enum\n",
        5,
        "resources.Book.fields.status",
        "an enum field needs `values`",
        "values: [",
    ),
    (
        "repeated enum values",
        "Book:\n  fields:\n    status: {type: enum, values: [a, b, a]}\n",
        5,
        "resources.Book.fields.status.values",
        "enum values repeat",
        "once",
    ),
    (
        "min above max",
        "Book:\n  fields:\n    pages: {type: int, min: 10, max: 1}\n",
        5,
        "resources.Book.fields.pages.min",
        "min 10 is larger than max 1",
        "swap",
    ),
    (
        "min_length above max_length",
        "Book:\n  fields:\n    code: {type: string, min_length: 9, max_length: 3}\n",
        5,
        "resources.Book.fields.code.min_length",
        "min_length 9 is larger than max_length 3",
        "swap",
    ),
    (
        "int bounds outside 32 bits",
        "Book:\n  fields:\n    views: {type: int, max: 3000000000}\n",
        5,
        "resources.Book.fields.views.max",
        "outside the range of an int column (-2147483648 to 2147483647)",
        "bigint",
    ),
    (
        "bigint bounds outside 64 bits",
        "Book:\n  fields:\n    views: {type: bigint, min: -9223372036854775809}\n",
        5,
        "resources.Book.fields.views.min",
        "outside the range of a bigint column",
        "decimal",
    ),
    (
        "scale above precision",
        "Book:\n  fields:\n    price: {type: decimal, precision: 4, scale: 5}\n",
        5,
        "resources.Book.fields.price.scale",
        "scale 5 is larger than precision 4",
        "at most precision",
    ),
    (
        "default scale above a small precision",
        "Book:\n  fields:\n    price: {type: decimal, precision: 1}\n",
        5,
        "resources.Book.fields.price.scale",
        "the default scale 2 is larger than precision 1",
        "at most precision",
    ),
    (
        "decimal default with too many places",
        "Book:\n  fields:\n    price: {type: decimal, default: 1.234}\n",
        5,
        "resources.Book.fields.price.default",
        "1.234 has more than 2 decimal places",
        "at most 2 decimal places",
    ),
    (
        "decimal default too large",
        "Book:\n  fields:\n    price: {type: decimal, precision: 4, scale: 2, default: 100}\n",
        5,
        "resources.Book.fields.price.default",
        "does not fit precision 4, scale 2",
        "fits the precision",
    ),
    (
        "invalid pattern",
        "Book:\n  fields:\n    isbn: {type: string, pattern: '[0-9'}\n",
        5,
        "resources.Book.fields.isbn.pattern",
        "not a valid regular expression",
        "regular expression",
    ),
    (
        "default not matching the pattern",
        "Book:\n  fields:\n    code: {type: string, pattern: '^[A-Z]+$', default: abc}\n",
        5,
        "resources.Book.fields.code.default",
        "the default 'abc' does not match the pattern '^[A-Z]+$'",
        "agree",
    ),
    (
        "default too long",
        "Book:\n  fields:\n    code: {type: string, max_length: 3, default: abcdef}\n",
        5,
        "resources.Book.fields.code.default",
        "6 characters long, outside the length limits 0 to 3",
        "shorten",
    ),
    (
        "default outside min/max",
        "Book:\n  fields:\n    pages: {type: int, min: 1, default: 0}\n",
        5,
        "resources.Book.fields.pages.default",
        "the default 0 is outside min/max",
        "within",
    ),
    (
        "default of the wrong type",
        "Book:\n  fields:\n    pages: {type: int, default: many}\n",
        5,
        "resources.Book.fields.pages.default",
        "expected a whole number",
        "such as 1",
    ),
    (
        "default on a relation",
        "Book:\n  fields:\n    parent: {type: ref, to: Book, default: 1}\n",
        5,
        "resources.Book.fields.parent.default",
        "relations cannot have a default",
        "remove `default`",
    ),
    (
        "required with a default",
        "Book:\n  fields:\n    title: {type: string, required: true, default: x}\n",
        5,
        "resources.Book.fields.title.default",
        "a required field with a default",
        "drop `required: true`",
    ),
    (
        "read_only and write_only",
        "Book:\n  fields:\n    secret: {type: string, read_only: true, write_only: true}\n",
        5,
        "resources.Book.fields.secret",
        "both read_only and write_only",
        "keep one",
    ),
    (
        "required read_only without default",
        "Book:\n  fields:\n    score: {type: int, required: true, read_only: true}\n",
        5,
        "resources.Book.fields.score",
        "a required read_only field",
        "give it a default",
    ),
    (
        "required hidden without default",
        "Book:\n  fields:\n    score: {type: int, required: true, hidden: true}\n",
        5,
        "resources.Book.fields.score",
        "a required hidden field",
        "give it a default",
    ),
    (
        "set_null on a required ref",
        "Author:\n  fields: {a: int}\nBook:\n  fields:\n"
        "    author: {type: ref, to: Author, required: true, on_delete: set_null}\n",
        7,
        "resources.Book.fields.author.on_delete",
        "set_null cannot apply to a required relation",
        "optional",
    ),
    (
        "required self-reference",
        "Category:\n  fields:\n    parent: {type: ref, to: Category, required: true}\n",
        5,
        "resources.Category.fields.parent",
        "a required reference to its own resource",
        "required: false",
    ),
    (
        "searchable secret",
        "User:\n  fields:\n    pin: {type: string, write_only: true, searchable: true}\n",
        5,
        "resources.User.fields.pin.searchable",
        "a write_only field cannot be searchable",
        "drop searchable",
    ),
    (
        "cycle of required references",
        "Egg:\n  fields:\n    hen: {type: ref, to: Hen, required: true}\n"
        "Hen:\n  fields:\n    egg: {type: ref, to: Egg, required: true}\n",
        5,
        "resources.Egg.fields.hen",
        "required references form a cycle (Egg.hen -> Hen, Hen.egg -> Egg)",
        "required: false",
    ),
    (
        "many that is required or indexed",
        "Tag:\n  fields: {a: int}\nBook:\n  fields:\n"
        "    tags: {type: many, to: Tag, index: true}\n",
        7,
        "resources.Book.fields.tags",
        "a many-to-many field cannot be required, unique or indexed",
        "remove",
    ),
    (
        "unique json",
        "Book:\n  fields:\n    extra: {type: json, unique: true}\n",
        5,
        "resources.Book.fields.extra",
        "a json field cannot be unique or indexed",
        "remove",
    ),
    (
        "unique text",
        "Book:\n  fields:\n    body: {type: text, unique: true}\n",
        5,
        "resources.Book.fields.body.unique",
        "a text field cannot be unique",
        "string field with max_length",
    ),
    (
        "filter on an unknown field",
        "Book:\n  fields: {title: string, status: string}\n  filter: [statsu]\n",
        5,
        "resources.Book.filter[0]",
        "filter names 'statsu', which is not a field of Book",
        "did you mean `status`?",
    ),
    (
        "sort on an unknown field",
        "Book:\n  fields: {title: string}\n  sort: [name]\n",
        5,
        "resources.Book.sort[0]",
        "sort names 'name', which is not a field of Book",
        "use one of: title, id, created_at, updated_at",
    ),
    (
        "sort on a json field",
        "Book:\n  fields: {extra: json, title: string}\n  sort: [title, extra]\n",
        5,
        "resources.Book.sort[1]",
        "cannot sort on 'extra' (a json field)",
        "remove it from `sort`",
    ),
    (
        "filter on a many field",
        "Tag:\n  fields: {a: int}\nBook:\n  fields:\n    tags: {type: many, to: Tag}\n"
        "  filter: [tags]\n",
        8,
        "resources.Book.filter[0]",
        "cannot filter on 'tags' (a many field)",
        "remove it from `filter`",
    ),
    (
        "filter on a write_only field",
        "User:\n  fields:\n    password: {type: string, write_only: true}\n  filter: [password]\n",
        6,
        "resources.User.filter[0]",
        "cannot filter on 'password' (a string write_only field)",
        "remove",
    ),
    (
        "a field listed twice",
        "Book:\n  fields: {title: string}\n  sort: [title, title]\n",
        5,
        "resources.Book.sort[1]",
        "'title' is listed twice",
        "once",
    ),
    (
        "index on an unknown field",
        "Book:\n  fields: {title: string}\n  indexes:\n    - [title, author]\n",
        6,
        "resources.Book.indexes[0][1]",
        "'author' is not a field of Book",
        "use one of: title, id, created_at, updated_at",
    ),
    (
        "index on a json field",
        "Book:\n  fields: {extra: json}\n  indexes:\n    - {fields: [extra]}\n",
        6,
        "resources.Book.indexes[0][0]",
        "a json field cannot be indexed",
        "remove it",
    ),
    (
        "unique_together on an unknown field",
        "Book:\n  fields: {title: string}\n  unique_together: [[title, owner]]\n",
        5,
        "resources.Book.unique_together[0][1]",
        "'owner' is not a field of Book",
        "use one of",
    ),
    (
        "a field twice in an index",
        "Book:\n  fields: {title: string}\n  indexes: [[title, title]]\n",
        5,
        "resources.Book.indexes[0]",
        "a field is named twice in this index",
        "once",
    ),
    (
        "permission with an unknown role",
        "Book:\n  fields: {title: string}\n  permissions: {create: [admin, editr]}\n",
        5,
        "resources.Book.permissions.create",
        "'editr' is neither anyone, authenticated, owner nor a role in auth.roles",
        "declare 'editr' under auth.roles",
    ),
    (
        "owner without owned",
        "Book:\n  fields: {title: string}\n  permissions: {update: [admin, owner]}\n",
        5,
        "resources.Book.permissions.update",
        "`owner` is used but the resource is not `owned: true`",
        "owned: true",
    ),
    (
        "owned resource declaring owner",
        "Book:\n  owned: true\n  fields:\n    owner: string\n",
        6,
        "resources.Book.fields.owner",
        "an owned resource gets its `owner` automatically",
        "rename",
    ),
    (
        "lookup names no field",
        "Member:\n  lookup: usrname\n  fields:\n"
        "    username: {type: string, required: true, unique: true}\n",
        4,
        "resources.Member.lookup",
        "lookup names 'usrname', which is not a field of Member",
        "did you mean `username`?",
    ),
    (
        "lookup of a type that is no URL segment",
        "Member:\n  lookup: email\n  fields:\n"
        "    email: {type: email, required: true, unique: true}\n",
        4,
        "resources.Member.lookup",
        "a email field cannot name records in URLs",
        "string, slug, uuid, int, bigint, enum",
    ),
    (
        "lookup field not unique",
        "Member:\n  lookup: username\n  fields:\n    username: {type: string, required: true}\n",
        4,
        "resources.Member.lookup",
        "lookup field 'username' is not unique",
        "`unique: true`",
    ),
    (
        "lookup field not required",
        "Member:\n  lookup: code\n  fields:\n    code: {type: uuid, unique: true}\n",
        4,
        "resources.Member.lookup",
        "is not required: a URL must name exactly one record",
        "`required: true`",
    ),
    (
        "lookup field write_only",
        "Member:\n  lookup: pin\n  fields:\n"
        "    pin: {type: int, required: true, unique: true, write_only: true}\n",
        4,
        "resources.Member.lookup",
        "lookup field 'pin' is write_only",
        "remove `write_only: true`",
    ),
    (
        "action named like an operation",
        ACTION_BOOK + "    delete: {sets: {state: live}}\n",
        8,
        "resources.Book.actions.delete",
        "clashes with the standard operation",
        "rename",
    ),
    (
        "action named like a field",
        ACTION_BOOK + "    state: {sets: {state: live}}\n",
        8,
        "resources.Book.actions.state",
        "clashes with the field 'state'",
        "rename",
    ),
    (
        "action on an unknown field",
        ACTION_BOOK + "    go:\n      when: {stat: draft}\n      sets: {state: live}\n",
        9,
        "resources.Book.actions.go.when.stat",
        "'stat' is not a field of Book",
        "did you mean `state`?",
    ),
    (
        "action value the field cannot hold",
        ACTION_BOOK + "    go: {sets: {state: gone}}\n",
        8,
        "resources.Book.actions.go.sets.state",
        "does not fit the field",
        "draft, live",
    ),
    (
        "action input not declared",
        ACTION_BOOK + "    go: {sets: {isbn: {input: code}}}\n",
        8,
        "resources.Book.actions.go.sets.isbn",
        "`{input: code}` names no input",
        "declare it under `input:`",
    ),
    (
        "action input of another type",
        ACTION_BOOK + "    go:\n      sets: {state: {input: to}}\n      input: {to: int}\n",
        9,
        "resources.Book.actions.go.sets.state",
        "input 'to' is an int, field 'state' an enum",
        "type: enum",
    ),
    (
        "action fixing a unique field",
        ACTION_BOOK + "    go: {sets: {isbn: '978'}}\n",
        8,
        "resources.Book.actions.go.sets.isbn",
        "'isbn' is unique",
        "{input: name}",
    ),
    (
        "action allowed to an unknown role",
        ACTION_BOOK + "    go: {sets: {state: live}, allow: [admin, editor]}\n",
        8,
        "resources.Book.actions.go.allow",
        "'editor' is neither",
        "admin",
    ),
    (
        "handler action with sets",
        ACTION_BOOK + "    go: {handler: true, sets: {state: live}}\n",
        8,
        "resources.Book.actions.go.sets",
        "a handler action does not take `sets`",
        "remove `sets`",
    ),
    (
        "declarative action setting nothing",
        ACTION_BOOK + "    go: {when: {state: draft}}\n",
        8,
        "resources.Book.actions.go",
        "a declarative action needs `sets`",
        "handler: true",
    ),
    (
        "action input of a relation type",
        ACTION_BOOK + "    go:\n      handler: true\n      input: {who: {type: ref, to: Book}}\n",
        10,
        "resources.Book.actions.go.input.who.type",
        "cannot be a ref field",
        "scalar",
    ),
    (
        "cache ttl over a day",
        "Book:\n  fields:\n    title: string\n  cache: {ttl: 2d}\n",
        6,
        "resources.Book.cache.ttl",
        "cache ttl 2d is longer than a day",
        "use at most 1d",
    ),
    (
        "cache false without a service cache",
        "Book:\n  fields:\n    title: string\n  cache: false\n",
        6,
        "resources.Book.cache",
        "api.cache sets none",
        "remove `cache: false`",
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
    head = HEAD.replace("resources:", "auth: {roles: [admin]}\nresources:", 1)
    head = head if "admin" in resources or "owned" in resources else HEAD
    text = spec(resources, head)
    if head != HEAD:
        line += 1
    found = problems(text)
    assert len(found) == 1, "\n".join(map(str, found))
    problem = found[0]
    assert (problem.file, problem.line, problem.path) == ("spec.yaml", line, path)
    assert message in problem.message
    assert fix in problem.fix


def test_every_problem_has_a_fix() -> None:
    for _, resources, *_ in CASES:
        for problem in problems(spec(resources)):
            assert problem.fix.strip(), str(problem)


def test_declared_id_is_not_offered_twice() -> None:
    (_, unknown) = problems(spec("Book:\n  fields: {id: int, title: string}\n  filter: [nope]\n"))
    assert unknown.path == "resources.Book.filter[0]"
    assert unknown.fix == "use one of: id, title, created_at, updated_at"


def test_only_usable_fields_are_offered() -> None:
    (problem,) = problems(
        spec("Book:\n  fields: {extra: json, secret: {type: string, hidden: true}}\n  sort: [x]\n")
    )
    assert problem.fix == "use one of: id, created_at, updated_at"


@pytest.mark.parametrize("name", ["class", "import", "fastapi", "sqlalchemy", "tests"])
def test_service_name_that_would_shadow_python_or_a_library(name: str) -> None:
    text = spec("Book:\n  fields: {a: int}\n", HEAD.replace("shop", name))
    (problem,) = problems(text)
    assert (problem.line, problem.path) == (1, "service.name")
    assert "would shadow a Python keyword or a library" in problem.message
    assert f"{name}_service" in problem.fix


def test_default_limit_above_max_limit() -> None:
    head = "service: {name: shop}\napi:\n  pagination: {default_limit: 200, max_limit: 100}\n"
    (problem,) = problems(spec("Book:\n  fields: {a: int}\n", head + "resources:\n"))
    assert (problem.line, problem.path) == (3, "api.pagination.default_limit")
    assert problem.message == "default_limit 200 is larger than max_limit 100"
    assert "at most max_limit" in problem.fix


AUTH_CASES = {
    "owned without accounts": (
        "service: {name: shop}\nresources:\n  Book:\n    owned: true\n    fields: {a: int}\n",
        (4, "resources.Book.owned", "needs accounts"),
    ),
    "roles without accounts": (
        "service: {name: shop}\nresources:\n  Book:\n    fields: {a: int}\n"
        "    permissions: {delete: authenticated}\n",
        (5, "resources.Book.permissions.delete", "need accounts"),
    ),
    "api keys without users": (
        "service: {name: shop}\nauth:\n  api_keys: true\n  roles: [admin]\n"
        "resources:\n  Book:\n    fields: {a: int}\n",
        (3, "auth.api_keys", "belong to accounts"),
    ),
    "admin role not declared": (
        "service: {name: shop}\nauth:\n  users: true\n  roles: [member]\n"
        "resources:\n  Book:\n    fields: {a: int}\n",
        (2, "auth", "the admin role 'admin' is not one of auth.roles"),
    ),
    "no role for new accounts": (
        "service: {name: shop}\nauth:\n  users: true\n  roles: [admin]\n"
        "resources:\n  Book:\n    fields: {a: int}\n",
        (4, "auth.roles", "no role is left for new accounts"),
    ),
    "new accounts as admins": (
        "service: {name: shop}\nauth:\n  users: true\n  roles: [admin, member]\n"
        "  default_role: admin\nresources:\n  Book:\n    fields: {a: int}\n",
        (5, "auth.default_role", "would get the admin role"),
    ),
    "resource named like the auth package": (
        "service: {name: shop}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
        "  Auth:\n    fields: {a: int}\n",
        (4, "resources.Auth", "clashes with the generated `auth` package"),
    ),
    "registration option misspelt": (
        "service: {name: shop}\nauth:\n  users: true\n  roles: [admin, member]\n"
        "  registration: {neutrall: true}\nresources:\n  Book:\n    fields: {a: int}\n",
        (5, "auth.registration.neutrall", "unknown option `neutrall`"),
    ),
    "registration neither a boolean nor options": (
        "service: {name: shop}\nauth:\n  users: true\n  roles: [admin, member]\n"
        "  registration: [neutral]\nresources:\n  Book:\n    fields: {a: int}\n",
        (5, "auth.registration", "valid boolean"),
    ),
    "neutral registration not a boolean": (
        "service: {name: shop}\nauth:\n  users: true\n  roles: [admin, member]\n"
        "  registration:\n    neutral: 3\nresources:\n  Book:\n    fields: {a: int}\n",
        (6, "auth.registration.neutral", "valid boolean"),
    ),
    "owner may create": (
        "service: {name: shop}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
        "  Book:\n    owned: true\n    fields: {a: int}\n    permissions: {create: owner}\n",
        (7, "resources.Book.permissions.create", "nobody owns a record before"),
    ),
    "anyone may create an owned record": (
        "service: {name: shop}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
        "  Book:\n    owned: true\n    fields: {a: int}\n"
        "    permissions: {create: [member, anyone]}\n",
        (7, "resources.Book.permissions.create", "an anonymous caller has none"),
    ),
}


@pytest.mark.parametrize(("text", "expected"), AUTH_CASES.values(), ids=AUTH_CASES.keys())
def test_auth_problems(text: str, expected: tuple[int, str, str]) -> None:
    (problem,) = problems(text)
    assert (problem.line, problem.path) == expected[:2]
    assert expected[2] in problem.message
    assert problem.fix


@pytest.mark.parametrize(
    ("registration", "open_", "neutral"),
    [
        ("true", True, False),
        ("false", False, False),
        ("{neutral: true}", True, True),
        ("{neutral: false}", True, False),
        ("{}", True, False),
    ],
)
def test_registration_is_a_boolean_or_its_options(
    registration: str, open_: bool, neutral: bool
) -> None:
    from backforge.ir import build_ir

    head = (
        "service: {name: shop}\nauth:\n  users: true\n  roles: [admin, member]\n"
        f"  registration: {registration}\nresources:\n"
    )
    text = spec("Book:\n  fields: {a: int}\n", head)
    auth = build_ir(load_spec_text(text, "spec.yaml"), text).auth
    assert auth is not None
    assert (auth.registration, auth.registration_neutral) == (open_, neutral)


def test_default_role_must_be_a_role() -> None:
    head = "service: {name: shop}\nauth: {roles: [admin], default_role: member}\nresources:\n"
    (problem,) = problems(spec("Book:\n  fields: {a: int}\n", head))
    assert (problem.line, problem.path) == (2, "auth.default_role")
    assert "'member' is not one of auth.roles" in problem.message
    assert "admin" in problem.fix


VALID = {
    "declared role": """
        Book:
          fields: {a: int}
          permissions: {create: [admin], read: anyone}
    """,
    "owner of an owned resource": """
        Book:
          owned: true
          fields: {a: int}
          permissions: {update: [owner]}
          unique_together: [[a, owner]]
          indexes: [[owner]]
    """,
    "automatic fields in lists": """
        Book:
          fields: {a: int}
          filter: [id, created_at]
          sort: [updated_at]
          indexes: [[a, created_at]]
    """,
    "a cycle broken by an optional reference": """
        Egg:
          fields:
            hen: {type: ref, to: Hen, required: true}
        Hen:
          fields:
            egg: {type: ref, to: Egg}
            coop: {type: ref, to: Coop, required: true}
        Coop:
          fields:
            first: {type: ref, to: Egg}
    """,
    "optional self-reference": """
        Node:
          fields:
            parent: {type: ref, to: Node, on_delete: set_null}
    """,
    "reserved words": """
        Order:
          fields: {from: date, type: string, class: int, order: int, limit: int, q: string}
          filter: [limit, order, q]
          sort: [from]
    """,
    "defaults that fit": """
        Book:
          fields:
            price: {type: decimal, precision: 6, scale: 2, default: '9.99'}
            on: {type: date, default: 2024-05-17}
            at: {type: time, default: '09:30:00'}
            code: {type: string, pattern: '^[A-Z]+$', default: ABC}
            key: {type: uuid, default: 0b4e7a52-8d0b-4c4e-9f4e-2f1d7c3b9a10}
    """,
    "bigint beyond int": """
        Book:
          fields:
            views: {type: bigint, max: 9000000000}
    """,
    "lookup by each usable type": """
        Member:
          lookup: username
          fields: {username: {type: string, max_length: 40, required: true, unique: true}}
        Article:
          lookup: slug
          fields: {slug: {type: slug, required: true, unique: true}}
        Order:
          lookup: code
          fields: {code: {type: uuid, required: true, unique: true}}
        Line:
          lookup: number
          fields: {number: {type: bigint, required: true, unique: true, min: 1}}
        Seat:
          lookup: row
          fields: {row: {type: enum, values: [a, b, c], required: true, unique: true}}
    """,
}


@pytest.mark.parametrize("resources", VALID.values(), ids=VALID.keys())
def test_valid_specs_pass(resources: str) -> None:
    head = HEAD.replace("resources:", "auth: {roles: [admin]}\nresources:", 1)
    load_spec_text(spec(resources, head))


# `owned: {through: field}`: ownership through a required ref to an owned resource.
THROUGH_HEAD = "service: {name: shop}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
ORDER = "Order:\n  owned: true\n  fields: {note: string}\n"  # lines 4-6


def through(item: str, order: str = ORDER) -> str:
    return spec(order + item, THROUGH_HEAD)


THROUGH_CASES = {
    "unknown field": (
        "Item:\n  owned: {through: ordr}\n  fields:\n"
        "    order: {type: ref, to: Order, required: true}\n",
        (8, "resources.Item.owned.through", "`through: ordr` is not a field of Item", "`order`"),
    ),
    "not a ref": (
        "Item:\n  owned: {through: qty}\n  fields:\n    qty: int\n"
        "    order: {type: ref, to: Order, required: true}\n",
        (8, "resources.Item.owned.through", "names an int field", "order"),
    ),
    "optional ref": (
        "Item:\n  owned: {through: order}\n  fields:\n    order: {type: ref, to: Order}\n",
        (8, "resources.Item.owned.through", "`order` is optional", "required: true"),
    ),
    "target not owned": (
        "Item:\n  owned: {through: box}\n  fields:\n    box: {type: ref, to: Box, required: true}\n"
        "Box:\n  fields: {label: string}\n",
        (8, "resources.Item.owned.through", "Box is not owned", "owned: true"),
    ),
    "anonymous create": (
        "Item:\n  owned: {through: order}\n  fields:\n"
        "    order: {type: ref, to: Order, required: true}\n  permissions: {create: anyone}\n",
        (11, "resources.Item.permissions.create", "owns no Order", "authenticated"),
    ),
}


@pytest.mark.parametrize(("item", "expected"), THROUGH_CASES.values(), ids=THROUGH_CASES.keys())
def test_owned_through_problems(item: str, expected: tuple[int, str, str, str]) -> None:
    (problem,) = problems(through(item))
    assert (problem.line, problem.path) == expected[:2]
    assert expected[2] in problem.message
    assert expected[3] in problem.fix


def test_ownership_going_round_in_a_circle_is_one_problem() -> None:
    text = through(
        "A:\n  owned: {through: b}\n  fields:\n    b: {type: ref, to: B, required: true}\n"
        "B:\n  owned: {through: a}\n  fields:\n    a: {type: ref, to: A}\n"
    )
    found = [p for p in problems(text) if "circle" in p.message]
    assert [(p.line, p.path) for p in found] == [(8, "resources.A.owned.through")]
    assert "A -> B -> A" in found[0].message
    assert "`owned: true`" in found[0].fix


def test_owned_through_needs_accounts() -> None:
    text = spec(
        "Order:\n  fields: {note: string}\n"
        "Item:\n  owned: {through: order}\n  fields:\n"
        "    order: {type: ref, to: Order, required: true}\n"
    )
    (problem,) = problems(text)
    assert (problem.line, problem.path) == (6, "resources.Item.owned")
    assert "needs accounts" in problem.message


def test_owned_through_a_chain_and_the_owner_principal_are_valid() -> None:
    text = through(
        "Item:\n  owned: {through: order}\n  fields:\n"
        "    order: {type: ref, to: Order, required: true}\n"
        "  permissions: {list: owner, read: owner, create: authenticated, update: owner}\n"
        "Note:\n  owned: {through: item}\n  fields:\n"
        "    item: {type: ref, to: Item, required: true}\n"
        "  permissions: {read: owner, delete: [owner, member]}\n"
    )
    loaded = load_spec_text(text, "spec.yaml")
    assert loaded.resources["Note"].owned_through == "item"
    assert loaded.resources["Order"].owned_through is None


def test_owned_through_is_a_mapping_with_through_only() -> None:
    found = problems(
        through(
            "Item:\n  owned: {via: order}\n  fields:\n"
            "    order: {type: ref, to: Order, required: true}\n"
        )
    )
    assert {(p.line, p.path, p.message) for p in found} == {
        (8, "resources.Item.owned.via", "unknown option `via`"),
    }
    for owned, message in (
        ("{}", "takes exactly one of `through` and `existing_rows`"),
        ("{through: order, existing_rows: a@example.com}", "takes exactly one of"),
        ("{existing_rows: admin}", "'admin' is not a valid value here"),
    ):
        text = "Item:\n  owned: " + owned + "\n  fields:\n"
        found = problems(through(text + "    order: {type: ref, to: Order, required: true}\n"))
        assert [(p.line, p.message) for p in found if p.path.startswith("resources.Item.owned")]
        assert any(p.line == 8 and message in p.message for p in found), found


def test_existing_rows_owns_directly() -> None:
    text = through("Item:\n  owned: {existing_rows: Admin@Example.com}\n  fields: {note: text}\n")
    item = load_spec_text(text, "spec.yaml").resources["Item"]
    assert item.owned_directly and item.owned_through is None
    assert item.existing_rows_owner == "admin@example.com"


def test_two_schema_objects_of_one_name_are_refused() -> None:
    """`Http.log_class` and `HttpLog.class`, both indexed, would both give `ix_http_log_class`:
    PostgreSQL, MariaDB and SQLite keep index names apart across tables."""
    found = problems(
        spec(
            "Http: {fields: {log_class: {type: string, index: true}}}\n"
            "HttpLog: {fields: {class: {type: string, index: true}}}\n"
        )
    )
    assert [(p.line, p.path) for p in found] == [(4, "resources.HttpLog.fields.class")]
    assert "'ix_http_log_class'" in found[0].message
    assert "resources.Http.fields.log_class" in found[0].message
    assert "name the index yourself" in found[0].fix


def test_a_field_index_declared_again_is_one_index() -> None:
    loaded = load_spec_text(
        spec("Event:\n  fields: {class: {type: string, index: true}}\n  indexes: [[class]]\n"),
        "spec.yaml",
    )
    event = build_ir(loaded, "").resource("Event")
    assert [i["name"] for i in event.indexes] == ["ix_event_class"]
    assert not next(f for f in event.fields if f.name == "class").indexed


def test_a_resource_renamed_from_must_name_a_resource_that_is_gone() -> None:
    found = problems(
        spec(
            "Writer: {renamed_from: Writer, fields: {name: string}}\n"
            "Poet: {renamed_from: Writer, fields: {name: string}}\n"
            "Scribe: {renamed_from: Author, fields: {name: string}}\n"
            "Clerk: {renamed_from: Author, fields: {name: string}}\n"
            "Bard: {renamed_from: author, fields: {name: string}}\n"
        )
    )
    assert {(p.path, p.message) for p in found} == {
        ("resources.Writer.renamed_from", "a resource cannot be renamed from itself"),
        (
            "resources.Poet.renamed_from",
            "renamed_from: Writer names a resource that is still in the spec",
        ),
        ("resources.Clerk.renamed_from", "Scribe is already renamed from 'Author'"),
        ("resources.Bard.renamed_from", "'author' is not a valid value here"),
    }
    loaded = load_spec_text(spec("Writer: {renamed_from: Author, fields: {name: string}}\n"))
    assert loaded.resources["Writer"].renamed_from == "Author"


def test_a_service_cache_over_a_day_is_refused_and_cache_false_opts_out() -> None:
    head = "service: {name: shop}\napi:\n  cache: {ttl: 25h}\nresources:\n"
    found = problems(spec("Book:\n  fields:\n    title: string\n", head))
    assert [(p.line, p.path) for p in found] == [(3, "api.cache.ttl")]
    assert "longer than a day" in found[0].message
    head = "service: {name: shop}\napi:\n  cache: {ttl: 1d}\nresources:\n"
    text = spec(
        """\
        Book:
          fields:
            title: string
        Note:
          fields:
            text: string
          cache: false
        Tag:
          fields:
            name: string
          cache: {ttl: 90s}
        """,
        head,
    )
    ir = build_ir(load_spec_text(text, "spec.yaml"), text)
    assert {r.name: r.cache_ttl for r in ir.resources} == {"Book": 86400, "Note": None, "Tag": 90}
    assert ir.notes == []  # generated now: no longer "accepted, not generated yet"


MARKS_HEAD = "service: {name: shop}\nauth: {users: true, roles: [admin, member]}\nresources:\n"
MARKED = "  Post:\n    fields:\n      title: string\n    marks:\n"  # the mark: line 8

MARK_CASES = {
    "marks without accounts": (
        "service: {name: shop}\nresources:\n  Post:\n    fields: {title: string}\n"
        "    marks:\n      vote: {count: votes}\n",
        (5, "resources.Post.marks", "they need accounts"),
    ),
    "marks with roles but no accounts": (
        "service: {name: shop}\nauth: {roles: [admin]}\nresources:\n"
        "  Post:\n    fields: {title: string}\n    marks:\n      vote: {count: votes}\n",
        (6, "resources.Post.marks", "they need accounts"),
    ),
    "mark named like an operation": (
        MARKS_HEAD + MARKED + "      delete: {count: deletes}\n",
        (8, "resources.Post.marks.delete", "clashes with the standard operation"),
    ),
    "mark named like a field": (
        MARKS_HEAD + MARKED + "      title: {count: titles}\n",
        (8, "resources.Post.marks.title", "clashes with the field 'title'"),
    ),
    "mark named like an action": (
        MARKS_HEAD
        + "  Post:\n    fields:\n      title: string\n    actions:\n"
        + "      vote: {sets: {title: x}}\n    marks:\n      vote: {count: votes}\n",
        (10, "resources.Post.marks.vote", "clashes with the action 'vote'"),
    ),
    "count named like a field": (
        MARKS_HEAD + MARKED + "      vote: {count: title}\n",
        (8, "resources.Post.marks.vote.count", "count 'title' clashes with the field"),
    ),
    "mine named like an automatic field": (
        MARKS_HEAD + MARKED + "      vote: {mine: created_at}\n",
        (8, "resources.Post.marks.vote.mine", "is added to every resource automatically"),
    ),
    "two marks with one count name": (
        MARKS_HEAD + MARKED + "      vote: {count: n}\n      star: {mine: n}\n",
        (9, "resources.Post.marks.star.mine", "is already the count of the mark 'vote'"),
    ),
    "mine named like a list parameter": (
        MARKS_HEAD + MARKED + "      vote: {mine: sort}\n",
        (8, "resources.Post.marks.vote.mine", "would be the list parameter ?sort="),
    ),
    "marks on a resource with a column SQLite cannot read through them": (
        MARKS_HEAD + "  Post:\n    fields:\n      'true': string\n    marks:\n"
        "      vote: {count: votes}\n",
        (6, "resources.Post.fields.true", "cannot have the column 'true'"),
    ),
    "mark allowed to an unknown role": (
        MARKS_HEAD + MARKED + "      vote: {count: votes, allow: [editor]}\n",
        (8, "resources.Post.marks.vote.allow", "'editor' is neither"),
    ),
    "mark option misspelt": (
        MARKS_HEAD + MARKED + "      vote: {counts: votes}\n",
        (8, "resources.Post.marks.vote.counts", "unknown option"),
    ),
    "a marked resource with its own cache": (
        MARKS_HEAD + MARKED + "      vote: {count: votes}\n    cache: {ttl: 30s}\n",
        (9, "resources.Post.cache", "a resource with marks is not cached"),
    ),
    "sort by an unknown count": (
        MARKS_HEAD + MARKED + "      vote: {count: votes}\n    sort: [vote_count]\n",
        (9, "resources.Post.sort[0]", "not a field of Post"),
    ),
}


@pytest.mark.parametrize(("text", "expected"), MARK_CASES.values(), ids=MARK_CASES.keys())
def test_mark_problems(text: str, expected: tuple[int, str, str]) -> None:
    (problem,) = problems(text)
    assert (problem.file, problem.line, problem.path) == ("spec.yaml", *expected[:2])
    assert expected[2] in problem.message, problem.message
    assert problem.fix


def test_marks_sort_by_their_count_and_leave_a_service_cache_out() -> None:
    text = (
        "service: {name: shop}\napi: {cache: {ttl: 30s}}\n"
        "auth: {users: true, roles: [admin, member]}\nresources:\n"
        + MARKED
        + "      vote: {count: votes, mine: voted}\n      bookmark: {mine: saved}\n"
        + "    sort: [votes]\n"
        + "  Tag:\n    fields: {name: string}\n"
    )
    ir = build_ir(load_spec_text(text, "spec.yaml"), text)
    post, tag = ir.resource("Post"), ir.resource("Tag")
    assert post.sort_keys == ["id", "votes"] and post.cache_ttl is None and tag.cache_ttl == 30
    assert [(m.name, m.table, m.record_column, m.allow) for m in post.marks] == [
        ("bookmark", "post_bookmarks", "post_id", ["authenticated"]),
        ("vote", "post_votes", "post_id", ["authenticated"]),
    ]
    assert post.counts == ["votes"] and post.mines == ["saved", "voted"]


WEBHOOK_AUTH = "auth:\n  users: true\n  roles: [admin, member, ops]\n"
WEBHOOK_BOOK = (
    "resources:\n  Book:\n    fields:\n      title: string\n    events: [created, updated]\n"
)


def webhook_spec(webhooks: str, auth: str = WEBHOOK_AUTH, resources: str = WEBHOOK_BOOK) -> str:
    return "service: {name: shop}\n" + auth + resources + "webhooks:\n" + webhooks


def test_webhooks_name_declared_event_types_and_a_known_role() -> None:
    text = webhook_spec("  events: [book.created]\n  allow: ops\n")
    ir = build_ir(load_spec_text(text, "spec.yaml"), text)
    assert ir.webhooks is not None
    assert (ir.webhooks.events, ir.webhooks.allow) == (["book.created"], "ops")
    assert {"webhook_subscribers", "webhook_deliveries"} <= set(ir.system_tables)
    text = webhook_spec("  {}\n")
    ir = build_ir(load_spec_text(text, "spec.yaml"), text)
    assert ir.webhooks is not None
    assert (ir.webhooks.events, ir.webhooks.allow) == (["book.created", "book.updated"], "admin")

    # line 10 is `webhooks:`, 11 its entry
    found = problems(webhook_spec("  events: [book.created, book.deleted, shelf.created]\n"))
    assert [(p.line, p.path) for p in found] == [
        (11, "webhooks.events[1]"),
        (11, "webhooks.events[2]"),
    ]
    assert "'book.deleted' is not one the resources declare" in found[0].message
    assert "book.created, book.updated" in found[0].fix
    found = problems(webhook_spec("  allow: auditor\n"))
    assert [(p.line, p.path) for p in found] == [(11, "webhooks.allow")]
    assert "'auditor'" in found[0].message and "admin, member, ops" in found[0].fix


def test_webhooks_need_accounts_and_events() -> None:
    found = problems(webhook_spec("  events: [book.created]\n", auth=""))
    assert [(p.line, p.path) for p in found] == [(7, "webhooks")]
    assert "no accounts" in found[0].message and "users: true" in found[0].fix
    plain = "resources:\n  Book:\n    fields:\n      title: string\n"
    found = problems(webhook_spec("  allow: admin\n", resources=plain))
    assert [(p.line, p.path) for p in found] == [(9, "webhooks")]
    assert "no resource declares any" in found[0].message and "events:" in found[0].fix
    found = problems(webhook_spec("  events: [Book.created]\n"))
    assert found and found[0].path.startswith("webhooks.events")


def test_a_resource_at_webhooks_clashes_with_the_admin_api() -> None:
    hook = "  Hook:\n    plural: webhooks\n    fields:\n      url: string\n"
    found = problems(webhook_spec("  {}\n", resources=WEBHOOK_BOOK + hook))
    assert [(p.line, p.path) for p in found] == [(10, "resources.Hook")]
    assert "/webhooks" in found[0].message and "plural" in found[0].fix
    load_spec_text("service: {name: shop}\n" + WEBHOOK_AUTH + WEBHOOK_BOOK + hook, "spec.yaml")


# consumes: subscriptions (their names, event types of this service, bounds)
@pytest.mark.parametrize(
    ("consumes", "line", "path", "words"),
    [
        ("  Bad-Name:\n    events: [book.created]\n", 9, "consumes.Bad-Name", "snake_case"),
        ("  import:\n    events: [book.created]\n", 9, "consumes.import", "Python module"),
        ("  ix:\n    events: [book.deleted]\n", 10, "consumes.ix.events[0]", "no 'deleted' event"),
        ("  ix:\n    events: [author.*]\n", 10, "consumes.ix.events[0]", "publishes no events"),
        ("  ix:\n    events: [book]\n", 10, "consumes.ix.events[0]", "not a valid"),
        ("  ix:\n    events: []\n", 10, "consumes.ix.events", "not be empty"),
        ("  ix:\n    events: [book.*, book.*]\n", 10, "consumes.ix.events[1]", "listed twice"),
        (
            "  ix:\n    events: [book.*]\n    max_attempts: 0\n",
            11,
            "consumes.ix.max_attempts",
            "to 1",
        ),
        (
            "  ix:\n    events: [book.*]\n    max_attempts: 101\n",
            11,
            "consumes.ix.max_attempts",
            "",
        ),
    ],
)
def test_a_bad_subscription_is_refused_with_its_place_and_a_fix(
    consumes: str, line: int, path: str, words: str
) -> None:
    text = (
        "service: {name: shelf}\nresources:\n  Author:\n    fields: {name: string}\n"
        "  Book:\n    fields: {title: string}\n    events: [created, updated]\n"
        "consumes:\n" + consumes
    )
    with pytest.raises(SpecError) as caught:
        load_spec_text(text, "spec.yaml")
    [problem] = [p for p in caught.value.problems if p.path == path]
    assert problem.line == line
    assert words in problem.message
    assert problem.fix
