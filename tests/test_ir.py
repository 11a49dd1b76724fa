"""The intermediate representation: names, query parameters, indexes and ordering."""

from __future__ import annotations

import json
import re

import pytest

from backforge.ir import build_ir
from backforge.names import module_name, plural, python_name, snake
from backforge.render import python_text, toml_string
from backforge.samples import samples
from backforge.spec import load_spec_text

SPEC = """
service: {name: shop}
resources:
  Category:
    fields:
      name: {type: string, required: true, unique: true}
      parent: {type: ref, to: Category, on_delete: set_null}
  Order:
    fields:
      limit: int
      class: {type: enum, values: [a, b], default: a}
      metadata: json
      price: {type: decimal, precision: 8, scale: 2, min: 0}
      placed_on: date
      category: {type: ref, to: Category, required: true}
      code: {type: string, pattern: '^[A-Z]{3}-[0-9]{4}$', unique: true}
    filter: [limit, class, price, category]
    sort: [placed_on]
    indexes: [[class, placed_on]]
"""


@pytest.fixture
def ir():  # type: ignore[no-untyped-def]
    return build_ir(load_spec_text(SPEC), SPEC)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Book", "book"), ("BookReview", "book_review"), ("HTTPLog", "http_log")],
)
def test_snake(name: str, expected: str) -> None:
    assert snake(name) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [("book", "books"), ("category", "categories"), ("class", "classes"), ("day", "days")],
)
def test_plural(word: str, expected: str) -> None:
    assert plural(word) == expected


def test_reserved_words_get_safe_python_names() -> None:
    assert python_name("class") == "class_"
    assert python_name("type") == "type"  # a builtin, but a legal attribute
    assert python_name("metadata") == "metadata_"  # would shadow SQLAlchemy's metadata
    assert python_name("title") == "title"
    assert module_name("core") == "core_"  # the package's own core module
    assert module_name("from") == "from_"


def test_keyword_fields_keep_their_wire_and_column_names(ir) -> None:  # type: ignore[no-untyped-def]
    order = ir.resource("Order")
    field = next(f for f in order.fields if f.name == "class")
    assert (field.name, field.attr, field.column) == ("class", "class_", "class")


def test_a_filter_on_a_control_parameter_name_is_renamed(ir) -> None:  # type: ignore[no-untyped-def]
    names = {p.name for p in ir.resource("Order").filters}
    assert "limit__eq" in names and "limit" not in names
    assert {"limit__gte", "limit__lte", "class", "class__in", "price__gte"} <= names


def test_refs_filter_sort_columns_are_indexed(ir) -> None:  # type: ignore[no-untyped-def]
    order = ir.resource("Order")
    indexed = {f.column for f in order.fields if f.indexed}
    assert {"category_id", "limit", "price", "placed_on"} <= indexed
    # `class` leads the declared composite index, so it needs no index of its own
    assert "class" not in indexed
    assert order.indexes == [
        {"name": "ix_order_class_placed_on", "columns": ["class", "placed_on"], "unique": False}
    ]


def test_a_ref_sorts_by_its_column() -> None:
    text = """
service: {name: s}
resources:
  Person:
    fields:
      title: {type: ref, to: Person}
      born: date
    sort: [title, born, created_at]
"""
    person = build_ir(load_spec_text(text), text).resource("Person")
    assert person.sort_keys == ["id", "title", "born", "created_at"]
    assert person.sort_columns == {"title": "title_id"}


def test_tables_are_ordered_by_reference(ir) -> None:  # type: ignore[no-untyped-def]
    assert [r.name for r in ir.tables_in_order] == ["Category", "Order"]
    assert ir.resource("Category").referenced_by == ["Category.parent", "Order.category"]


def test_pattern_fields_get_matching_samples(ir) -> None:  # type: ignore[no-untyped-def]
    code = next(f for f in ir.resource("Order").fields if f.name == "code")
    assert len(code.samples) >= 10
    assert all(re.fullmatch(r"[A-Z]{3}-[0-9]{4}", s) for s in code.samples)


def test_samples_respect_alternation_and_length() -> None:
    found = samples(r"^(red|green)-[a-f]{2,3}$", 6, max_length=8)
    assert found and all(re.fullmatch(r"(red|green)-[a-f]{2,3}", s) for s in found)
    assert all(len(s) <= 8 for s in found)


def test_the_ir_serialises_deterministically(ir) -> None:  # type: ignore[no-untyped-def]
    again = build_ir(load_spec_text(SPEC), SPEC)
    assert ir.to_json() == again.to_json()


def test_toml_strings_keep_unicode_and_escape_quotes() -> None:
    import tomllib

    text = 'Zürich "quoted" \\ 🚀'
    assert tomllib.loads(f"x = {toml_string(text)}")["x"] == text


def test_long_user_text_becomes_short_string_literals() -> None:
    text = "word " * 40
    literal = python_text(text.strip(), width=30)
    assert eval(literal) == text.strip()
    assert all(len(line) < 40 for line in literal.split("' '"))


THROUGH = """
service: {name: shop}
auth: {users: true, roles: [admin, staff, buyer], default_role: buyer}
resources:
  Product:
    fields: {name: string}
    permissions: {list: anyone, read: anyone, create: staff}
  Order:
    owned: true
    fields: {note: string}
    permissions: {list: owner, read: [owner, staff], create: authenticated}
  OrderItem:
    owned: {through: order}
    fields:
      order: {type: ref, to: Order, required: true}
      product: {type: ref, to: Product, required: true}
    permissions: {list: owner, read: owner, create: [authenticated, staff], update: owner}
  Tracking:
    owned: {through: item}
    fields:
      item: {type: ref, to: OrderItem, required: true}
    permissions: {read: owner, create: authenticated}
"""


def test_owned_through_adds_no_column_and_follows_the_chain() -> None:
    ir = build_ir(load_spec_text(THROUGH), THROUGH)
    item, tracking, order = (ir.resource(n) for n in ("OrderItem", "Tracking", "Order"))
    assert (item.through, item.owned, item.guarded) == ("order", False, True)
    assert "owner" not in [f.name for f in item.fields + tracking.fields]
    assert [(r.name, f.name) for r, f in ir.ownership_chain(tracking)] == [
        ("Tracking", "item"),
        ("OrderItem", "order"),
    ]
    assert ir.ownership_chain(order) == []
    assert [r.name for r in ir.guarded_resources] == ["Order", "OrderItem", "Tracking"]
    # the product is public: only the references to records of accounts are guarded
    assert [f.name for f in ir.guarded_refs(item)] == ["order"]
    assert ("order", "Order") in ir.repository_imports(tracking)  # the chain's tables
    # the owner principal is the parent's owner: the matrix has an owner caller
    assert {m["caller"] for m in item.access_matrix(ir.auth)} >= {"owner", "buyer"}


def test_who_may_refer_to_another_accounts_parent() -> None:
    ir = build_ir(load_spec_text(THROUGH), THROUGH)
    item = ir.resource("OrderItem")
    order = item.ref_named("order")
    assert order is not None
    # staff reads every order and is named for create: any order; buyers only their own
    assert ir.refers_to_every(item, order, "create", "staff")
    assert not ir.refers_to_every(item, order, "create", "buyer")
    # staff reads every order but is not named for update: only orders it owns
    assert not ir.refers_to_every(item, order, "update", "staff")
    assert ir.refers_to_every(item, order, "update", "admin")
    cases = ir.hidden_ref_cases(item)
    assert [(c["field"].name, c["actions"]) for c in cases] == [("order", ["create", "update"])]
    assert [c["field"].name for c in ir.hidden_ref_cases(ir.resource("Tracking"))] == ["item"]
    assert ir.hidden_ref_cases(ir.resource("Product")) == []


def test_an_index_declared_twice_is_one_index() -> None:
    text = """
service: {name: s}
resources:
  Event:
    fields:
      label: string
    indexes:
    - fields: [created_at]
    - [created_at]
    - [label, created_at]
    - fields: [label, created_at]
      unique: true
"""
    event = build_ir(load_spec_text(text), text).resource("Event")
    assert event.indexes == [
        {"name": "ix_event_created_at", "columns": ["created_at"], "unique": False},
        {"name": "ix_event_label_created_at", "columns": ["label", "created_at"], "unique": True},
    ]


CACHED_SPEC = """\
service: {name: shelves}
api:
  cache: {ttl: 60s}
resources:
  Shelf:
    fields:
      name: string
    cache: false
  Tag:
    fields:
      name: string
  Book:
    fields:
      shelf: {type: ref, to: Shelf, required: true, on_delete: cascade}
      previous: {type: ref, to: Shelf, on_delete: set_null}
      tags: {type: many, to: Tag}
  Review:
    fields:
      book: {type: ref, to: Book, required: true, on_delete: cascade}
  Loan:
    fields:
      book: {type: ref, to: Book, required: true}
    cache: false
"""


def test_a_delete_invalidates_the_cached_resources_it_reaches() -> None:
    ir = build_ir(load_spec_text(CACHED_SPEC, "spec.yaml"), CACHED_SPEC)
    by_name = {r.name: r for r in ir.resources}
    assert ir.cached and [r.name for r in ir.cached_resources] == ["Book", "Review", "Tag"]
    # a shelf's delete removes its books (and their reviews), and clears `previous`
    assert by_name["Shelf"].cache_dependents == ["Book", "Review"]
    assert by_name["Shelf"].invalidates and not by_name["Shelf"].cache_ttl
    assert by_name["Tag"].cache_dependents == ["Book"]  # link rows: books list their tags
    assert by_name["Book"].cache_dependents == ["Review"]  # Loan restricts, and is not cached
    assert by_name["Loan"].cache_dependents == [] and not by_name["Loan"].invalidates
    data = json.loads(ir.to_json())
    assert {r["name"]: r.get("cache_ttl") for r in data["resources"]}["Book"] == 60
    assert "cache_ttl" not in next(r for r in data["resources"] if r["name"] == "Loan")


def test_an_uncached_spec_keeps_its_ir_json(ir) -> None:  # type: ignore[no-untyped-def]
    assert not ir.cached
    assert "cache" not in ir.to_json()


def test_a_string_lookup_reserves_its_collections_own_paths() -> None:
    text = """
service: {name: s}
resources:
  Page:
    lookup: name
    events: [created]
    fields:
      name: {type: string, max_length: 40, required: true, unique: true}
      title: {type: string, min_length: 12}
      slug: {type: slug, from: title, unique: true}
    actions:
      archive_all: {on: collection, handler: true}
      pin: {handler: true}
"""
    page = build_ir(load_spec_text(text), text).resource("Page")
    key = page.key_field
    assert key is not None and key.reserved == ["archive-all", "events"]
    slug = next(f for f in page.fields if f.name == "slug")
    assert slug.reserved == []  # not the lookup: no URL names a page by it
    assert '"reserved": [' in build_ir(load_spec_text(text), text).to_json()


def test_a_derived_lookup_slug_gets_a_source_that_would_make_a_reserved_path() -> None:
    text = """
service: {name: s}
resources:
  Page:
    lookup: slug
    events: [created]
    fields:
      title: {type: string, min_length: 12, required: true}
      slug: {type: slug, from: title, unique: true}
"""
    page = build_ir(load_spec_text(text), text).resource("Page")
    slug = next(f for f in page.fields if f.name == "slug")
    assert slug.reserved == ["events"]
    assert page.reserved_source(slug) == "events!!!!!!"  # min_length 12: slugified, `events`
