# The per-spec values the runtime modules read, for type checking them inside backforge. A
# generated service has a real core/spec.py, rendered from templates/project/__package__/core/
# spec.py.jinja; tests/test_runtime.py checks that the two declare the same names.

from typing import Literal

PACKAGE: str
API_PREFIX: str
IF_MATCH_REQUIRED: bool
UNLOGGED_FIELDS: frozenset[str]
PAGINATION: Literal["cursor", "offset"]
PROBLEM_MEDIA_TYPE: str
PROBLEM_MEMBERS: dict[str, str]
