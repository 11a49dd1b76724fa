"""The value factories of the generated tests: for each field, a Python expression of ``n``
that gives a valid value, distinct for distinct ``n`` where the field's values allow it."""

from __future__ import annotations

from backforge.fieldtypes import SLUG_PATTERN
from backforge.ir import FieldIR, ResourceIR, fraction_units, numeric_range

_FIXED = {
    "bool": "n % 2 == 0",
    "date": "(date(2024, 1, 1) + timedelta(days=n)).isoformat()",
    "datetime": "(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=n)).isoformat()",
    "time": "time(n % 24, n % 60).isoformat()",
    "uuid": "str(UUID(int=n))",
    "json": '{"n": n}',
}


def factory(f: FieldIR) -> str:
    if f.is_relation:
        return ""  # relations are created by the factories themselves
    if f.pattern == SLUG_PATTERN:  # a name and a counter: distinct for every n, as samples are not
        return _text(f, slug=True)
    if f.samples:
        return f"{f.samples!r}[n % {len(f.samples)}]"
    base = f.base
    if base in ("string", "text"):
        return _text(f)
    if base == "email":
        return 'f"user{n}@example.com"'
    if base == "url":
        return f'f"https://example.com/{f.name}/{{n}}"'
    if base == "enum":
        return f"{f.values!r}[n % {len(f.values)}]"
    if base == "decimal" and (units := fraction_units(f)) is not None:
        start, span = units
        scale = f.digits[1]
        return f'f"{{({start} + n % {span}) / 10**{scale}:.{scale}f}}"'
    if base in ("int", "bigint", "float", "decimal"):
        start, span = numeric_range(f)
        value = f"{start} + n % {span}"
        return {"float": f"float({value})", "decimal": f"str({value})"}.get(base, value)
    return _FIXED[base]


def _text(f: FieldIR, *, slug: bool = False) -> str:
    limit = f.longest
    least = f.min_length or 0
    if limit < 9:  # too short for a name and a counter: digits, distinct modulo 10**limit
        return f'f"{{n % {10**limit}:0{limit}d}}"'
    prefix = f.name.replace("_", "-")[: max(0, limit - 8)]
    if slug:  # lowercase words joined by single hyphens
        prefix = "-".join(word for word in prefix.lower().split("-") if word) or "s"
    value = f'f"{prefix}-{{n}}"'
    if least > len(prefix) + 2:  # long enough: a slug's counter gets leading zeros, text x's
        digits = least - len(prefix) - 1
        value = f'f"{prefix}-{{n:0{digits}d}}"' if slug else f'{value}.ljust({least}, "x")'
    return f"{value}[:{limit}]"


def key_of(r: ResourceIR, record: str) -> str:
    """The replacement field of an f-string that puts ``record``'s URL key in a test's URL:
    its id, or (``lookup``) the value of its key field, through tests/factories.py."""
    if r.lookup is None:
        return f"{{{record}['id']}}"
    return f"{{{r.singular}_key({record})}}"


def collection(r: ResourceIR, flat: str, client: str = "client") -> str:
    """The expression of a test that gives the URL ``r`` is listed and created at: ``flat``, or
    for a nested collection (`parent:`), the URL under the parent the app's records share,
    through tests/factories.py."""
    return f"await {r.singular}_collection({client})" if r.parent else flat


def bad_keys(f: FieldIR) -> list[str]:
    """Path segments that cannot name a record by ``f`` (422), URL-safe as they are."""
    if f.base in ("int", "bigint"):
        low, high = f.bounds
        return ["abc", "1.5", str(high + 1), str(low - 1)]
    if f.base == "uuid":
        return ["abc", "0b4e7a52-8d0b-4c4e-9f4e-2f1d7c3b9a1z"]
    if f.base == "enum":
        return ["NOT-A-VALUE"]  # values are lowercase identifiers
    bad = ["x" * (f.longest + 1)]
    if (f.min_length or 0) > 1:
        bad.append("x")
    return bad
