"""Names: how a spec name becomes a table, a module, a URL segment and a Python identifier."""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence

AUTOMATIC_FIELDS = ("id", "created_at", "updated_at", "version")

# Attribute names that would shadow something on a Pydantic model or an SQLAlchemy declarative
# class; a field with such a name gets a trailing underscore in Python and keeps its wire name.
_SHADOWING = frozenset(
    {
        "metadata",
        "registry",
        "model_config",
        "model_fields",
        "copy",
        "dict",
        "json",
        "schema",
        "validate",
        "construct",
        "parse_obj",
        "parse_raw",
        "from_orm",
        "fields",
        "self",
        "cls",
    }
)

# Module names the generated package already uses for its own parts.
RESERVED_MODULES = frozenset({"core", "main", "models", "routes", "tests", "migrations"})

# Names a generated package must not take: it would shadow a library it imports.
RESERVED_PACKAGES = frozenset(
    {
        "alembic",
        "app",
        "asyncpg",
        "fastapi",
        "httpx",
        "migrations",
        "pydantic",
        "pydantic_settings",
        "pytest",
        "sqlalchemy",
        "starlette",
        "tests",
        "typing",
        "uvicorn",
        "email_validator",
        "aiosqlite",
        "coverage",
        "ruff",
        "schemathesis",
    }
)

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESOURCE_NAME = re.compile(r"^[A-Z][A-Za-z0-9]{0,39}$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_FIELD_NAME = 50


def service_name_problem(name: str) -> tuple[str, str] | None:
    """Why ``name`` cannot name a service, as (message, fix); None when it can."""
    if not SERVICE_NAME.match(name):
        return (
            f"{name!r} is not a valid service name",
            "use lowercase letters, digits and `_`, starting with a letter (at most 40 characters)",
        )
    if keyword.iskeyword(name) or name in RESERVED_PACKAGES:
        return (
            f"the service name {name!r} would shadow a Python keyword or a library it uses",
            f"choose another name, e.g. {name}_service",
        )
    return None


def snake(name: str) -> str:
    """``BookReview`` → ``book_review``; ``HTTPLog`` → ``http_log``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def identifier(text: str) -> str:
    """A snake_case identifier from any name, or "" when nothing usable is left:
    ``photoUrls`` → ``photo_urls``, ``Swagger Petstore`` → ``swagger_petstore``,
    ``pet-types`` → ``pet_types``."""
    words = re.sub(r"[^A-Za-z0-9]+", "_", snake(re.sub(r"[^A-Za-z0-9]+", "_", text)))
    name = re.sub(r"_+", "_", words.lower()).strip("_")
    name = name.lstrip("0123456789_")
    return name


def camel(name: str) -> str:
    """``published_at`` → ``publishedAt``; a filter's operator stays: ``born_on__gte`` →
    ``bornOn__gte``."""
    field, sep, operator = name.partition("__")
    first, *rest = field.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest) + sep + operator


def singular(word: str) -> str:
    """The snake_case word whose ``plural`` is `word`, else `word` itself."""
    for candidate in (word[:-3] + "y", word[:-2], word[:-1]):
        if candidate and plural(candidate) == word:
            return candidate
    return word


def pascal(word: str) -> str:
    """``book_review`` → ``BookReview``."""
    return "".join(part[:1].upper() + part[1:] for part in word.split("_") if part)


def plural(word: str) -> str:
    """English plural of a snake_case word, good for the usual cases (``plural:`` overrides)."""
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"


def python_name(name: str) -> str:
    """A safe Python identifier for a spec name: keywords and shadowing names get ``_``."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in _SHADOWING:
        return name + "_"
    return name


def module_name(name: str) -> str:
    module = python_name(name)
    return module + "_" if module in RESERVED_MODULES else module


def kebab(name: str) -> str:
    return name.replace("_", "-")


# Constraint and index names: the naming convention of the generated core/db.py, spelled here
# once for the schema snapshots, the name checks of the IR and the migrations.
def primary_key_name(table: str) -> str:
    return f"pk_{table}"


def foreign_key_name(table: str, column: str, referred_table: str) -> str:
    return f"fk_{table}_{column}_{referred_table}"


def unique_name(table: str, columns: Sequence[str]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def index_name(table: str, columns: Sequence[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}"


def envelope_names(
    resource: str, one: str | None, many: str | None, plural_name: str | None
) -> tuple[str, str, str]:
    """The members (in the spec's snake_case) a resource's record, its page's records and their
    total are wrapped in with ``api.envelope``: ``Question`` → question, questions,
    questions_count; `one` and `many` are the resource's own names, if it gives them."""
    one = one or snake(resource)
    many = many or plural_name or plural(snake(resource))
    return one, many, f"{many}_count"
