"""Conditional requests (RFC 9110): ETags from the record version, If-Match, If-None-Match."""

from typing import Annotated, Any

from fastapi import Header

from .errors import PreconditionRequiredError
from .spec import IF_MATCH_REQUIRED

IfMatch = Annotated[
    str | None,
    Header(
        max_length=512,
        description="Change only if the record still has this ETag (or `*`); else 412.",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(max_length=512, description="Answer 304 if the record still has this ETag."),
]
ETAG_HEADER = {"ETag": {"description": "The record's version.", "schema": {"type": "string"}}}


def etag(record: dict[str, Any]) -> str:
    return f'"{record["version"]}"'


def expected_versions(if_match: str | None) -> set[int] | None:
    """The versions a write may find, or None for no precondition (absent or ``*``).

    If-Match compares strongly: weak (``W/``) or malformed tags match no version."""
    if if_match is None:
        if IF_MATCH_REQUIRED:
            raise PreconditionRequiredError("Send If-Match with the ETag you read.")
        return None
    if if_match.strip() == "*":
        return None
    versions = set()
    for tag in if_match.split(","):
        tag = tag.strip()
        if len(tag) > 2 and tag[0] == tag[-1] == '"' and tag[1:-1].isdigit():
            versions.add(int(tag[1:-1]))
    return versions


def not_modified(if_none_match: str | None, current: str) -> bool:
    """If-None-Match compares weakly: ``W/"3"`` and ``"3"`` both match version 3."""
    if if_none_match is None:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or current in tags
