"""Intermediate representation: the checked spec resolved into what the templates need.

Every name, type, constraint and query parameter is decided here, once, so templates only
arrange text. The IR is plain data and serialises to JSON (kept in the project for evolution).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from backforge import __version__, conditions
from backforge.fieldtypes import (
    FIELD_TYPES,
    SEGMENT_PATTERN,
    FieldType,
    decimal_shape,
    integer_bounds,
    max_length,
)
from backforge.names import (
    camel,
    envelope_names,
    foreign_key_name,
    index_name,
    kebab,
    module_name,
    plural,
    python_name,
    snake,
    unique_name,
)
from backforge.samples import samples
from backforge.spec.model import (
    ActionSpec,
    FieldSpec,
    InputRef,
    LimitsSpec,
    MarkSpec,
    ResourceSpec,
    ServiceSpec,
    WhenCondition,
)
from backforge.spec.seeds import seed_blocks
from backforge.spec.yamlsource import dotted
from backforge.sqltypes import SqlType

DEFAULT_ANONYMOUS_LIMIT = "120/minute"  # per client address: a person clicking never meets it
DEFAULT_AUTHENTICATED_LIMIT = "1200/minute"  # per identity: scripts and integrations
CONTROL_PARAMS = frozenset({"limit", "cursor", "offset", "sort", "q"})
IR_SCHEMA_VERSION = 2
MAX_IN_VALUES = 50
# Field types whose JSON value is never a string (enum values are a fixed choice of them).
WIRE_NON_TEXT = frozenset({"int", "bigint", "float", "bool", "enum", "ref", "many"})
MAX_MANY_IDS = 100
MYSQL_INDEX_PREFIX = 255  # characters of a long text column in a MySQL / MariaDB index
OWNER_MODULE = "auth"  # the package of accounts, which owners refer to
OWNER_COLUMN = "owner_id"  # the column of the account that owns a record (owned directly)
SYSTEM_TABLES = ("idempotency_keys",)  # defined in evolve/snapshot.py, created by 0001_initial


@dataclass
class FilterParam:
    """One query parameter of a list endpoint that narrows the result."""

    name: str  # on the wire
    attr: str  # Python attribute in the list-params model
    column: str  # model attribute it compares against
    op: str  # eq | in | gte | lte
    field: str  # the spec field it filters on (id, created_at, updated_at: automatic)

    @property
    def doc(self) -> str:
        return {
            "eq": f"Only items whose {self.field} equals this.",
            "in": f"Only items whose {self.field} is one of these (repeat the parameter).",
            "gte": f"Only items whose {self.field} is at least this.",
            "lte": f"Only items whose {self.field} is at most this.",
        }[self.op]


@dataclass
class FieldIR:
    """One field as values: what the spec says, resolved (bounds, lengths, pattern, decimal
    shape, enum values, default, relation). The text a target writes for it is made at the
    edge (``backforge.targets``)."""

    name: str  # spec and wire name
    attr: str  # Python attribute (keywords get a trailing underscore)
    column: str  # database column
    kind: str  # the spec type
    description: str
    required: bool
    nullable: bool
    unique: bool
    indexed: bool
    searchable: bool
    sortable: bool
    readable: bool
    writable: bool
    example: Any
    base: str = ""  # the value family of the type (fieldtypes.BASES); "" reads as the kind
    min_length: int | None = None  # as the spec gives them (textual types)
    max_length: int | None = None
    minimum: int | float | Decimal | None = None  # as the spec gives them (ordered types)
    maximum: int | float | Decimal | None = None
    precision: int | None = None  # decimal
    scale: int | None = None  # decimal
    values: list[str] = field(default_factory=list)  # enum
    has_default: bool = False
    default: Any = None  # the default as a value of the type (Decimal, date, UUID, ...)
    ref: str | None = None  # target resource name (ref and many)
    ref_table: str | None = None
    ref_module: str | None = None
    ref_class: str | None = None
    on_delete: str | None = None
    # A reference that closes a cycle (A -> B -> A): its foreign key is added once both tables
    # exist (``use_alter``), and dropped before either goes.
    deferred: bool = False
    link_table: str | None = None
    link_self_column: str | None = None
    link_target_column: str | None = None
    samples: list[str] = field(default_factory=list)  # values matching the pattern, for tests
    pattern: str | None = None  # the spec's or the type's pattern, matched against the whole value
    # An existing database's names (``column:``, a target's ``primary_key``); "" when they are
    # backforge's own. ``column`` stays the key the service's code reads the value by.
    column_name: str = ""  # the column's name in the database, when not ``column``
    ref_id_type: str = ""  # "int": the target's key is 32-bit (ref and many)
    ref_id_column: str = ""  # the target's key column, when not ``id``
    segment: bool = False  # names records in URLs (``lookup``): one path segment
    # a segment key's values that name no record: the collection's own paths (views,
    # collection actions, the change feed) answer there
    reserved: list[str] = field(default_factory=list)
    derived_from: str = ""  # a slug made from this field's value (``from:``)
    on_change: str = ""  # a derived slug when its source changes: keep or update
    in_list: bool = True  # shown in the items of list pages (``in_list: false``: detail only)
    by: str = ""  # ref and many: the target's unique field that names targets on the wire
    create_missing: bool = False  # many with `by`: unknown values create their targets
    embed: bool = False  # ref: responses carry the target's record

    def __post_init__(self) -> None:
        self.base = self.base or self.kind

    @property
    def target_key(self) -> FieldIR | None:
        """The target's field that a ref or many with `by` names targets by (set by
        build_ir; not part of the IR's JSON)."""
        return self.__dict__.get("_target_key")

    @property
    def db_column(self) -> str:
        """The column's name in the database."""
        return self.column_name or self.column

    def fits(self, value: Any) -> bool:
        """Whether the field can hold ``value`` (bounds, lengths, pattern, enum values)."""
        if self.minimum is not None and value < self.minimum:
            return False
        if self.maximum is not None and value > self.maximum:
            return False
        if self.values and value not in self.values:
            return False
        if isinstance(value, str):
            longest = self.max_length or FIELD_TYPES[self.kind].default_max_length
            if not (self.min_length or 0) <= len(value) <= longest:
                return False
            if self.pattern and not re.fullmatch(self.pattern, value):
                return False
        return True

    @property
    def options(self) -> dict[str, Any]:
        """The type options as the spec language names them."""
        return {
            "min_length": self.min_length,
            "max_length": self.max_length,
            "min": self.minimum,
            "max": self.maximum,
            "precision": self.precision,
            "scale": self.scale,
            "values": self.values,
        }

    @property
    def field_type(self) -> FieldType:
        return FIELD_TYPES[self.kind]

    @property
    def storage(self) -> SqlType:
        """The column type (a many field has none: its values live in a link table)."""
        if self.kind == "ref" and self.ref_id_type == "int":
            return SqlType("Integer")
        return FIELD_TYPES[self.kind].storage(self.options)

    @property
    def longest(self) -> int:
        """The most characters a textual value may have."""
        return max_length(self.field_type, self.options)

    @property
    def digits(self) -> tuple[int, int]:
        """A decimal's precision and scale."""
        return decimal_shape(self.options)

    @property
    def bounds(self) -> tuple[Any, Any]:
        """The smallest and largest value a request may give (None: unbounded), within what
        the column holds: an integer's range, a decimal's digits."""
        if self.base in ("int", "bigint"):
            low, high = integer_bounds(self.base)
            return (
                low if self.minimum is None else self.minimum,
                high if self.maximum is None else self.maximum,
            )
        if self.base == "decimal":
            precision, scale = self.digits
            edge = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
            low = -edge if self.minimum is None else max(Decimal(str(self.minimum)), -edge)
            high = edge if self.maximum is None else min(Decimal(str(self.maximum)), edge)
            return low, high
        return self.minimum, self.maximum

    @property
    def checked(self) -> bool:
        """Whether the column has a CHECK: an enum's values, or the bounds the spec gives."""
        return bool(self.values) or self.minimum is not None or self.maximum is not None

    @property
    def is_owner(self) -> bool:
        """The implicit owner of an owned resource: a reference to an account."""
        return self.ref_module == OWNER_MODULE

    @property
    def is_relation(self) -> bool:
        return self.kind in ("ref", "many")

    @property
    def mysql_prefix(self) -> int | None:
        """Characters of this column a MySQL / MariaDB index keeps: TEXT cannot be indexed whole,
        and InnoDB keys hold 3072 bytes (768 utf8mb4 characters); None when the whole fits."""
        storage = self.storage
        if storage.name == "Text" or (storage.name == "String" and (storage.length or 0) > 768):
            return MYSQL_INDEX_PREFIX
        return None

    @property
    def factory_varies(self) -> bool:
        """Whether the factory gives this field more than one value (a constant when its type or
        its constraints allow only one, such as an int with min = max)."""
        if self.samples:
            return len(self.samples) > 1
        if self.base == "enum":
            return len(self.values) > 1
        if self.base == "decimal" and (units := fraction_units(self)) is not None:
            return units[1] > 1
        if self.base in ("int", "bigint", "float", "decimal"):
            return numeric_range(self)[1] > 1
        return True

    @property
    def is_optional_ref(self) -> bool:
        """An optional reference: factories leave it out (it could point at its own kind)."""
        return self.kind == "ref" and not self.required

    @property
    def comparable(self) -> bool:
        """Whether the API returns exactly the value a test sends (no normalisation)."""
        return self.base in ("string", "text", "int", "bigint", "bool", "enum", "ref", "uuid")

    @property
    def field_doc(self) -> str:
        doc = self.description
        if self.kind == "ref" and self.by:
            doc = (doc + " " if doc else "") + f"The {self.by} of the {self.ref}."
        elif self.kind == "many" and self.by:
            linked = f"The {self.by} values of linked {self.ref} records, sorted"
            if self.create_missing:
                linked += " (a new value creates its record)"
            doc = (doc + " " if doc else "") + linked + "."
        elif self.kind == "ref":
            doc = (doc + " " if doc else "") + f"Id of the {self.ref}."
        elif self.kind == "many":
            doc = (doc + " " if doc else "") + f"Ids of linked {self.ref} records."
        return doc or self.name.replace("_", " ").capitalize() + "."


ACTIONS = ("list", "read", "create", "update", "delete")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class AuthIR:
    """Accounts and access: what the `auth` section of the spec turns into."""

    users: bool
    registration: bool
    registration_neutral: bool  # an existing email answers like a new one (202, same body)
    api_keys: bool
    roles: list[str]
    admin_role: str
    default_role: str
    access_ttl: int  # seconds
    refresh_ttl: int  # seconds
    token_schemes: list[str] = field(default_factory=lambda: ["Bearer"])
    # Public profiles (`auth.profile`): extra account columns, the one naming profiles in URLs,
    # and the follow fields (follows: accounts follow accounts).
    profile_fields: list[FieldIR] = field(default_factory=list)
    profile_lookup: str | None = None
    follows: bool = False
    follow_count: str | None = None
    follow_mine: str | None = None

    @property
    def profiles(self) -> bool:
        return self.profile_lookup is not None

    @property
    def login(self) -> bool:
        """`POST /auth/login` with a JSON body: with profiles (RealWorld-style accounts)."""
        return self.profiles

    @property
    def lookup_field(self) -> FieldIR:
        return next(f for f in self.profile_fields if f.name == self.profile_lookup)


@dataclass
class WebhooksIR:
    """Outbound webhooks: the event types subscribers may choose, the role managing them."""

    events: list[str]  # book.created, …
    allow: str


@dataclass
class ActionIR:
    """A custom action on one record (`POST .../{key}/<path>`): declarative (`sets` while
    `when` holds) or a `handler` method the user writes."""

    name: str  # snake_case; the Python name of its route and handler method
    path: str  # URL segment (kebab-case)
    description: str
    handler: bool
    allow: list[str]  # principals; without accounts ["anyone"]
    # column key -> value (None: is null), or operators -> values ({"gte": 3}, {"in": [..]})
    when: dict[str, Any] = field(default_factory=dict)
    # column key -> {"value": v} (a literal) or {"input": attr} (from the body)
    sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: list[FieldIR] = field(default_factory=list)  # name: <action>_input_<name>
    outputs: list[FieldIR] = field(default_factory=list)  # name: <action>_output_<name>
    collection: bool = False  # `POST .../<plural>/<path>`, on no one record (`on: collection`)

    @property
    def title(self) -> str:
        return "".join(part.title() for part in self.name.split("_"))

    @property
    def parents(self) -> tuple[str, ...]:
        """The ref fields whose target's owner may run it too (`allow: <field>.owner`)."""
        return tuple(p.removesuffix(".owner") for p in self.allow if p.endswith(".owner"))

    def conflict(self, r: ResourceIR) -> tuple[str, Any] | None:
        """A column and a value that break `when` (a record in it answers 409), if one is
        known to be valid: what the action itself sets, the other bool, another enum value,
        a value beyond an operator's bound."""
        for column, wanted in self.when.items():
            f = next(f for f in r.columns if f.column == column)
            source = self.sets.get(column, {})
            if conditions.is_operators(wanted):
                options = [source["value"]] if "value" in source else []
                options += conditions.candidates(f.kind, f.base, wanted, f.values, False)
                found, value = conditions.breaking(wanted, options, f.fits)
                if found:
                    return column, value
                continue
            if "value" in source and source["value"] != wanted and source["value"] is not None:
                return column, source["value"]
            if wanted is None:
                continue
            if f.base == "bool":
                return column, not wanted
            if f.base == "enum" and len(f.values) > 1:
                return column, next(v for v in f.values if v != wanted)
        return None

    def state(self, r: ResourceIR) -> dict[str, Any]:
        """Column values that meet `when` (the generated tests put a record in them): its
        value for an equality, one the spec checks found for a condition."""
        found = {}
        for column, wanted in self.when.items():
            if not conditions.is_operators(wanted):
                found[column] = wanted
                continue
            f = next(f for f in r.columns if f.column == column)
            options = conditions.candidates(f.kind, f.base, wanted, f.values, f.nullable)
            found[column] = conditions.meeting(wanted, options, f.fits)[1]
        return found

    def shown(self, r: ResourceIR) -> list[tuple[FieldIR, dict[str, Any]]]:
        """The fields it sets that a response shows as JSON holds them (text, ints, bools):
        the generated tests compare them with what was set."""
        found = []
        for column, source in self.sets.items():
            f = next(f for f in r.columns if f.column == column)
            if f.readable and f.base in ("string", "enum", "int", "bigint", "bool"):
                found.append((f, source))
        return found

    def plain(self, f: FieldIR) -> str:
        """An input's or output's name as the spec gives it."""
        return f.name.removeprefix(f"{self.name}_input_").removeprefix(f"{self.name}_output_")


@dataclass
class MarkIR:
    """A per-caller relation to one record (`PUT`/`DELETE .../{key}/<path>`): a row of its own
    table per account and record, its count and the caller's own mark read in the record's
    SELECT."""

    name: str  # snake_case; the Python name of its routes
    path: str  # URL segment (kebab-case)
    description: str
    allow: list[str]  # principals who may mark (and read: the read rule applies as well)
    table: str  # <resource table>_<plural of the name>
    record_column: str  # its column of the record's id
    count: str | None = None  # the read-only count field (spec name), if any
    mine: str | None = None  # the read-only bool field (spec name), if any

    @property
    def title(self) -> str:
        return "".join(part.title() for part in self.name.split("_"))


@dataclass
class ResourceIR:
    name: str  # PascalCase class name
    module: str  # Python module (package) name
    table: str
    path: str  # URL segment (plural)
    singular: str  # snake name used in operation ids
    plural_name: str  # snake plural used in operation ids
    description: str
    fields: list[FieldIR]
    filters: list[FilterParam]
    sort_keys: list[str]
    indexes: list[dict[str, Any]]
    unique_together: list[list[str]]
    referenced_by: list[str] = field(default_factory=list)
    owned: bool = False
    permissions: dict[str, list[str]] = field(default_factory=dict)  # action → principals
    # owned through a parent: the required ref field whose target's owner owns this record
    through: str | None = None
    # owned directly, once its table holds rows: the email of the account that takes them
    existing_rows_owner: str | None = None
    renamed_from: str | None = None  # the resource's name in the previous version of the spec
    # An existing table's key (``primary_key:``) and the automatic fields it lacks (``lacks:``)
    id_column: str = "id"
    id_type: str = "bigint"  # or "int"
    lacks: list[str] = field(default_factory=list)
    lookup: str | None = None  # the unique field item URLs name records by (None: the id)
    events: list[str] = field(default_factory=list)  # created, updated, deleted: to the outbox
    feed: bool = False  # GET .../events streams its outbox rows (core/feed.py)
    actions: list[ActionIR] = field(default_factory=list)  # custom actions (`actions:`)
    marks: list[MarkIR] = field(default_factory=list)  # per-caller relations (`marks:`)
    cache_ttl: int | None = None  # seconds GETs of it stay cached (None: not cached)
    parent: str | None = None  # the required ref field its collection lives under (`parent:`)
    # the cached resources whose records a delete here changes or removes (cascades, set null,
    # link rows), transitively: a delete invalidates all of their cached answers
    cache_dependents: list[str] = field(default_factory=list)
    author: str | None = None  # the read-only field with the owner's public profile
    views: dict[str, str] = field(default_factory=dict)  # `views:` name → kind ("followed")
    # with ``api.envelope``: the members (wire names) a record and a page's records are in
    envelope_one: str = ""
    envelope_many: str = ""
    envelope_count: str = ""  # the page's member holding the total: questions_count

    @property
    def list_fields(self) -> list[FieldIR]:
        """The fields list items show: readable and not ``in_list: false``."""
        return [f for f in self.fields if f.readable and f.in_list]

    @property
    def has_list_item(self) -> bool:
        """Whether list items have their own schema (some field is detail-only)."""
        return any(f.readable and not f.in_list for f in self.fields)

    @property
    def counts(self) -> list[str]:
        """The count fields of its marks (spec names)."""
        return [m.count for m in self.marks if m.count]

    @property
    def mines(self) -> list[str]:
        """The caller's-own-mark fields of its marks (spec names): each a list filter."""
        return [m.mine for m in self.marks if m.mine]

    @property
    def derived_slugs(self) -> list[FieldIR]:
        """Its slug fields made from another field (`from:`)."""
        return [f for f in self.fields if f.derived_from]

    def slug_source(self, f: FieldIR) -> FieldIR:
        """The field a derived slug is made from."""
        return next(s for s in self.fields if s.name == f.derived_from)

    def reserved_source(self, f: FieldIR) -> str | None:
        """A value of a derived slug's source that would make the first of the slug's reserved
        segments (None: the source cannot hold one, or nothing is reserved)."""
        source = self.slug_source(f)
        if not f.reserved or not source.writable or source.base not in ("string", "text"):
            return None
        word = f.reserved[0]
        text = word + "!" * max(0, (source.min_length or 0) - len(word))
        return text if source.fits(text) else None

    @property
    def handler_actions(self) -> list[ActionIR]:
        """The actions whose body the user writes (in `<resource>/actions.py`)."""
        return [a for a in self.actions if a.handler]

    def db_column(self, key: str) -> str:
        """The database name of a column the service's code knows by ``key``."""
        if key == "id":
            return self.id_column
        return next((f.db_column for f in self.columns if f.column == key), key)

    def db_columns(self, keys: list[str]) -> list[str]:
        return [self.db_column(k) for k in keys]

    @property
    def key_field(self) -> FieldIR | None:
        """The field item URLs name a record by (`lookup`); None when they use the id."""
        return next((f for f in self.fields if f.name == self.lookup), None)

    @property
    def invalidates(self) -> bool:
        """Whether its writes invalidate cached answers (its own, or a delete's dependents')."""
        return bool(self.cache_ttl or self.cache_dependents)

    @property
    def guarded(self) -> bool:
        """Whether records belong to accounts (directly, or through a parent)."""
        return self.owned or self.through is not None

    def reads_every(self, role: str | None, auth: AuthIR) -> bool:
        """Whether a caller with `role` (None: anonymous) reads every record, not only its own."""
        who = self.permissions.get("read", [])
        if "anyone" in who:
            return True
        return role is not None and (
            role == auth.admin_role or "authenticated" in who or role in who
        )

    def acts_on_every(self, action: str, role: str, auth: AuthIR) -> bool:
        """Whether `role` may do `action` on any record by being named (or being the admin)."""
        return role == auth.admin_role or role in self.permissions.get(action, [])

    def allows(self, action: str, principal: str) -> bool:
        return principal in self.permissions.get(action, [])

    def access_matrix(self, auth: AuthIR) -> list[dict[str, Any]]:
        """Every caller x action with the status the rules give it (generated matrix tests).

        Callers: `anonymous`, each role acting on a record somebody else owns, and, for owned
        resources, `owner` (an account with the default role that owns the record)."""
        callers = ["anonymous", *auth.roles] + (["owner"] if self.guarded else [])
        return [
            {
                "action": action,
                "caller": caller,
                "status": self._status(action, caller, auth),
                # whether a list shows the record (somebody else's, unless the caller owns it)
                "sees": action == "list" and self._sees(caller, auth),
            }
            for action in ACTIONS
            for caller in callers
        ]

    def may_list_and_read(self, caller: str, auth: AuthIR) -> bool:
        """Whether `caller` (anonymous, owner or a role) gets 200 from this list and read."""
        return self._status("list", caller, auth) == self._status("read", caller, auth) == 200

    def action_matrix(self, a: ActionIR, auth: AuthIR) -> list[dict[str, Any]]:
        """Every caller of an action with what the rules give it: 0 for success (200; 501 for
        a handler not written yet). The owner only where the record has an `owner` column; the
        owner of a referenced record (`<field>.owner`) where `allow` names it."""
        callers = ["anonymous", *auth.roles] + (
            ["owner"] if self.owned and not a.collection else []
        )
        found = []
        for caller in callers:
            role = auth.default_role if caller == "owner" else caller
            named = role == auth.admin_role or "authenticated" in a.allow or role in a.allow
            mine = "owner" in a.allow and caller == "owner"
            if "anyone" in a.allow:
                status = 0
            elif caller == "anonymous":
                status = 401
            elif named or mine:
                status = 0
            elif "owner" in a.allow:
                status = 403 if self._status("read", caller, auth) == 200 else 404
            else:
                status = 403
            found.append({"caller": caller, "status": status})
        # the owner of the record a ref field points at (`allow: <field>.owner`), signed in
        # with the default role
        found += [{"caller": f"{field}.owner", "status": 0} for field in a.parents]
        return found

    def _sees(self, caller: str, auth: AuthIR) -> bool:
        if self._status("list", caller, auth) != 200:
            return False
        who = self.permissions.get("list", [])
        role = auth.default_role if caller == "owner" else caller
        everything = "anyone" in who or "authenticated" in who or role in who
        return everything or role == auth.admin_role or caller == "owner"

    def _status(self, action: str, caller: str, auth: AuthIR) -> int:
        success = {"list": 200, "read": 200, "create": 201, "update": 200, "delete": 204}[action]
        who = self.permissions.get(action, [])
        role = auth.default_role if caller == "owner" else caller
        if "anyone" in who:
            return success
        if caller == "anonymous":
            return 401
        if role == auth.admin_role or "authenticated" in who or role in who:
            return success
        if "owner" in who and action != "create":
            if caller == "owner" or action == "list":
                return success  # a list shows the caller's own records only
            readable = action != "read" and self._status("read", caller, auth) == 200
            return 403 if readable else 404
        return 403

    @property
    def schema_names(self) -> list[tuple[str, tuple[str, ...]]]:
        """The names this resource puts where a database wants them unique across all tables
        (tables, indexes, unique and foreign keys), each with the spec path that gives it."""
        base = ("resources", self.name)
        names = [(self.table, base)]
        for f in self.fields:
            at = (*base, "owned") if f.name == "owner" and self.owned else (*base, "fields", f.name)
            if f.indexed:
                names.append((index_name(self.table, [f.db_column]), at))
            if f.unique:
                names.append((unique_name(self.table, [f.db_column]), at))
            if f.kind == "ref":
                names.append((foreign_key_name(self.table, f.db_column, f.ref_table or ""), at))
            if f.kind == "many" and f.link_table:
                link, own = f.link_table, f.link_self_column or ""
                other = f.link_target_column or ""
                names += [
                    (link, at),
                    (index_name(link, [other]), at),
                    (foreign_key_name(link, own, self.table), at),
                    (foreign_key_name(link, other, f.ref_table or ""), at),
                ]
        names += [
            (unique_name(self.table, self.db_columns(g)), (*base, "unique_together"))
            for g in self.unique_together
        ]
        names += [(i["name"], (*base, "indexes")) for i in self.indexes]
        return names

    @property
    def unique_constraints(self) -> list[tuple[str, list[str]]]:
        """Unique constraints by the name the database gives them, with their columns."""
        found = [
            (unique_name(self.table, [f.db_column]), [f.column]) for f in self.columns if f.unique
        ]
        found += [(unique_name(self.table, self.db_columns(g)), g) for g in self.unique_together]
        found += [(i["name"], i["columns"]) for i in self.indexes if i["unique"]]
        return found

    @property
    def sort_columns(self) -> dict[str, str]:
        """Sort keys whose column has another name (a ref `author` sorts by `author_id`)."""
        columns = {f.name: f.column for f in self.columns}
        return {k: columns[k] for k in self.sort_keys if columns.get(k, k) != k}

    @property
    def related(self) -> bool:
        """Whether it names targets by a field (`by`) or embeds them (core/relations.py)."""
        return any(f.by or f.embed for f in self.fields)

    @property
    def relation_reads(self) -> int:
        """The queries a page of it runs beyond its rows and links: one per ref with `by`,
        one per embedded target and that target's own."""
        count = 0
        for f in self.refs:
            if f.embed:
                target = f.__dict__.get("_target")
                count += 1 + (target.relation_reads_flat if target is not None else 0)
            elif f.by:
                count += 1
        return count

    @property
    def relation_reads_flat(self) -> int:
        """`relation_reads` of it embedded in another resource (its own targets not embedded),
        with its links."""
        return len(self.many) + sum(1 for f in self.refs if f.by)

    @property
    def related_filters(self) -> list[tuple[FilterParam, FieldIR]]:
        """Its filters by a related record's value (ref and many fields with `by`)."""
        by_name = {f.name: f for f in self.fields if f.by}
        return [(p, by_name[p.field]) for p in self.filters if p.field in by_name]

    def ref_named(self, name: str) -> FieldIR | None:
        return next((f for f in self.refs if f.name == name), None)

    def filled_on_create(self, name: str) -> bool:
        """Whether a record the test factories create has a value in field `name` (automatic
        fields always do; a read-only or hidden field only through its default)."""
        f = next((f for f in self.fields if f.name == name), None)
        if f is None:
            return True
        return (f.writable and f.kind != "many") or f.has_default or f.name == self.parent

    @property
    def searchable_shown(self) -> list[FieldIR]:
        """Searchable fields a created record returns a value in (search tests need one)."""
        return [f for f in self.searchable if f.readable and self.filled_on_create(f.name)]

    @property
    def takes_text(self) -> bool:
        """Whether a create body has a field that carries text on the wire (a string of any
        format, a decimal, or free-form JSON): the poison tests put NUL and surrogates there."""
        return any(f.writable and _wire_base(f) not in WIRE_NON_TEXT for f in self.fields)

    @property
    def varied_payload(self) -> bool:
        """Whether two factory payloads differ in a field the client sets (not all refs)."""
        return any(f.writable and not f.is_relation and f.factory_varies for f in self.fields)

    @property
    def columns(self) -> list[FieldIR]:
        return [f for f in self.fields if f.kind != "many"]

    @property
    def many(self) -> list[FieldIR]:
        return [f for f in self.fields if f.kind == "many"]

    @property
    def refs(self) -> list[FieldIR]:
        return [f for f in self.fields if f.kind == "ref"]

    @property
    def searchable(self) -> list[FieldIR]:
        return [f for f in self.fields if f.searchable]

    @property
    def search_field(self) -> FieldIR | None:
        """A searchable field a test can fill with text to look for: the factories fill it on
        create (clients write it) and the record returns it."""
        return next((f for f in self.searchable_shown if f.writable), None)


@dataclass(frozen=True)
class Reader:
    """A resource and who may list and read it: a role, or anybody (`role` None)."""

    resource: ResourceIR
    role: str | None

    @property
    def anonymous(self) -> bool:
        return self.role is None


@dataclass
class ServiceIR:
    name: str
    package: str
    title: str
    version: str
    description: str
    base_path: str
    pagination: str
    default_limit: int
    max_limit: int
    resources: list[ResourceIR]
    spec_hash: str
    require_if_match: bool = False
    list_shape: str = "page"  # "page" (an object) or "array" (a bare array, Link headers)
    problem_media_type: str = "application/problem+json"
    problem_members: dict[str, str] = field(default_factory=dict)  # extension → problem member
    omit_nulls: bool = False  # optional fields are left out, never null, on the wire
    field_names: str = "snake_case"  # or "camelCase": how fields are named on the wire
    generator_version: str = __version__
    # The format of .backforge/ir.json: 2 holds fields as values; 1 (no key) held Python and
    # SQL text, upgraded on reading (backforge.evolve.snapshot).
    schema_version: int = IR_SCHEMA_VERSION
    notes: list[str] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)  # name, default, description
    auth: AuthIR | None = None
    webhooks: WebhooksIR | None = None
    existing_database: bool = False  # the tables existed: 0001 is a baseline to stamp
    # this IR stands for the tables as they existed, before backforge took them over
    as_existing: bool = False
    # subscriptions to events (`consumes`): name, events (patterns), source (the publishing
    # service), max_attempts; handled once each through the inbox (core/inbox.py)
    consumers: list[dict[str, Any]] = field(default_factory=list)
    envelope: bool = False  # records and pages wrapped in named members (``api.envelope``)
    server: str = "uvicorn"  # what serve.py runs: "uvicorn" or "granian" (``service.server``)

    @property
    def events(self) -> bool:
        """Whether some resource publishes domain events (the outbox and its relay)."""
        return any(r.events for r in self.resources)

    @property
    def detail_only(self) -> dict[str, list[str]]:
        """The fields list items leave out (``in_list: false``; wire names), by resource name
        and by collection (URL segment)."""
        found: dict[str, list[str]] = {}
        for r in self.resources:
            if r.has_list_item:
                hidden = [self.wire(f.name) for f in r.fields if f.readable and not f.in_list]
                found[r.name] = found[r.path] = hidden
        return found

    @property
    def feed(self) -> bool:
        """Whether some resource has the live change feed (core/feed.py)."""
        return any(r.feed for r in self.resources)

    @property
    def feed_resource(self) -> ResourceIR:
        """The resource tests/test_feed.py tests: of those with a feed, one owned directly (its
        stream filters by owner), and the most events."""
        return max(
            (r for r in self.resources if r.feed),
            key=lambda r: (r.owned, len(r.events)),
        )

    @property
    def brokered(self) -> bool:
        """Whether the service talks to a broker (BROKER_URL): it publishes or consumes events."""
        return self.events or bool(self.consumers)

    @property
    def events_resource(self) -> ResourceIR:
        """The resource tests/test_events.py tests: of those with events, one with fields never
        returned (its events must leave them out), and the most events."""
        return max(
            (r for r in self.resources if r.events),
            key=lambda r: (any(not f.readable for f in r.fields), len(r.events)),
        )

    @property
    def write_only_field(self) -> tuple[ResourceIR, FieldIR] | None:
        """The first field accepted but never returned (the audit log must redact it)."""
        for r in self.resources:
            for f in r.fields:
                if f.writable and not f.readable:
                    return r, f
        return None

    @property
    def slugged(self) -> bool:
        """Whether some resource derives a slug (core/slugs.py ships)."""
        return any(r.derived_slugs for r in self.resources)

    @property
    def profiles(self) -> bool:
        return self.auth is not None and self.auth.profiles

    @property
    def marked(self) -> bool:
        """Whether some resource has marks (core/marks.py ships)."""
        return any(r.marks for r in self.resources)

    @property
    def cached(self) -> bool:
        """Whether some resource's GETs are cached (core/cache.py ships, cashews is pinned)."""
        return any(r.cache_ttl for r in self.resources)

    @property
    def cached_resources(self) -> list[ResourceIR]:
        return [r for r in self.resources if r.cache_ttl]

    @property
    def owned_resources(self) -> list[ResourceIR]:
        return [r for r in self.resources if r.owned]

    @property
    def guarded_resources(self) -> list[ResourceIR]:
        """Resources whose records belong to accounts, directly or through a parent."""
        return [r for r in self.resources if r.guarded]

    def ownership_chain(self, r: ResourceIR) -> list[tuple[ResourceIR, FieldIR]]:
        """The references from `r` up to the resource with the `owner` column: (resource, its
        ref field) per step; empty for a resource owned directly (or not at all)."""
        chain: list[tuple[ResourceIR, FieldIR]] = []
        while r.through is not None:
            ref = r.ref_named(r.through)
            assert ref is not None and ref.ref is not None
            chain.append((r, ref))
            r = self.resource(ref.ref)
        return chain

    def repository_imports(self, r: ResourceIR) -> list[tuple[str, str]]:
        """(module, class) of every model `r`'s repository names: its references' targets and
        the tables on the ownership chains of `r` and of the targets of its guarded fields."""
        found = {(f.ref_module or "", f.ref_class or "") for f in r.fields if f.ref}
        for resource in [r, *(self.resource(f.ref or "") for f in self.guarded_refs(r))]:
            chain = self.ownership_chain(resource)
            found |= {(f.ref_module or "", f.ref_class or "") for _, f in chain}
        found.discard((r.module, r.name))
        return sorted(found, key=lambda pair: pair[1])

    def guarded_refs(self, r: ResourceIR) -> list[FieldIR]:
        """`r`'s ref and many fields to resources whose records belong to accounts: a caller may
        refer only to records it may see (others are answered as missing)."""
        return [
            f
            for f in r.fields
            if f.is_relation and not f.is_owner and self.resource(f.ref or "").guarded
        ]

    def refers_to_every(self, r: ResourceIR, f: FieldIR, action: str, role: str) -> bool:
        """Whether `role` may point `r.f` at any record of its target on `action` (create or
        update): it reads every target record and, for the parent `r` is owned through, may also
        do `action` on every `r`. Otherwise only at records the caller owns."""
        assert self.auth is not None
        target = self.resource(f.ref or "")
        if not target.reads_every(role, self.auth):
            return False
        return f.name != r.through or r.acts_on_every(action, role, self.auth)

    def mark_cases(self, r: ResourceIR, m: MarkIR) -> dict[str, str | None]:
        """Roles the generated mark tests use: ``forbidden`` reads every record of ``r`` but
        may not give ``m`` (403); ``hidden`` reads only its own records (404 on another's)."""
        auth = self.auth
        roles = [role for role in auth.roles if role != auth.admin_role] if auth else []
        marks_any = "authenticated" in m.allow
        forbidden = [
            role
            for role in roles
            if auth and r.reads_every(role, auth) and not (marks_any or role in m.allow)
        ]
        hidden = [
            role
            for role in roles
            if auth and "owner" in r.permissions.get("read", []) and not r.reads_every(role, auth)
        ]
        return {"forbidden": next(iter(forbidden), None), "hidden": next(iter(hidden), None)}

    def access_matrix(self, r: ResourceIR) -> list[dict[str, Any]]:
        """``r.access_matrix`` with what the references of a write add: a caller without an
        account cannot own the records a required reference names, so where it may not read
        the target's records its create or update names a missing one (409)."""
        assert self.auth is not None
        unseen = [
            f
            for f in self.guarded_refs(r)
            if f.kind == "ref"
            and f.writable
            and f.required
            and not self.resource(f.ref or "").reads_every(None, self.auth)
        ]
        matrix = r.access_matrix(self.auth)
        parent = self.parent_of(r)
        for row in matrix:
            writes = row["action"] in ("create", "update") and row["status"] in (200, 201)
            if unseen and writes and row["caller"] == "anonymous":
                row["status"] = 409
            if parent and row["action"] in ("list", "create") and row["status"] in (200, 201, 409):
                # under a parent somebody else owns: one the caller may not read is missing
                caller = self.auth.default_role if row["caller"] == "owner" else row["caller"]
                if parent._status("read", caller, self.auth) != 200:
                    row["status"], row["sees"] = 404, False
        return matrix

    def hidden_ref_cases(self, r: ResourceIR) -> list[dict[str, Any]]:
        """Where an account of the default role, allowed to create `r` (or to update its own),
        refers to another account's record through a required ref: answered as a missing one.
        Each case: field, target resource, and the actions (create, update) it is tested on."""
        if self.auth is None:
            return []
        role, cases = self.auth.default_role, []
        caller = "owner" if r.guarded else role
        for f in self.guarded_refs(r):
            if f.kind != "ref" or not (f.required and f.writable):
                continue
            actions = [
                action
                for action in ("create", "update")
                if r._status(action, caller, self.auth) in (200, 201)
                and not self.refers_to_every(r, f, action, role)
            ]
            if actions:
                cases.append({"field": f, "target": self.resource(f.ref or ""), "actions": actions})
        return cases

    # Rate limits (count/period): the spec's `limits:`, else these defaults.
    limit_anonymous: str = DEFAULT_ANONYMOUS_LIMIT
    limit_authenticated: str = DEFAULT_AUTHENTICATED_LIMIT
    # Tables the service keeps for itself (not resources); an IR without the key predates them.
    system_tables: list[str] = field(default_factory=list)
    seeds: list[dict[str, Any]] = field(default_factory=list)  # see backforge.spec.seeds

    @property
    def seed_json(self) -> str:
        return json.dumps(self.seeds, indent=2, ensure_ascii=False) + "\n"

    @property
    def seed_drift(self) -> tuple[ResourceIR, FieldIR, int] | None:
        """A seeded text field outside its block's key that a test may edit for the seed to set
        back: its resource, the field and how many seed rows give it."""
        for block in self.seeds:
            resource = self.resource(block["resource"])
            for f in resource.fields:
                if f.base not in ("string", "text") or not f.readable or f.name in block["key"]:
                    continue
                given = [row for row in block["rows"] if f.name in row]
                if given:
                    return resource, f, len(given)
        return None

    @property
    def query_tests(self) -> bool:
        """Whether tests/test_queries.py has something to test: pages of more than one row to
        count statements over, or a create that can fail after its first write."""
        return self.max_limit > 1 or any(r.many for r in self.resources)

    @property
    def tests_not_generated(self) -> list[dict[str, str]]:
        """Generated tests this spec gives no way to exercise, and why (for the report)."""
        missing = []
        if self.seeds and self.seed_drift is None:
            missing.append(
                {
                    "test": "tests/test_seed.py::test_seeding_sets_an_edited_record_back",
                    "reason": "no seed row gives a text field outside its natural key to edit",
                }
            )
        for r in self.resources:
            if r.searchable and r.search_field is None:
                missing.append(
                    {
                        "test": f"tests/test_{r.module}.py::"
                        "test_search_finds_text_case_insensitively",
                        "reason": f"no searchable field of {r.name} is writable: a test cannot "
                        "choose the text to find",
                    }
                )
        if not any(r.takes_text for r in self.resources):
            for test in (
                "test_poison_in_any_field_is_refused_and_never_stored",
                "test_any_accepted_body_reads_back_and_lists",
            ):
                missing.append(
                    {
                        "test": f"tests/test_poison.py::{test}",
                        "reason": "no resource takes a text, decimal or JSON field on create: "
                        "there is no text to poison (numbers and choices are attacked by "
                        "tests/test_hostile.py)",
                    }
                )
        if not any(r.varied_payload for r in self.resources):
            missing.append(
                {
                    "test": "tests/test_idempotency.py::test_the_same_key_with_another_body_is_422",
                    "reason": "no resource takes a field whose value can differ between two "
                    "creates: every body is the same",
                }
            )
        if self.max_limit == 1:
            missing.append(
                {
                    "test": "tests/test_queries.py::test_listing_<resources>_costs_the_same_"
                    "for_1_or_many_rows",
                    "reason": "max_limit is 1: no page holds more than one row",
                }
            )
        if not any(r.many for r in self.resources):
            missing.append(
                {
                    "test": "tests/test_queries.py::test_a_failed_<resource>_create_writes_nothing",
                    "reason": "no resource has a many-to-many field, the only create that can "
                    "fail after its first write",
                }
            )
        if not self.patterned_fields:
            missing.append(
                {
                    "test": "tests/test_poison.py::test_patterns_match_the_whole_text",
                    "reason": "no writable field has a pattern (a string or text `pattern`, a "
                    "decimal or a time of day)",
                }
            )
        return missing

    @property
    def patterned_fields(self) -> list[FieldIR]:
        """Writable fields whose request schema carries a pattern of their own (not only the
        NUL guard): what tests/test_poison.py checks for whole-text matching."""
        return [
            f
            for r in self.resources
            for f in r.fields
            if f.writable
            and not f.is_relation
            and ((f.pattern and f.base in ("string", "text")) or f.base in ("decimal", "time"))
        ]

    def name_clashes(self) -> list[tuple[tuple[str, ...], str, str]]:
        """Two schema objects the generated migration would give one name (a table `http` with
        an indexed `log_class` and a table `http_log` with an indexed `class` both want
        `ix_http_log_class`): where in the spec, what clashes, and how to fix it."""
        seen: dict[str, tuple[str, ...]] = {name: ("service",) for name in self.system_tables}
        clashes = []
        for r in self.resources:
            for name, at in r.schema_names:
                first = seen.setdefault(name, at)
                if first is not at:
                    where = "another account table" if first == ("service",) else dotted(first)
                    clashes.append(
                        (
                            at,
                            f"this gives the database a second object named {name!r} (the "
                            f"first comes from {where}); the database refuses the second",
                            "rename a field or resource, or name the index yourself "
                            "(indexes: [{fields: [...], name: ...}])",
                        )
                    )
        return clashes

    @property
    def tables_in_order(self) -> list[ResourceIR]:
        """Resources ordered so that every referenced table is created before its referrers."""
        return _in_order(self.resources)

    @property
    def reader(self) -> Reader:
        """Who the tests of behaviour every route shares (rate limits, security headers,
        tracing, a database outage) send their GETs as, and to which resource: an anonymous
        caller where some resource may be listed and read by anybody, else the first role
        that may list and read the first resource (the admin role may do anything)."""
        for r in self.top_resources:
            if r.allows("list", "anyone") and r.allows("read", "anyone"):
                return Reader(r, None)
        assert self.auth is not None  # without accounts anybody may do everything
        first = self.top_resources[0]
        roles = [role for role in self.auth.roles if role != self.auth.admin_role]
        for role in [*roles, self.auth.admin_role]:
            if first.may_list_and_read(role, self.auth):
                return Reader(first, role)
        raise AssertionError("the admin role may do anything")  # pragma: no cover

    @property
    def cyclic(self) -> bool:
        """Whether references form a cycle (some foreign key waits for its table)."""
        return any(f.deferred for r in self.resources for f in r.refs)

    def resource(self, name: str) -> ResourceIR:
        return next(r for r in self.resources if r.name == name)

    def parent_of(self, r: ResourceIR) -> ResourceIR | None:
        """The resource whose item URL serves ``r``'s collection (`parent:`), if any."""
        field = r.ref_named(r.parent) if r.parent else None
        return self.resource(field.ref) if field and field.ref else None

    def read_statements(self, r: ResourceIR) -> int:
        """At most how many statements reading one record of ``r`` runs: the record (and its
        owner, when owned through a parent), its links, related reads and author's profile."""
        return (2 if r.through else 1) + len(r.many) + r.relation_reads + (1 if r.author else 0)

    def page_statements(self, r: ResourceIR) -> int:
        """At most how many statements a page of ``r``'s list runs, whatever its size: the page
        with the caller's account, its links and related reads, its authors' profiles, its
        count (envelopes with cursors), and the read of the parent it is listed under."""
        count = 3 + len(r.many) + r.relation_reads + (1 if r.author else 0)
        if self.envelope and self.pagination == "cursor":
            count += 1
        parent = self.parent_of(r)
        return count + (self.read_statements(parent) if parent else 0)

    def hidden_parent_role(self, r: ResourceIR) -> str | None:
        """A role that may list and create ``r`` but may not read another account's parent of
        it (so that a list or create under such a parent is a 404); None if there is none."""
        parent = self.parent_of(r)
        if parent is None or self.auth is None:
            return None
        auth = self.auth
        roles = [auth.default_role] + [x for x in auth.roles if x != auth.default_role]
        for role in roles:
            if role == auth.admin_role:
                continue
            allowed = (
                r._status("list", role, auth) == 200 and r._status("create", role, auth) == 201
            )
            if allowed and parent._status("read", role, auth) != 200:
                return role
        return None

    @property
    def top_resources(self) -> list[ResourceIR]:
        """The resources whose collections are served at their own URL (not under a parent)."""
        return [r for r in self.resources if not r.parent]

    @property
    def parent_names(self) -> list[str]:
        """The resources some resource's collection lives under."""
        return sorted({p.name for r in self.resources if (p := self.parent_of(r))})

    @property
    def nested(self) -> bool:
        """Whether some resource's collection lives under its parent's item URL."""
        return any(r.parent for r in self.resources)

    @property
    def related(self) -> bool:
        """Whether a resource names targets by a field (`by`) or embeds them (core/relations.py)."""
        return any(r.related for r in self.resources)

    @property
    def embedded_in_events(self) -> dict[str, dict[str, Any]]:
        """Per resource with events, the JSON Schema of each embedded ref as events carry it:
        the target's id or `by` value (nullable unless required), not its record."""
        found: dict[str, dict[str, Any]] = {}
        for r in self.resources:
            for f in r.refs:
                if not (r.events and f.embed):
                    continue
                key = f.target_key
                base = key.base if key is not None else "int"
                schema: dict[str, Any] = {
                    "type": "integer" if base in ("int", "bigint") else "string"
                }
                if base == "uuid":
                    schema["format"] = "uuid"
                if base == "enum" and key is not None:
                    schema["enum"] = list(key.values)
                if not f.required:
                    schema = {"anyOf": [schema, {"type": "null"}]}
                found.setdefault(r.name, {})[f.name] = schema
        return found

    @property
    def refusing_links(self) -> list[tuple[ResourceIR, FieldIR]]:
        """Resources with a many field an unknown target fails (not `create_missing`): the
        first such field of each."""
        found = []
        for r in self.resources:
            f = next((f for f in r.many if not f.create_missing), None)
            if f is not None:
                found.append((r, f))
        return found

    def carried(self, f: FieldIR, record: str) -> str:
        """The Python expression of a ref's value in the response ``record`` as a request
        would send it: an embedded target's id or `by` value, else the value itself."""
        value = f'{record}["{self.wire(f.name)}"]'
        if f.embed:
            return f'{value}["{self.wire(f.by) if f.by else "id"}"]'
        return value

    def names_target(self, f: FieldIR, record: str) -> str:
        """The Python expression of what a ref or many field sends for the target ``record``
        (a response's dict): its id, or its value of the `by` field."""
        return f'{record}["{self.wire(f.by) if f.by else "id"}"]'

    @property
    def redacted_fields(self) -> list[str]:
        """Fields never returned (write-only or hidden): log lines redact their values too
        (under their names and their names on the wire)."""
        names = {f.name for r in self.resources for f in r.fields if not f.readable}
        return sorted(names | {self.wire(name) for name in names})

    def wire_renames(self, names: list[str]) -> dict[str, str]:
        """Each of `names` whose name on the wire differs, by that name."""
        return {self.wire(name): name for name in names if self.wire(name) != name}

    @property
    def lookups(self) -> dict[str, str]:
        """The collections whose item URLs name records by a field (``lookup``), not the id:
        URL segment → the field's wire name."""
        return {r.path: self.wire(r.lookup) for r in self.resources if r.lookup}

    @property
    def derived_lookups(self) -> bool:
        """Whether some collection names its records by a derived slug (`from:`)."""
        return any(r.key_field is not None and r.key_field.derived_from for r in self.resources)

    @property
    def key_keepers(self) -> dict[str, str]:
        """The field a body repeats so that the record stays at its URL: the lookup field, or
        the one a derived lookup slug is made from (URL segment -> its wire name)."""
        found = {}
        for r in self.resources:
            if (f := r.key_field) is not None:
                found[r.path] = self.wire(f.derived_from or f.name)
        return found

    def wire(self, name: str) -> str:
        """A field's name (or a filter parameter's) in JSON bodies and query strings."""
        return camel(name) if self.field_names == "camelCase" else name

    def existing(self) -> ServiceIR:
        """The service's tables as they existed before backforge took them over (with
        ``existing_database``): without the automatic fields they lack, accounts or backforge's
        own tables."""
        return replace(self, auth=None, system_tables=[], as_existing=True)

    def to_json(self) -> str:
        data = asdict(self)
        _drop_defaults(data, _NEW_SERVICE_KEYS)
        if data["auth"] is not None:
            _drop_defaults(data["auth"], _NEW_AUTH_KEYS)
        for resource in data["resources"]:
            _drop_defaults(resource, _NEW_RESOURCE_KEYS)
            for entry in resource["fields"]:
                _drop_defaults(entry, _NEW_FIELD_KEYS)
            for action in resource.get("actions", []):
                _drop_defaults(action, {"collection": False})
                for entry in action["inputs"] + action["outputs"]:
                    _drop_defaults(entry, {"derived_from": "", "on_change": "", "reserved": []})
        return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


# Keys an existing database's names added to the IR: written only when they are not the
# default, so the IR of every other spec stays as it was (reading back fills the defaults).
_NEW_SERVICE_KEYS = {
    "existing_database": False,
    "as_existing": False,
    "webhooks": None,
    "consumers": [],
    "envelope": False,
    "server": "uvicorn",
}
_NEW_RESOURCE_KEYS = {
    "author": None,
    "views": {},
    "id_column": "id",
    "id_type": "bigint",
    "lacks": [],
    "lookup": None,
    "actions": [],
    "marks": [],
    "events": [],
    "feed": False,
    "cache_ttl": None,
    "cache_dependents": [],
    "parent": None,
    "envelope_one": "",
    "envelope_many": "",
    "envelope_count": "",
}
_NEW_FIELD_KEYS = {
    "column_name": "",
    "ref_id_type": "",
    "ref_id_column": "",
    "segment": False,
    "reserved": [],
    "derived_from": "",
    "on_change": "",
    "in_list": True,
    "by": "",
    "create_missing": False,
    "embed": False,
}
_NEW_AUTH_KEYS = {
    "token_schemes": ["Bearer"],
    "profile_fields": [],
    "profile_lookup": None,
    "follows": False,
    "follow_count": None,
    "follow_mine": None,
}


def _wire_base(f: FieldIR) -> str:
    """The value family a field carries on the wire: a ref with `by` its target field's."""
    key = f.target_key
    return key.base if key is not None and f.kind == "ref" else f.base


def _drop_defaults(data: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, default in defaults.items():
        if data.get(key) == default:
            data.pop(key, None)


def _in_order(resources: list[ResourceIR]) -> list[ResourceIR]:
    return table_order(resources)[0]


def table_order(resources: list[ResourceIR]) -> tuple[list[ResourceIR], set[tuple[str, str]]]:
    """Resources in creation order, and the references (resource, field) whose foreign keys
    must wait until both tables exist: each closes a cycle (A -> B -> A, or a longer chain).

    Tables whose referenced tables all exist come first, by name; when a cycle leaves none
    ready, the first table (by name) on a cycle is created with its references to tables not
    yet created deferred. Self-references need nothing: PostgreSQL and MySQL accept a table
    referring to itself. The same resources always give the same order and the same deferrals.
    """
    done: list[ResourceIR] = []
    deferred: set[tuple[str, str]] = set()
    pending = sorted(resources, key=lambda r: r.name)
    names = {r.name for r in resources}  # accounts (owners) are created before any resource
    while pending:
        created = {d.name for d in done}
        waiting = {
            r.name: {
                f.ref
                for f in r.refs
                if f.ref in names and not f.is_owner and f.ref != r.name and f.ref not in created
            }
            for r in pending
        }
        ready = [r for r in pending if not waiting[r.name]]
        if not ready:
            first = next(r for r in pending if _on_cycle(r.name, waiting))
            deferred |= {(first.name, f.name) for f in first.refs if f.ref in waiting[first.name]}
            ready = [first]
        done += ready
        pending = [r for r in pending if r not in ready]
    return done, deferred


def _on_cycle(start: str, edges: dict[str, set[str | None]]) -> bool:
    seen: set[str | None] = set()
    todo = list(edges.get(start, ()))
    while todo:
        name = todo.pop()
        if name == start:
            return True
        if name in seen:
            continue
        seen.add(name)
        todo += edges.get(name or "", ())
    return False


def build_ir(spec: ServiceSpec, spec_text: str) -> ServiceIR:
    modules = {name: module_name(snake(name)) for name in spec.resources}
    resources = [
        _resource(name, body, spec, modules) for name, body in sorted(spec.resources.items())
    ]
    for resource in resources:
        for f in resource.fields:
            if f.kind == "ref" and not f.is_owner:
                target = next(r for r in resources if r.name == f.ref)
                target.referenced_by.append(f"{resource.name}.{f.name}")
    for resource in resources:
        for f in resource.fields:
            if f.embed:
                f.__dict__["_target"] = next(r for r in resources if r.name == f.ref)
            if f.by:
                target = next(r for r in resources if r.name == f.ref)
                key = next(t for t in target.fields if t.name == f.by)
                f.__dict__["_target_key"] = key
                f.example = [key.example] if f.kind == "many" else key.example
    _cache_dependents(resources)
    for name, fname in table_order(resources)[1]:
        deferred = next(f for r in resources if r.name == name for f in r.fields if f.name == fname)
        deferred.deferred = True
    info = spec.service
    limits = spec.limits or LimitsSpec()
    return ServiceIR(
        name=info.name,
        package=info.name,
        title=info.title or info.name.replace("_", " ").title(),
        version=info.version,
        description=(info.description or "").strip(),
        base_path=spec.api.base_path,
        pagination=spec.api.pagination.style,
        default_limit=spec.api.pagination.default_limit,
        max_limit=spec.api.pagination.max_limit,
        resources=resources,
        require_if_match=spec.api.require_if_match,
        list_shape=spec.api.pagination.shape,
        problem_media_type=spec.api.errors.media_type,
        problem_members=dict(spec.api.errors.members),
        omit_nulls=spec.api.omit_nulls,
        field_names=spec.api.field_names,
        envelope=spec.api.envelope,
        spec_hash=hashlib.sha256(spec_text.encode()).hexdigest(),
        auth=_auth(spec),
        notes=spec.accepted_but_not_generated(),
        limit_anonymous=limits.anonymous or DEFAULT_ANONYMOUS_LIMIT,
        limit_authenticated=limits.authenticated or DEFAULT_AUTHENTICATED_LIMIT,
        flags=[
            {"name": name, "default": flag.default, "description": flag.description or ""}
            for name, flag in spec.feature_flags().items()
        ],
        system_tables=list(SYSTEM_TABLES)
        + (["outbox_events"] if _has_events(spec) else [])
        + (list(WEBHOOK_TABLES) if spec.webhooks else [])
        + (["inbox_events"] if spec.consumes else []),
        webhooks=_webhooks(spec),
        consumers=[
            {
                "name": name,
                "events": list(body.events),
                "source": body.from_ or info.name,
                "max_attempts": body.max_attempts,
            }
            for name, body in sorted(spec.consumes.items())
        ],
        existing_database=info.existing_database,
        server=info.server,
        seeds=seed_blocks(spec.seed, spec.resources, [r.name for r in _in_order(resources)]),
    )


def _has_events(spec: ServiceSpec) -> bool:
    return any(body.events for body in spec.resources.values())


WEBHOOK_TABLES = ("webhook_subscribers", "webhook_deliveries")


def declared_event_types(spec: ServiceSpec) -> list[str]:
    """Every event type the resources declare (`book.created`), in a stable order."""
    return [
        f"{name.lower()}.{event}"
        for name, body in sorted(spec.resources.items())
        for event in ("created", "updated", "deleted")
        if event in body.events
    ]


def _webhooks(spec: ServiceSpec) -> WebhooksIR | None:
    if spec.webhooks is None:
        return None
    declared = declared_event_types(spec)
    chosen = spec.webhooks.events
    events = [t for t in declared if chosen is None or t in chosen]
    admin = spec.auth.admin_role if spec.auth else "admin"
    return WebhooksIR(events=events, allow=spec.webhooks.allow or admin)


def _cache_dependents(resources: list[ResourceIR]) -> None:
    """For every resource, the cached resources a delete of one of its records changes: rows
    deleted by cascade (and, in turn, what their deletes change), refs set to null, link rows
    of `many` fields pointing at it (their records list the linked ids)."""
    changes: dict[str, set[tuple[str, bool]]] = {r.name: set() for r in resources}
    for r in resources:
        for f in r.fields:
            if f.ref is None or f.is_owner or f.ref not in changes:
                continue
            if f.kind == "many" or f.on_delete in ("CASCADE", "SET NULL"):
                changes[f.ref].add((r.name, f.kind != "many" and f.on_delete == "CASCADE"))
    cached = {r.name for r in resources if r.cache_ttl}
    for r in resources:
        found: set[str] = set()
        deleted, todo = {r.name}, [r.name]
        while todo:
            for other, cascades in changes[todo.pop()]:
                found.add(other)
                if cascades and other not in deleted:
                    deleted.add(other)
                    todo.append(other)
        r.cache_dependents = sorted(found & cached)  # itself too, when it cascades to itself


def _auth(spec: ServiceSpec) -> AuthIR | None:
    auth = spec.auth
    if auth is None or not auth.users:
        return None
    return AuthIR(
        users=auth.users,
        registration=auth.registration_open(),
        registration_neutral=auth.registration_neutral(),
        api_keys=auth.api_keys,
        roles=list(auth.roles),
        admin_role=auth.admin_role,
        default_role=auth.role_for_new_accounts() or auth.admin_role,
        access_ttl=_seconds(auth.tokens.access_ttl),
        refresh_ttl=_seconds(auth.tokens.refresh_ttl),
        token_schemes=list(auth.token_schemes),
        **_profile(spec),
    )


def _profile(spec: ServiceSpec) -> dict[str, Any]:
    """The AuthIR entries of `auth.profile` (none without it)."""
    profile = spec.auth.profile if spec.auth else None
    if profile is None:
        return {}
    fields = [
        _field("users", name, body, spec, {}, sortable=False)
        for name, body in profile.fields.items()
    ]
    for f in fields:  # accounts made without a profile (bootstrap, admin) have none: nullable
        f.nullable = not f.has_default
        f.segment = f.name == profile.lookup
    follow = profile.follow
    return {
        "profile_fields": fields,
        "profile_lookup": profile.lookup,
        "follows": follow is not None,
        "follow_count": follow.count if follow else None,
        "follow_mine": follow.mine if follow else None,
    }


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * UNITS[duration[-1]]


def _permissions(body: ResourceSpec, spec: ServiceSpec) -> dict[str, list[str]]:
    """Who may do what; without accounts everybody may do everything (nobody can log in)."""
    if _auth(spec) is None:
        return {action: ["anyone"] for action in ACTIONS}
    given = {a: who if isinstance(who, list) else [who] for a, who in body.permissions.items()}
    return {action: sorted(set(given.get(action, []))) for action in ACTIONS}


def _owner_field() -> FieldIR:
    """The implicit `owner` of an owned resource: set from the caller's token, never written."""
    return FieldIR(
        name="owner",
        attr="owner",
        column=OWNER_COLUMN,
        kind="ref",
        description="Id of the account that owns this record.",
        required=True,
        nullable=False,
        unique=False,
        indexed=False,
        searchable=False,
        sortable=False,
        readable=True,
        writable=False,
        example=1,
        ref="User",
        ref_table="users",
        ref_module=OWNER_MODULE,
        ref_class="User",
        on_delete="RESTRICT",
    )


def _resource(
    name: str, body: ResourceSpec, spec: ServiceSpec, modules: dict[str, str]
) -> ResourceIR:
    table = body.table or snake(name)
    fields = [
        _field(name, fname, fspec, spec, modules, fname in body.sort)
        for fname, fspec in body.fields.items()
    ]
    owned = body.owned_directly and _auth(spec) is not None
    if owned:
        fields.append(_owner_field())
    by_name = {f.name: f for f in fields}
    indexed = {f.name for f in fields if f.indexed}
    indexes = []
    for entry in body.indexes:
        names = entry if isinstance(entry, list) else entry.fields
        unique = False if isinstance(entry, list) else entry.unique
        columns = [by_name[n].column if n in by_name else n for n in names]
        given_name = None if isinstance(entry, list) else entry.name
        same = next((i for i in indexes if i["columns"] == columns and not given_name), None)
        if same is not None:  # declared twice: one index (unique if either one is)
            same["unique"] = same["unique"] or unique
            continue
        indexes.append(
            {
                "name": given_name
                or index_name(table, [_db_name(n, by_name, body) for n in names]),
                "columns": columns,
                "unique": unique,
            }
        )
    # A field's `index: true` and an index of that field alone are one index (one name).
    alone = {i["columns"][0] for i in indexes if len(i["columns"]) == 1}
    indexed = {name for name in indexed if by_name[name].column not in alone}
    # Every foreign key, filter and sort column gets an index unless one already leads with it.
    leading = {i["columns"][0] for i in indexes}
    wanted = [f.name for f in fields if f.kind == "ref"] + body.filter + body.sort
    for fname in wanted:
        column = by_name[fname].column if fname in by_name else fname
        if fname in by_name and (by_name[fname].unique or by_name[fname].kind == "many"):
            continue
        if column in leading or column == "id":
            continue
        indexed.add(fname)
        leading.add(column)
    for f in fields:
        f.indexed = f.name in indexed and not f.unique and f.kind != "many"
        if f.name == body.parent:
            f.writable = False  # taken from the path on create, never changed after
        if f.name == body.lookup and f.base == "string":
            f.segment = True  # its values travel as URL path segments
            f.pattern = f.pattern or SEGMENT_PATTERN
            f.reserved = _collection_segments(body)
    return ResourceIR(
        name=name,
        module=modules[name],
        table=table,
        path=kebab(body.plural or plural(snake(name))),  # the API's names: the resource's
        singular=snake(name),
        plural_name=body.plural or plural(snake(name)),
        description=(body.description or f"{name} resources.").strip(),
        fields=fields,
        filters=_filters(body, by_name),
        sort_keys=_sort_keys(body, by_name),
        indexes=indexes,
        unique_together=[
            [by_name[n].column if n in by_name else n for n in group]
            for group in body.unique_together
        ],
        owned=owned,
        permissions=_permissions(body, spec),
        through=body.owned_through if _auth(spec) is not None else None,
        existing_rows_owner=body.existing_rows_owner if owned else None,
        renamed_from=body.renamed_from,
        id_column=body.key.column,
        id_type=body.key.type,
        lacks=sorted(body.lacks),
        lookup=body.lookup,
        parent=body.parent,
        events=[event for event in ("created", "updated", "deleted") if event in body.events],
        feed=bool(body.events) and body.feed is not False,
        cache_ttl=None if body.marks or body.author or body.views else _cache_ttl(body, spec),
        author=body.author,
        views={view: kind.owner for view, kind in sorted(body.views.items())},
        marks=[_mark(name, table, mname, mark, spec) for mname, mark in sorted(body.marks.items())],
        actions=[
            _action(name, aname, action, spec, modules, by_name)
            for aname, action in sorted(body.actions.items())
        ],
        **_envelope(name, body, spec),
    )


def _collection_segments(body: ResourceSpec) -> list[str]:
    """The path segments under a collection that its own routes answer (no record's key)."""
    segments = {view.replace("_", "-") for view in body.views}
    segments |= {kebab(a) for a, action in body.actions.items() if action.on == "collection"}
    if body.events and body.feed is not False:
        segments.add("events")
    return sorted(segments)


def _envelope(name: str, body: ResourceSpec, spec: ServiceSpec) -> dict[str, str]:
    if not spec.api.envelope:
        return {}
    wire = camel if spec.api.field_names == "camelCase" else str
    given = body.envelope
    names = envelope_names(
        name, given.one if given else None, given.many if given else None, body.plural
    )
    one, many, count = (wire(member) for member in names)
    return {"envelope_one": one, "envelope_many": many, "envelope_count": count}


def _action(
    resource: str,
    name: str,
    body: ActionSpec,
    spec: ServiceSpec,
    modules: dict[str, str],
    fields: dict[str, FieldIR],
) -> ActionIR:
    """An action resolved: its values typed as its fields', its inputs and outputs as fields."""
    if _auth(spec) is None:
        allow = ["anyone"]
    elif body.allow is None and body.on == "collection":  # no record to own: the roles
        allow = [p for p in _permissions(spec.resources[resource], spec)["update"] if p != "owner"]
    elif body.allow is None:
        allow = _permissions(spec.resources[resource], spec)["update"]
    else:
        allow = sorted(set(body.allow if isinstance(body.allow, list) else [body.allow]))

    def typed(fname: str, value: Any) -> Any:
        f = fields[fname]
        if value is None:
            return None
        return FIELD_TYPES[f.kind].coerce_default(value, f.options)

    def condition(fname: str, value: Any) -> Any:
        if not isinstance(value, WhenCondition):
            return typed(fname, value)
        found: dict[str, Any] = {}
        for op, given in value.operators().items():
            if op == "in":
                found[op] = [typed(fname, v) for v in given]
            else:
                found[op] = typed(fname, given)
        return found

    def declared(group: str, entries: dict[str, FieldSpec]) -> list[FieldIR]:
        found = []
        for iname, ispec in entries.items():
            f = _field(resource, f"{name}_{group}_{iname}", ispec, spec, modules, False)
            f.attr = python_name(iname)
            f.description = f.description or f"The {iname} of the {name} action."
            found.append(f)
        return found

    sets: dict[str, dict[str, Any]] = {}
    for fname, value in body.sets.items():
        if isinstance(value, InputRef):
            sets[fields[fname].column] = {"input": python_name(value.input)}
        else:
            sets[fields[fname].column] = {"value": typed(fname, value)}
    return ActionIR(
        name=name,
        path=kebab(name),
        description=(body.description or f"The {name} action on a {resource}.").strip()
        if body.on == "record"
        else (body.description or f"The {name} action on the {resource} collection.").strip(),
        handler=body.handler,
        allow=allow,
        when={fields[f].column: condition(f, v) for f, v in body.when.items()},
        sets=sets,
        inputs=declared("input", body.input),
        outputs=declared("output", body.output),
        collection=body.on == "collection",
    )


def _mark(resource: str, table: str, name: str, body: MarkSpec, spec: ServiceSpec) -> MarkIR:
    if body.allow is None:
        allow = ["authenticated"]
    else:
        allow = sorted(set(body.allow if isinstance(body.allow, list) else [body.allow]))
    record = f"{snake(resource)}_id"
    return MarkIR(
        name=name,
        path=kebab(name),
        description=(body.description or f"The caller's {name} of a {resource}.").strip(),
        allow=allow,
        table=f"{table}_{plural(name)}",
        record_column="record_id" if record == "user_id" else record,
        count=body.count,
        mine=body.mine,
    )


def _cache_ttl(body: ResourceSpec, spec: ServiceSpec) -> int | None:
    """Seconds this resource's GETs stay cached: its own `cache`, else `api.cache`."""
    cache = body.cache
    if cache is False:
        return None
    cache = cache or spec.api.cache
    return _seconds(cache.ttl) if cache is not None else None


def _db_name(name: str, fields: dict[str, FieldIR], body: ResourceSpec) -> str:
    """The database column of a field (or automatic field) named in an index."""
    if name in fields:
        return fields[name].db_column
    return body.key.column if name == "id" else name


def _field(
    resource: str,
    name: str,
    spec: FieldSpec,
    service: ServiceSpec,
    modules: dict[str, str],
    sortable: bool,
) -> FieldIR:
    ftype = FIELD_TYPES[spec.type]
    options = spec.model_dump()
    has_default = "default" in spec.given() and spec.default is not None
    column = f"{name}_id" if spec.type == "ref" else name
    target = spec.to
    target_spec = service.resources.get(target or "")
    result = FieldIR(
        name=name,
        attr=python_name(name),
        column=column,
        kind=spec.type,
        base=ftype.base,
        description=(spec.description or "").strip(),
        required=spec.required,
        nullable=not spec.required and not has_default,
        unique=spec.unique,
        indexed=spec.index,
        searchable=spec.searchable,
        sortable=sortable,
        readable=not (spec.write_only or spec.hidden),
        in_list=spec.in_list,
        writable=not (spec.read_only or spec.hidden),
        example=spec.example if spec.example is not None else _example(spec, ftype),
        min_length=spec.min_length if ftype.textual else None,
        max_length=spec.max_length if ftype.textual else None,
        minimum=spec.min if ftype.ordered else None,
        maximum=spec.max if ftype.ordered else None,
        precision=decimal_shape(options)[0] if ftype.base == "decimal" else None,
        scale=decimal_shape(options)[1] if ftype.base == "decimal" else None,
        values=list(spec.values or []) if ftype.base == "enum" else [],
        has_default=has_default,
        default=ftype.coerce_default(spec.default, options) if has_default else None,
        pattern=spec.pattern or ftype.pattern,
        column_name=spec.column if spec.column and spec.column != column else "",
        by=spec.by or "",
        create_missing=spec.create_missing,
        embed=spec.embed,
    )
    if spec.type == "slug" and spec.from_:
        # made by the service from another field: never written by a client, always present
        result.derived_from = spec.from_
        result.on_change = spec.on_change or "keep"
        result.writable, result.required, result.nullable = False, False, False
    if spec.pattern or (ftype.pattern and ftype.base in ("string", "text")):
        result.samples = samples(
            result.pattern or "", 40, min_length=spec.min_length or 0, max_length=result.longest
        )
    if target:
        result.ref = target
        result.ref_table = (target_spec.table if target_spec else None) or snake(target)
        if target_spec is not None and target_spec.key.type == "int":
            result.ref_id_type = "int"
        if target_spec is not None and target_spec.key.column != "id":
            result.ref_id_column = target_spec.key.column
        result.ref_module = modules[target]
        result.ref_class = target
    if spec.type == "ref":
        result.on_delete = (spec.on_delete or "restrict").upper().replace("_", " ")
    if spec.type == "many":
        own = snake(resource)
        other = snake(target or "")
        own_table = service.resources[resource].table or own
        result.link_table = f"{own_table}_{name}"
        result.link_self_column = f"{own}_id"
        result.link_target_column = f"{other if other != own else name}_id"
        if spec.link is not None:
            result.link_table = spec.link.table
            result.link_self_column = spec.link.column or result.link_self_column
            result.link_target_column = spec.link.target_column or result.link_target_column
    return result


def _example(spec: FieldSpec, ftype: FieldType) -> Any:
    if ftype.base == "enum":
        return (spec.values or [None])[0]
    if ftype.base == "many":
        return [1]
    if ftype.base == "decimal":
        low = spec.min if spec.min is not None else 0
        return str(Decimal(str(low)) + 1)
    if ftype.base in ("int", "bigint", "float"):
        low = spec.min if spec.min is not None else ftype.example
        return low
    if ftype.base == "json":
        return {"key": "value"}
    if spec.pattern:
        return None  # no safe example for an arbitrary pattern
    return ftype.example


def numeric_range(f: FieldIR, places: int = 0) -> tuple[int, int]:
    """The first value a numeric factory gives, in units of 10**-places (whole numbers by
    default), and how many it cycles through."""
    unit = Decimal(10) ** places
    low, high = f.bounds
    lowest = math.ceil(Decimal(str(low)) * unit) if low is not None else 0
    highest = math.floor(Decimal(str(high)) * unit) if high is not None else lowest + 10**6
    start = max(lowest, min(0, highest)) if lowest < 0 else lowest
    return start, min(highest - start + 1, 10**6)


def fraction_units(f: FieldIR) -> tuple[int, int] | None:
    """For a decimal whose bounds hold at most one whole number (NUMERIC(2, 2) holds none but
    0): its factory's range in units of its last decimal place. None for the others, whose
    factory counts in whole numbers."""
    if not f.scale or numeric_range(f)[1] > 1:
        return None
    return numeric_range(f, f.scale)


def _filters(body: ResourceSpec, fields: dict[str, FieldIR]) -> list[FilterParam]:
    params: list[FilterParam] = []
    for name in body.filter:
        f = fields.get(name)
        if f is None:  # an automatic field: the id, or a timestamp
            column, ordered, choice = name, name != "id", False
        else:
            column, ordered, choice = f.column, f.field_type.ordered, f.base == "bool"
        eq = f"{name}__eq" if name in CONTROL_PARAMS else name
        params.append(FilterParam(eq, python_name(eq), column, "eq", name))
        if not choice:
            params.append(FilterParam(f"{name}__in", f"{name}__in", column, "in", name))
        if ordered:
            params += [
                FilterParam(f"{name}__{op}", f"{name}__{op}", column, op, name)
                for op in ("gte", "lte")
            ]
    return params


def _sort_keys(body: ResourceSpec, fields: dict[str, FieldIR]) -> list[str]:
    keys = ["id", *(name for name in body.sort if name != "id")]
    return keys
