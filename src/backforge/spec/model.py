"""The typed model of the service spec language. Unknown keys are refused everywhere."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from backforge.fieldtypes import FIELD_TYPES
from backforge.names import FIELD_NAME, RESOURCE_NAME, SERVICE_NAME

# The field types are the entries of backforge.fieldtypes.FIELD_TYPES: a new one is added there.
FieldTypeName = Literal[tuple(FIELD_TYPES)]  # type: ignore[valid-type]
Action = Literal["list", "read", "create", "update", "delete"]
OnDelete = Literal["restrict", "cascade", "set_null"]
Duration = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*(s|m|h|d)$")]
RateLimit = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]*/(second|minute|hour|day)$")]
ServiceName = Annotated[str, StringConstraints(pattern=SERVICE_NAME.pattern)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME.pattern)]
ResourceName = Annotated[str, StringConstraints(pattern=RESOURCE_NAME.pattern)]
Email = Annotated[
    str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320, to_lower=True)
]
Scalar = str | int | float | bool | Decimal | dt.date | dt.datetime | dt.time | None
# A table or column name of an existing database (what `table:`, `column:` and `primary_key:`
# name): letters, digits and _, as PostgreSQL keeps them unquoted, case kept.
DbName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
AutomaticField = Literal["created_at", "updated_at", "version"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceInfo(Strict):
    """Who the service is."""

    name: ServiceName = Field(
        description="Identifier of the service: package, database and image names derive from it. "
        "Lowercase letters, digits and _, starting with a letter, at most 40 characters; "
        "not a Python keyword nor the name of a library the service uses (e.g. fastapi)."
    )
    title: str | None = Field(None, description="Human-readable title of the API.")
    version: str = Field(
        "0.1.0", description='Version of the API, a string such as 1.0.0 (quote "1.0").'
    )
    description: str | None = Field(None, description="What the service is for.")
    existing_database: bool = Field(
        False,
        description="The tables already exist (a database taken over, e.g. with `backforge "
        "import database`): the first revision is an empty baseline to `alembic stamp`, the "
        "second adds what backforge needs beyond them (the automatic fields a resource `lacks`, "
        "its own tables, backforge's names for constraints and indexes).",
    )
    server: Literal["uvicorn", "granian"] = Field(
        "uvicorn",
        description="The HTTP server `python -m <service>.serve` runs: uvicorn (uvloop and "
        "httptools, one process) or granian (Granian's Rust HTTP I/O on uvloop, WEB_CONCURRENCY "
        "worker processes, one by default). Both trust FORWARDED_ALLOW_IPS' X-Forwarded-* "
        "headers and drain in-flight requests for GRACEFUL_TIMEOUT seconds on SIGTERM.",
    )


class Pagination(Strict):
    """How every list endpoint pages."""

    style: Literal["cursor", "offset"] = Field(
        "cursor",
        description="cursor: ?limit= and an opaque ?cursor=, pages are "
        "{items, next_cursor, limit}; offset: ?limit= and ?offset=, pages are "
        "{items, total, limit, offset}.",
    )
    default_limit: int = Field(
        20, ge=1, le=1000, description="Page size when a request gives no limit (<= max_limit)."
    )
    max_limit: int = Field(100, ge=1, le=1000, description="Largest limit a client may ask for.")
    shape: Literal["page", "array"] = Field(
        "page",
        description="page: the body is the page object above; array: the body is a bare JSON "
        'array of records and the next page is a Link header (RFC 8288, rel="next"), with '
        "X-Total-Count for offset paging, as GitHub's API does.",
    )


ProblemMember = Literal["status", "title", "detail", "type", "instance"]
PROBLEM_MEMBERS = ("type", "title", "status", "detail", "instance", "errors")


class ErrorShape(Strict):
    """How error responses look on the wire: RFC 9457 problem details, optionally under
    another media type and with extension members a contract asks for."""

    media_type: Literal["application/problem+json", "application/json"] = Field(
        "application/problem+json", description="Content-Type of every error response."
    )
    members: dict[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")],
        ProblemMember,
    ] = Field(
        default_factory=dict,
        description="Extension members (RFC 9457 section 3.2) copying a problem member, e.g. "
        "{code: status, message: detail} for a contract whose errors are {code, message}; "
        "detail falls back to title when a problem has none.",
    )


class ApiSpec(Strict):
    """The shape of the HTTP API."""

    base_path: Annotated[str, StringConstraints(pattern=r"^(/[a-z0-9][a-z0-9._-]*)*$")] = Field(
        "/api/v1",
        description="Prefix of every resource route, e.g. /api/v1 (no trailing slash; "
        "'' for none).",
    )
    pagination: Pagination = Field(Pagination(), description="How list endpoints page.")
    require_if_match: bool = Field(
        False,
        description="Refuse changes (PUT, PATCH, DELETE) without If-Match with 428, so that no "
        "client overwrites a change it has not seen.",
    )
    errors: ErrorShape = Field(ErrorShape(), description="How error responses look.")
    field_names: Literal["snake_case", "camelCase"] = Field(
        "snake_case",
        description="How field names are written on the wire (JSON bodies, filter and sort "
        "parameters): as in the spec (snake_case), or camelCase (published_at is publishedAt; "
        "the database keeps the spec's names).",
    )
    cache: CacheSpec | None = Field(
        None,
        description="The cache every resource gets unless it says otherwise (`cache: false` "
        "opts one out): GET by id and list pages, in process and in Redis with REDIS_URL.",
    )
    omit_nulls: bool = Field(
        False,
        description="Optional fields are never null on the wire: a response leaves out a field "
        "without a value, a request may leave it out but not send null (so PATCH cannot clear "
        "it). For contracts whose optional properties are not nullable.",
    )
    envelope: bool = Field(
        False,
        description='Wrap records in a named member: a record answers as {"<one>": {...}} '
        "and create, replace and update take the same wrapper; a list page answers as "
        '{"<many>": [...], "<many>Count": total, <pagination members>}. Errors, the feed, '
        "auth, webhooks and admin endpoints are not wrapped. Not with pagination.shape: array.",
    )


class TokenTtl(Strict):
    """Token lifetimes: a number and a unit (s, m, h, d)."""

    access_ttl: Duration = Field("15m", description="Lifetime of an access token, e.g. 15m.")
    refresh_ttl: Duration = Field("14d", description="Lifetime of a refresh token, e.g. 14d.")


class RegistrationSpec(Strict):
    """How open registration answers (`registration: {neutral: true}`)."""

    neutral: bool = Field(
        False,
        description="Registering an email that already has an account answers exactly as a "
        "new registration does (202, the same body, a password hash's time) and changes "
        "nothing, so registration does not tell who has an account; false: 409.",
    )


class FollowSpec(Strict):
    """Accounts follow accounts: `PUT`/`DELETE {base}/profiles/{lookup}/follow`."""

    count: FieldName | None = Field(
        None,
        description="A read-only integer field of a profile: how many accounts follow it.",
    )
    mine: FieldName | None = Field(
        None,
        description="A read-only boolean field of a profile: whether the caller follows it "
        "(false for anonymous callers).",
    )


class ProfileSpec(Strict):
    """Public profiles of accounts: extra columns of the accounts table, shown by
    `GET {base}/profiles/{lookup}` (no email, no role) and written by their owner."""

    fields: dict[str, FieldSpec] = Field(
        min_length=1,
        description="The profile fields, by snake_case name, typed like a resource's fields "
        "(no ref, many or json). Registration takes them (required ones required); "
        "`PATCH {base}/auth/me` changes them.",
    )
    lookup: str = Field(
        description="The profile field that names an account in profile URLs "
        "(`/profiles/{username}`): a unique, required string or slug field.",
    )
    follow: FollowSpec | None = Field(
        None,
        description="Accounts may follow each other (`PUT`/`DELETE "
        "{base}/profiles/{lookup}/follow`), with the count and the caller's own follow shown "
        "on every profile.",
    )


class AuthSpec(Strict):
    """Accounts, tokens, API keys and roles."""

    users: bool = Field(
        False,
        description="Accounts: register, token (OAuth2 password flow), refresh, logout, me; "
        "passwords hashed with argon2id.",
    )
    registration: bool | RegistrationSpec = Field(
        True,
        description="Anyone may register an account (with default_role); false: only the "
        "admin role creates accounts; {neutral: true}: anyone may, and the answer never "
        "tells whether the email already had an account.",
    )
    tokens: TokenTtl = Field(TokenTtl(), description="Access and refresh token lifetimes.")
    api_keys: bool = Field(
        False, description="API keys (X-API-Key): shown once, stored hashed, scoped to a role."
    )
    roles: list[Identifier] = Field(
        default_factory=list, description="Role names that permissions may name."
    )
    admin_role: Identifier = Field(
        "admin",
        description="The role that may do everything, manage accounts and read the audit log "
        "(must be one of roles).",
    )
    default_role: Identifier | None = Field(
        None, description="Role of a new account (default: the first role other than admin_role)."
    )

    profile: ProfileSpec | None = Field(
        None,
        description="Public profiles: extra account fields, `GET {base}/profiles/{lookup}`, "
        "and optionally follows.",
    )
    token_schemes: list[Literal["Bearer", "Token"]] = Field(
        default_factory=lambda: ["Bearer"],
        min_length=1,
        description="The Authorization schemes an access token is accepted with: Bearer "
        "(RFC 6750) and/or Token (`Authorization: Token <jwt>`, as RealWorld clients send).",
    )

    def registration_open(self) -> bool:
        return self.registration is not False

    def registration_neutral(self) -> bool:
        return isinstance(self.registration, RegistrationSpec) and self.registration.neutral

    def role_for_new_accounts(self) -> str | None:
        if self.default_role:
            return self.default_role
        return next((r for r in self.roles if r != self.admin_role), None)


class LimitsSpec(Strict):
    """Rate limits, as count/period; unset: 120/minute anonymous, 1200/minute authenticated."""

    anonymous: RateLimit | None = Field(None, description="Per client address, e.g. 60/minute.")
    authenticated: RateLimit | None = Field(None, description="Per identity, e.g. 600/minute.")


EventTypeName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*\.(created|updated|deleted)$")
]


class WebhooksSpec(Strict):
    """Outbound webhooks fed by the outbox: subscribers registered through an admin API get
    the events they chose, signed per Standard Webhooks."""

    events: list[EventTypeName] | None = Field(
        None,
        min_length=1,
        description="The event types subscribers may subscribe to, e.g. book.created "
        "(default: every event the resources declare).",
    )
    allow: Identifier | None = Field(
        None,
        description="The role that manages the subscribers, besides auth.admin_role (default: "
        "auth.admin_role only); one of auth.roles.",
    )


class FlagSpec(Strict):
    """A feature flag: a boolean setting read from FLAG_<NAME>, visible in code and report."""

    default: bool = Field(False, description="The value when FLAG_<NAME> is not set.")
    description: str | None = Field(None, description="What turning the flag on changes.")


# An event type (`book.created`) or a pattern of them: `*` stands for one word (`book.*`).
EventPattern = Annotated[
    str, StringConstraints(pattern=r"^([a-z][a-z0-9_]*|\*)\.([a-z][a-z0-9_]*|\*)$")
]


class ConsumerSpec(Strict):
    """A subscription: the events it takes, handled once each by `<package>/consumers/<name>.py`."""

    events: list[EventPattern] = Field(
        min_length=1,
        description="Event types (`book.created`) or patterns (`book.*`, `*.deleted`) to handle.",
    )
    from_: ServiceName | None = Field(
        None,
        alias="from",
        description="The service that publishes them (its `<name>.events` exchange or stream); "
        "unset: this service.",
    )
    max_attempts: int = Field(
        5, ge=1, le=100, description="Attempts to handle an event before it is dead-lettered."
    )


class LinkSpec(Strict):
    """Names of an existing link table (a many field)."""

    table: DbName = Field(description="The link table.")
    column: DbName | None = Field(None, description="Its column of this resource's id.")
    target_column: DbName | None = Field(None, description="Its column of the target's id.")


class FieldSpec(Strict):
    """One field of a resource. `name: type` is shorthand for `name: {type: type}`."""

    type: FieldTypeName = Field(description="The field type.")
    required: bool = Field(False, description="Must be given on create; the column is NOT NULL.")
    unique: bool = Field(False, description="No two rows may share a value (409 on conflict).")
    default: Any = Field(None, description="Value used when a create omits the field.")
    min: int | float | Decimal | None = Field(
        None, description="Smallest allowed value (int, bigint, float, decimal)."
    )
    max: int | float | Decimal | None = Field(
        None, description="Largest allowed value (int, bigint, float, decimal)."
    )
    min_length: int | None = Field(None, ge=0, description="Fewest characters (string, text).")
    max_length: int | None = Field(
        None,
        ge=1,
        description="Most characters (string 255, text 100000, email 320, url 2048 by default).",
    )
    pattern: str | None = Field(
        None, description="Python regular expression the value must contain a match of."
    )
    index: bool = Field(False, description="Add a database index on this column.")
    searchable: bool = Field(
        False, description="Include in the case-insensitive ?q= search (string, text, email, url)."
    )
    read_only: bool = Field(False, description="Returned, never accepted on writes.")
    write_only: bool = Field(False, description="Accepted on writes, never returned.")
    hidden: bool = Field(False, description="Stored only: neither accepted nor returned.")
    in_list: bool = Field(
        True,
        description="false: left out of the items of list pages (a record read, created or "
        "changed still shows it), e.g. a long body.",
    )
    description: str | None = Field(None, description="Documentation shown in the API docs.")
    example: Any = Field(None, description="Example value shown in the API docs.")
    values: list[Identifier] | None = Field(
        None, description="The allowed values of an enum field (lowercase identifiers)."
    )
    precision: int | None = Field(
        None, ge=1, le=38, description="Total digits of a decimal field (default 12)."
    )
    scale: int | None = Field(
        None, ge=0, le=38, description="Digits after the point of a decimal field (default 2)."
    )
    to: str | None = Field(None, description="The resource a ref or many field points to.")
    on_delete: OnDelete | None = Field(
        None, description="What deleting the target does to a ref (default restrict)."
    )
    by: FieldName | None = Field(
        None,
        description="A ref or many names its targets on the wire by this field of the target "
        '(unique, required, of a lookup type) instead of their ids: `"author": "ada"`, '
        '`"tags": ["dragons"]`. The columns keep the ids.',
    )
    create_missing: bool = Field(
        False,
        description="A many with `by`: values that name no target create it, in the same "
        "transaction (the target must need nothing but that field, and not be owned).",
    )
    embed: bool = Field(
        False,
        description="A ref: responses carry the target's record (one level) instead of its id "
        "or `by` value; requests still name the target by id (or `by` value).",
    )
    renamed_from: FieldName | None = Field(
        None,
        description="The field's previous name: regenerating an existing project renames the "
        "column and keeps its data (instead of dropping one field and adding another).",
    )
    column: DbName | None = Field(
        None,
        description="The column's name in the database when it is not the field's (default: "
        "the field name; `<field>_id` for a ref). The API keeps the field name.",
    )

    link: LinkSpec | None = Field(
        None,
        description="The link table of a many field when it is not `<table>_<field>` with "
        "`<table>_id` and `<target>_id`: {table, column, target_column}.",
    )

    from_: FieldName | None = Field(
        None,
        alias="from",
        description="slug: derived on create from this string or text field of the resource "
        "(lowercase ASCII words joined by `-`, accents folded, `-2`, `-3`, … when taken); "
        "read-only on the wire.",
    )
    on_change: Literal["keep", "update"] | None = Field(
        None,
        description="A derived slug when its `from` field changes: keep it (the default), or "
        "update it (a record named by it in URLs moves).",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def given(self) -> set[str]:
        """Option names the spec wrote explicitly (defaults excluded), as the spec spells them."""
        fields = type(self).model_fields
        return {fields[name].alias or name for name in self.model_fields_set}


Permission = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")] | list[Identifier]
# An action's `allow` also takes `<ref field>.owner`: the owner of the record the field points at.
ActionPrincipal = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.owner)?$")]
ActionPermission = ActionPrincipal | list[ActionPrincipal]


class CacheSpec(Strict):
    """Read-through caching of GET by id and of list pages (core/cache.py of the service)."""

    ttl: Duration = Field(
        description="How long a cached response lives at most, e.g. 60s (at most a day)."
    )


class Ownership(Strict):
    """`owned` as a mapping: through a parent, or directly for a table that already holds rows."""

    through: FieldName | None = Field(
        None,
        description="A required `ref` field of this resource whose target is owned (directly, "
        "or itself through a parent): the caller owns this record when it owns that one.",
    )
    existing_rows: Email | None = Field(
        None,
        description="Owned directly, as with `owned: true`, and the rows already in the table "
        "when the resource becomes owned go to the account of this email. The migration creates "
        "it if it does not exist, inactive, with the admin role and no password; "
        "`python -m <service>.auth.bootstrap <email>` then activates it with a password.",
    )

    @model_validator(mode="after")
    def _one_way(self) -> Ownership:
        if (self.through is None) == (self.existing_rows is None):
            raise PydanticCustomError(
                "one_of",
                "`owned` as a mapping takes exactly one of `through` and `existing_rows`",
                {
                    "fix": "`through: <ref field>` owns through a parent; "
                    "`existing_rows: <email>` owns directly and gives the rows already in the "
                    "table to that account"
                },
            )
        return self


class IndexSpec(Strict):
    """A database index over one or more fields."""

    fields: list[str] = Field(min_length=1, description="The indexed fields, in order.")
    unique: bool = Field(False, description="Refuse two rows with the same values.")
    name: Identifier | None = Field(None, description="Index name in the database.")


class PrimaryKeySpec(Strict):
    """The primary key of an existing table whose key is not the automatic `id`."""

    column: DbName = Field("id", description="The key column's name in the database.")
    type: Literal["int", "bigint"] = Field(
        "bigint", description="int: a 32-bit key (serial); bigint: a 64-bit key (the default)."
    )


class InputRef(Strict):
    """A value an action `sets` from its request body: `{input: <input field>}`."""

    input: FieldName = Field(description="The action's input field whose value is stored.")


class WhenCondition(Strict):
    """A precondition on one field beyond equality: every operator given must hold (AND)."""

    ne: Scalar = Field(
        None,
        description="Differs from this value (`ne: null`: has a value); a null field differs "
        "from any value.",
    )
    lt: Scalar = Field(None, description="Less than (numbers, dates, date-times).")
    lte: Scalar = Field(None, description="Less than or equal to.")
    gt: Scalar = Field(None, description="Greater than.")
    gte: Scalar = Field(None, description="Greater than or equal to.")
    in_: list[Scalar] | None = Field(
        None, alias="in", description="One of these values (`null` in the list: or null)."
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _some(self) -> WhenCondition:
        if not self.model_fields_set:
            raise PydanticCustomError(
                "empty_condition",
                "a condition needs an operator: ne, lt, lte, gt, gte or in",
                {"fix": "write `{gte: 1}`, `{in: [a, b]}`, ..., or the value the field must hold"},
            )
        return self

    def operators(self) -> dict[str, Any]:
        """The operators the spec gives, by name (`ne: null` included)."""
        given = self.model_dump(by_alias=True, exclude_unset=True)
        return {op: given[op] for op in CONDITION_OPERATORS if op in given}


CONDITION_OPERATORS = ("ne", "lt", "lte", "gt", "gte", "in")


def _condition_or_value(value: Any) -> str:
    return "WhenCondition" if isinstance(value, dict | WhenCondition) else "Value"


# A `when` entry: a value the field must hold, or a condition (a mapping of operators).
WhenValue = Annotated[
    Annotated[WhenCondition, Tag("WhenCondition")] | Annotated[Scalar, Tag("Value")],
    Discriminator(_condition_or_value),
]


class ActionSpec(Strict):
    """A custom action on one record: `POST {base}/<plural>/{key}/<action>`. Declarative (the
    record's fields it `sets`, while `when` holds) or a `handler` you write."""

    description: str | None = Field(None, description="What the action does (API docs).")
    when: dict[FieldName, WhenValue] = Field(
        default_factory=dict,
        description="Precondition: the record's fields must hold these values, or meet "
        "`{ne|lt|lte|gt|gte: value}` / `{in: [values]}` (several fields: all of them; "
        "otherwise 409); checked in the same UPDATE, so of two concurrent calls one wins.",
    )
    sets: dict[FieldName, InputRef | Scalar] = Field(
        default_factory=dict,
        description="Fields the action sets: a literal value, or `{input: name}` for a value "
        "of the request body.",
    )
    input: dict[FieldName, FieldSpec] = Field(
        default_factory=dict,
        description="The request body's fields, typed like a resource's fields (no ref/many).",
    )
    output: dict[FieldName, FieldSpec] = Field(
        default_factory=dict,
        description="A handler action's response fields (a declarative action answers with "
        "the record).",
    )
    allow: ActionPermission | None = Field(
        None,
        description="Who may run it, in the words of `permissions` (default: the update rule), "
        "and `<ref field>.owner`: the owner of the record that field points at.",
    )
    on: Literal["record", "collection"] = Field(
        "record",
        description="record: `POST .../{key}/<action>` on one record; collection: "
        "`POST .../<plural>/<action>` on the resource as a whole (a `handler` action).",
    )
    handler: bool = Field(
        False,
        description="The body is a method of `<Resource>Actions` in the user-owned "
        "`<package>/<resource>/actions.py`; until it is written the action answers 501.",
    )


class MarkSpec(Strict):
    """A per-caller relation to one record (a vote, a bookmark, a favorite): the caller sets it
    with `PUT {base}/<plural>/{key}/<mark>` and removes it with `DELETE` on the same URL."""

    description: str | None = Field(None, description="What marking means (API docs).")
    count: FieldName | None = Field(
        None,
        description="A read-only integer field on every representation: how many accounts "
        "marked the record (sortable with `sort: [<count>]`).",
    )
    mine: FieldName | None = Field(
        None,
        description="A read-only boolean field on every representation: whether the caller "
        "marked the record (false for anonymous callers); lists filter by `?<mine>=true`.",
    )
    allow: Permission | None = Field(
        None,
        description="Who may mark and unmark, in the words of `permissions` (default: any "
        "signed-in caller who may read the record).",
    )


class ViewSpec(Strict):
    """A named list of a resource's records chosen for the caller:
    `GET {base}/<plural>/<view>`, paginated like the list. One kind of view so far."""

    owner: Literal["followed"] = Field(
        description="followed: the records whose owner the caller follows (`auth.profile."
        "follow`), newest first; signed-in callers only (401).",
    )


# Resource options this version validates but does not generate code for yet (none at present):
# `backforge validate` names each one a spec uses.
NOT_GENERATED: tuple[str, ...] = ()


class EnvelopeSpec(Strict):
    """The member names a resource's records are wrapped in (with `api.envelope: true`)."""

    one: Identifier | None = Field(
        None,
        description="The member of a single record (default: the resource's singular snake_case "
        "name, in wire case: BookReview is book_review, or bookReview with camelCase).",
    )
    many: Identifier | None = Field(
        None,
        description="The member of a list page's records (default: the plural, in wire case); "
        "the total is `<many>_count` (`<many>Count` with camelCase).",
    )


class ResourceSpec(Strict):
    """A resource: a table and its REST endpoints. The key is its PascalCase name."""

    description: str | None = Field(None, description="What the resource is.")
    plural: Identifier | None = Field(
        None, description="URL segment of the collection (default: English plural of the name)."
    )
    renamed_from: ResourceName | None = Field(
        None,
        description="The resource's previous name: regenerating an existing project renames its "
        "table, link tables, indexes and constraints and keeps the rows (instead of dropping "
        "one resource and adding another).",
    )
    table: DbName | None = Field(
        None,
        description="The table's name in the database when it is not the snake_case of the "
        "resource name (e.g. an existing table `books` for resource Book).",
    )
    primary_key: DbName | PrimaryKeySpec | None = Field(
        None,
        description="The key column of an existing table when it is not `id`: its name "
        "(`primary_key: book_id`, 64-bit) or {column, type: int|bigint}. The API still calls "
        "it `id`.",
    )
    lacks: list[AutomaticField] = Field(
        default_factory=list,
        description="Automatic fields the existing table does not have yet (with "
        "service.existing_database): the revision after the baseline adds them, existing rows "
        "getting the current time and version 1.",
    )
    fields: dict[str, FieldSpec] = Field(
        min_length=1, description="The fields, by snake_case name (id and timestamps are added)."
    )
    lookup: str | None = Field(
        None,
        description="The field item URLs name a record by (`/users/{username}`) instead of its "
        "id: a unique, required string, slug, uuid, int, bigint or enum field the API shows "
        "and may write. References from other resources stay ids.",
    )
    indexes: list[list[str] | IndexSpec] = Field(
        default_factory=list, description="Extra indexes: [a, b] or {fields, unique, name}."
    )
    unique_together: list[list[str]] = Field(
        default_factory=list, description="Groups of fields whose values are unique together."
    )
    filter: list[str] = Field(
        default_factory=list, description="Fields a list can be filtered by (?field=value)."
    )
    sort: list[str] = Field(
        default_factory=list, description="Fields a list can be sorted by (?sort=-field)."
    )
    parent: str | None = Field(
        None,
        description="A required ref field to the resource this one lives under: its list and "
        "create move to `{base}/<parent plural>/{parent key}/<plural>` (the parent taken from "
        "the path, never from the body; read-only after create); item URLs stay flat.",
    )
    owned: bool | Ownership = Field(
        False,
        description="`true`: rows belong to the account that created them (an `owner` field "
        "set from the caller's token, never from the body). `{existing_rows: email}`: the same, "
        "for a table that already holds rows: they go to that account. `{through: field}`: rows "
        "belong to the owner of the record that required ref field points at (no column is "
        "added). The principal `owner` refers to that account.",
    )

    @property
    def key(self) -> PrimaryKeySpec:
        """The primary key, in its long form."""
        if isinstance(self.primary_key, PrimaryKeySpec):
            return self.primary_key
        return PrimaryKeySpec(column=self.primary_key or "id")

    @property
    def owned_directly(self) -> bool:
        """Whether the resource has an `owner` column (`owned: true` or `{existing_rows}`)."""
        owned = self.owned
        return owned is True or (isinstance(owned, Ownership) and owned.existing_rows is not None)

    @property
    def existing_rows_owner(self) -> str | None:
        """The account that takes the rows already in the table, if the spec names one."""
        return self.owned.existing_rows if isinstance(self.owned, Ownership) else None

    @property
    def owned_through(self) -> str | None:
        """The ref field ownership goes through, if the resource is owned through a parent."""
        return self.owned.through if isinstance(self.owned, Ownership) else None

    permissions: dict[Action, Permission] = Field(
        default_factory=dict,
        description="Who may do each action: anyone, authenticated, owner, a role, or a list. "
        "With auth, an action not listed is denied (except to the admin role).",
    )
    actions: dict[Identifier, ActionSpec] = Field(
        default_factory=dict,
        description="Custom actions on one record (`POST .../{key}/<name>`), by snake_case name.",
    )
    marks: dict[Identifier, MarkSpec] = Field(
        default_factory=dict,
        description="Per-caller relations (`PUT`/`DELETE .../{key}/<mark>`), by snake_case "
        "name, with the count and the caller's own mark as read-only fields.",
    )
    author: FieldName | None = Field(
        None,
        description="On an `owned: true` resource with `auth.profile`: a read-only field of "
        "this name carrying the owner's public profile (with whether the caller follows "
        "them), loaded with the page, and a list filter `?<author>=<profile lookup value>`.",
    )
    views: dict[Identifier, ViewSpec] = Field(
        default_factory=dict,
        description="Lists of records chosen for the caller, by snake_case name: "
        "`GET .../<view>` (e.g. `following: {owner: followed}`).",
    )
    events: list[Literal["created", "updated", "deleted"]] = Field(
        default_factory=list,
        description="Domain events written to the transactional outbox with each change of "
        "these kinds, and published by the relay.",
    )
    feed: bool | None = Field(
        None,
        description="The live change feed `GET .../events` (Server-Sent Events from the outbox): "
        "on by default for a resource with `events`; `false` turns it off.",
    )
    cache: CacheSpec | Literal[False] | None = Field(
        None,
        description="Read-through caching of this resource's GET by id and list pages: "
        "`{ttl}` (overrides `api.cache`), or `false` to opt out of `api.cache`.",
    )
    envelope: EnvelopeSpec | None = Field(
        None,
        description="The member names of this resource's envelope, `{one, many}`, where the "
        "defaults do not fit (with `api.envelope: true`).",
    )


class ServiceSpec(Strict):
    """A backforge service spec: the input of `backforge generate`."""

    service: ServiceInfo = Field(description="Name, title, version and description.")
    api: ApiSpec = Field(ApiSpec(), description="Base path and pagination.")
    auth: AuthSpec | None = Field(None, description="Accounts, tokens, API keys and roles.")
    limits: LimitsSpec | None = Field(None, description="Rate limits per address and identity.")
    flags: dict[Identifier, FlagSpec | bool] = Field(
        default_factory=dict,
        description="Feature flags by snake_case name; `name: true` is shorthand for a default.",
    )
    resources: dict[str, ResourceSpec] = Field(
        min_length=1, description="The resources, by PascalCase name."
    )
    webhooks: WebhooksSpec | None = Field(
        None,
        description="Outbound webhooks of the resources' events: an admin API under "
        "{base}/webhooks, deliveries signed per Standard Webhooks, retried, SSRF-guarded.",
    )
    consumes: dict[str, ConsumerSpec] = Field(
        default_factory=dict,
        description="Subscriptions to domain events, by snake_case name: each event is stored "
        "in the inbox and handled once by `<package>/consumers/<name>.py`.",
    )
    seed: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="Development data by resource name: a list of records (field: value). "
        "Each record is identified by the resource's natural key (its first unique field, else "
        "its first unique_together group), so `python -m <package>.seed` applied twice changes "
        "nothing; a ref or many field names the target record(s) by their natural key value.",
    )

    def feature_flags(self) -> dict[str, FlagSpec]:
        """Every flag in its long form."""
        return {
            name: flag if isinstance(flag, FlagSpec) else FlagSpec(default=flag)
            for name, flag in sorted(self.flags.items())
        }

    def accepted_but_not_generated(self) -> list[str]:
        """Spec parts this version validates but does not generate code for yet."""
        notes = []
        for name, resource in self.resources.items():
            for option in NOT_GENERATED:
                if option in resource.model_fields_set:
                    notes.append(
                        f"resources.{name}.{option}: accepted and checked; not generated yet"
                    )
        return notes
