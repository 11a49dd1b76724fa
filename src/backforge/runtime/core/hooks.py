"""Where business rules plug in: each resource's `hooks.py` subclasses `Hooks`.

`validate` and the `before_*` hooks run inside the request's transaction, before the write, so
whatever they change with `self.session` commits or rolls back with it; raising a ProblemError
(UnprocessableError, ConflictError, ...) refuses the request. The `after_*` hooks run once the
change is committed.
"""

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession


class Caller(Protocol):
    """An authenticated caller, as hooks see it: in a service with authentication, the
    `Principal` of auth/principal.py."""

    @property
    def user_id(self) -> int: ...

    @property
    def role(self) -> str: ...

    @property
    def api_key_id(self) -> int | None: ...

    @property
    def kind(self) -> str: ...


class Hooks:
    principal: Caller | None = None  # the caller, set by the service (None: anonymous, or no auth)

    def __init__(self, session: AsyncSession):
        self.session = session

    async def validate(self, values: dict[str, Any], current: dict[str, Any] | None) -> None:
        """Check a create (``current`` is None) or a change; raise to refuse it."""

    async def before_create(self, values: dict[str, Any]) -> None:
        """Adjust ``values`` in place before the row is inserted."""

    async def after_create(self, record: dict[str, Any]) -> None:
        """React to a committed create."""

    async def before_update(self, id: int, values: dict[str, Any]) -> None:
        """Adjust ``values`` in place before the row is changed."""

    async def after_update(self, record: dict[str, Any]) -> None:
        """React to a committed change."""

    async def before_delete(self, id: int) -> None:
        """Raise to keep the record."""

    async def after_delete(self, id: int) -> None:
        """React to a committed delete."""
