"""Value types shared by the schemas, with the limits the database can actually store."""

import re
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any
from uuid import UUID

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic import JsonValue as _JsonValue
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

# The largest integer every JSON client reads exactly (JavaScript's Number.MAX_SAFE_INTEGER).
JSON_INT_MAX = 2**53 - 1


def _whole_number(value: Any) -> Any:
    """JSON numbers that are whole (``5`` or ``5.0``); not strings, not booleans."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("expected a whole number")
        return int(value)
    return value


WholeNumber = BeforeValidator(_whole_number)
IdValue = Annotated[int, Field(ge=1, le=JSON_INT_MAX, examples=[1])]
RefId = Annotated[int, Field(ge=1, le=JSON_INT_MAX, examples=[1]), WholeNumber]


def decimal_input(pattern: str, places: int) -> BeforeValidator:
    """A decimal sent as a JSON number (rounded half-even to ``places``, as the database
    would) or as a string of digits matching ``pattern`` (exact)."""
    compiled = re.compile(pattern)
    quantum = Decimal(1).scaleb(-places)

    def parse(value: Any) -> Decimal:
        if isinstance(value, str) and compiled.fullmatch(value):
            return Decimal(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = Decimal(str(value))
            if number.is_finite():
                try:
                    return number.quantize(quantum, rounding=ROUND_HALF_EVEN)
                except ArithmeticError:  # more digits than a decimal context holds
                    pass
        raise ValueError(f"expected a number or a string matching {pattern}")

    return BeforeValidator(parse)


def text_matching(pattern: str) -> BeforeValidator:
    """Accept only a string matching ``pattern``: no other type is coerced into the value."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ValueError(f"expected text matching {pattern}")
        return value

    return BeforeValidator(check)


def whole_match(pattern: str) -> AfterValidator:
    """Text that `pattern` matches from its first character to its last: unlike a search,
    `$` then admits no trailing newline."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise ValueError(f"expected text matching {pattern} (the whole text)")
        return value

    return AfterValidator(check)


class NotReserved:
    """A URL key that may not be one of ``values``: the segments under its collection that
    the collection's own routes answer (views, collection actions, the change feed), where a
    record named so could never be reached. The JSON Schema says so (``not: {enum: …}``)."""

    def __init__(self, *values: str) -> None:
        self.values = values

    def check(self, value: str) -> str:
        if value in self.values:
            taken = ", ".join(self.values)
            raise ValueError(
                f"{value!r} is a path of the collection itself ({taken}) and cannot name a "
                "record; choose another value"
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        found = handler(schema)
        found["not"] = {"enum": list(self.values)}
        return found


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the datetime is out of range once converted to UTC") from None


DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$"
DATETIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)

# Dates and times travel as ISO 8601 text only: a number is not silently read as a timestamp.
DateValue = Annotated[date, text_matching(DATE)]
DateTimeValue = Annotated[AwareDatetime, text_matching(DATETIME), AfterValidator(_as_utc)]
# A time of day, without an offset: the schema says so (JSON Schema's "time" demands one).
TimeValue = Annotated[
    time, text_matching(TIME), WithJsonSchema({"type": "string", "pattern": TIME})
]
TimeText = Annotated[time, WithJsonSchema({"type": "string", "pattern": TIME})]
UuidValue = Annotated[UUID, text_matching(r"^[0-9a-fA-F-]{32,36}$")]


def _any_case(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


# Addresses on special-use domains (RFC 6761) can never receive mail; email-validator refuses
# them, and the schema says so, so that clients and contract tests know before they send one.
_SPECIAL_USE = "|".join(_any_case(d) for d in SPECIAL_USE_DOMAIN_NAMES)
EMAIL_NOT_SPECIAL_USE = rf"^(?!.*@(?:[^@]*\.)?(?:{_SPECIAL_USE})\.?$).*$"


def _email(value: str) -> str:
    try:
        return validate_email(
            value, check_deliverability=False, globally_deliverable=False
        ).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


EmailValue = Annotated[
    str,
    Field(max_length=320, json_schema_extra={"format": "email", "pattern": EMAIL_NOT_SPECIAL_USE}),
    AfterValidator(_email),
]


def storable_text(value: str) -> bool:
    """Whether the database can store `value` and JSON can carry it back: no NUL (PostgreSQL
    refuses it in text and jsonb) and no lone surrogate (UTF-8 cannot encode one)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable_json(value: Any) -> Any:
    """Free-form JSON whose every string, keys included, `storable_text` accepts."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not storable_text(item):
                raise ValueError("text with NUL or an unpaired surrogate cannot be stored")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


JsonValue = Annotated[
    _JsonValue, Field(examples=[{"key": "value"}]), AfterValidator(_storable_json)
]


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("a value is required here; null is not one")
    return value


# A required json field: any JSON value but null (its column is NOT NULL).
JsonPresent = Annotated[
    _JsonValue,
    AfterValidator(_not_null),
    WithJsonSchema({"not": {"type": "null"}, "examples": [{"key": "value"}]}),
]


def unique_ids(ids: list[int]) -> list[int]:
    """Ids in first-seen order without repeats."""
    return list(dict.fromkeys(ids))
