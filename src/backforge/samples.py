"""Deterministic sample strings for a regular expression, used for examples and test data."""

from __future__ import annotations

import re
import string
from typing import Any

try:  # Python 3.11 moved the parser; both names exist for now
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

_CATEGORIES = {
    sre_constants.CATEGORY_DIGIT: string.digits,
    sre_constants.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_DIGIT: string.ascii_letters,
    sre_constants.CATEGORY_NOT_WORD: "-.",
    sre_constants.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}
_PRINTABLE = string.ascii_letters + string.digits


class Unsupported(Exception):
    pass


def samples(
    pattern: str, count: int, *, min_length: int = 0, max_length: int | None = None
) -> list[str]:
    """Up to ``count`` distinct strings that ``re.search(pattern, s)`` accepts, of
    ``min_length`` to ``max_length`` characters."""
    tree = sre_parse.parse(pattern)
    compiled = re.compile(pattern)
    found: list[str] = []
    for seed in range(count * 4):
        try:
            text = _emit(tree, seed, [0])
        except Unsupported:
            return found
        fits = min_length <= len(text) and (max_length is None or len(text) <= max_length)
        if fits and compiled.search(text) and text not in found:
            found.append(text)
        if len(found) == count:
            break
    return found


def _emit(tree: Any, seed: int, counter: list[int]) -> str:
    out = []
    for op, arg in tree:
        counter[0] += 1
        pick = seed * 7919 + counter[0] * 104729
        if op is sre_constants.LITERAL:
            out.append(chr(arg))
        elif op is sre_constants.ANY:
            out.append(_PRINTABLE[pick % len(_PRINTABLE)])
        elif op is sre_constants.IN:
            out.append(_from_class(arg, pick))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            low, high, sub = arg
            high = low + 3 if high is sre_constants.MAXREPEAT else high
            times = low + (pick % (high - low + 1))
            out += [_emit(sub, seed + i, counter) for i in range(times)]
        elif op is sre_constants.SUBPATTERN:
            out.append(_emit(arg[-1], seed, counter))
        elif op is sre_constants.BRANCH:
            branches = arg[1]
            out.append(_emit(branches[pick % len(branches)], seed, counter))
        elif op is sre_constants.AT:
            continue
        else:
            raise Unsupported(str(op))
    return "".join(out)


def _from_class(items: Any, pick: int) -> str:
    choices: list[str] = []
    for op, arg in items:
        if op is sre_constants.NEGATE:
            raise Unsupported("negated class")
        if op is sre_constants.LITERAL:
            choices.append(chr(arg))
        elif op is sre_constants.RANGE:
            low, high = arg
            choices += [chr(c) for c in range(low, min(high, low + 60) + 1)]
        elif op is sre_constants.CATEGORY:
            choices += list(_CATEGORIES.get(arg, ""))
    if not choices:
        raise Unsupported("empty class")
    return choices[pick % len(choices)]
