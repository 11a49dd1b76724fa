"""core/listing.py: signed cursors and the ownership filter, without a database."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from svc.core import listing
from svc.core.errors import BadRequestError

METADATA = sa.MetaData()
LISTS = sa.Table(
    "lists",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner_id", sa.Integer),
)
ITEMS = sa.Table(
    "items",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("list_id", sa.Integer),
)


def settings(secret: str | None) -> SimpleNamespace:
    return SimpleNamespace(cursor_secret=SecretStr(secret) if secret else None)


@pytest.fixture(autouse=True)
def restore_the_key() -> Iterator[None]:
    key = listing._key
    yield
    listing._key = key


def test_a_cursor_decodes_under_the_key_that_signed_it() -> None:
    listing.configure_cursors(settings("one-" + "k" * 32))
    cursor = listing.encode_cursor("items", "id", 7, 7)
    assert listing.decode_cursor(cursor, "items", "id", ITEMS.c.id) == (7, 7)
    listing.configure_cursors(settings("two-" + "k" * 32))  # another deployment's key
    with pytest.raises(BadRequestError):
        listing.decode_cursor(cursor, "items", "id", ITEMS.c.id)


def test_without_a_cursor_secret_the_key_derives_from_the_fallback() -> None:
    listing.configure_cursors(settings(None), fallback=SecretStr("jwt-" + "j" * 32))
    cursor = listing.encode_cursor("items", "id", 7, 7)
    listing.configure_cursors(settings(None), fallback=SecretStr("jwt-" + "j" * 32))
    assert listing.decode_cursor(cursor, "items", "id", ITEMS.c.id) == (7, 7)
    # CURSOR_SECRET, when set, wins over the fallback.
    listing.configure_cursors(settings("one-" + "k" * 32), fallback=SecretStr("jwt-" + "j" * 32))
    with pytest.raises(BadRequestError):
        listing.decode_cursor(cursor, "items", "id", ITEMS.c.id)


def test_with_neither_the_process_key_stays() -> None:
    cursor = listing.encode_cursor("items", "id", 7, 7)
    listing.configure_cursors(settings(None))
    assert listing.decode_cursor(cursor, "items", "id", ITEMS.c.id) == (7, 7)


def test_rows_owned_through_a_parent_are_filtered_by_a_nested_select() -> None:
    condition = listing.owned_by(ITEMS, (("list_id", LISTS),), 5)
    sql = str(condition.compile(compile_kwargs={"literal_binds": True}))
    assert sql == "items.list_id IN (SELECT lists.id \nFROM lists \nWHERE lists.owner_id = 5)"
