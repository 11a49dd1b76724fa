"""Business operations shared by every resource: one transaction each, errors as problems.

Who may do what is an `AccessPolicy` the service is given for its caller: in a service with
accounts, auth/access.py's `Access`; without, `Everyone` (every operation on every record). An
`Audit` given with it (auth/audit.py's `record_event`) writes each change to the audit log, in
the change's transaction; without one nothing is written (the metrics count changes).
"""

import json
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, ClassVar, Protocol

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    UnprocessableError,
    transient_conflict,
)
from .hooks import Caller, Hooks
from .listing import OWNED_BY
from .metrics import RESOURCE_CHANGES
from .repository import Repository


class Scope(Enum):
    """Which records of a resource a caller may act on."""

    ALL = "all"  # every record
    OWN = "own"  # only the caller's records


class AccessPolicy(Protocol):
    """What one caller may do to the records of one resource."""

    @property
    def user_id(self) -> int | None:
        """The caller's account (None: anonymous); owned records belong to it."""

    def scope(self, action: str) -> Scope:
        """Which records the caller may do ``action`` on; raises (401, 403) when none."""

    def check(self, action: str, record: dict[str, Any], owner: int | None = None) -> None:
        """Raise (403, 404) unless the caller may do ``action`` on ``record``, owned by
        ``owner`` (None: by its own `owner` field)."""

    def refers_to_every(self, resource: str, action: str | None = None) -> bool:
        """Whether the caller may refer to any record of ``resource`` (whose records belong to
        accounts), not only to its own; with ``action`` (the field is the parent this resource
        is owned through), only if its role also lets it do ``action`` here."""


class Everyone:
    """The access policy of a service without accounts: anybody may do anything."""

    user_id = None

    def scope(self, action: str) -> Scope:
        return Scope.ALL

    def check(self, action: str, record: dict[str, Any], owner: int | None = None) -> None:
        return None

    def refers_to_every(self, resource: str, action: str | None = None) -> bool:
        return True


class Audit(Protocol):
    """Adds an audit event for a change to the session's transaction."""

    async def __call__(
        self,
        session: AsyncSession,
        principal: Caller | None,
        action: str,
        *,
        resource: str,
        resource_id: int,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        secret: frozenset[str],
    ) -> None: ...


class CrudService:
    """List, read, create, replace, update and delete for one resource."""

    resource: ClassVar[str]
    repository_class: ClassVar[type[Repository]]
    hooks_class: ClassVar[type[Hooks]] = Hooks
    unique: ClassVar[dict[str, list[str]]] = {}  # constraint name → field names
    referenced_by: ClassVar[list[str]] = []  # "Resource.field" entries that point here

    owned: ClassVar[bool] = False  # records belong to the account that creates them
    key: ClassVar[str] = "id"  # what item URLs name a record by (on the wire): id, or a field
    secret: ClassVar[frozenset[str]] = frozenset()  # fields the audit log redacts

    def __init__(
        self,
        session: AsyncSession,
        principal: Caller | None = None,
        access: AccessPolicy | None = None,
        audit: Audit | None = None,
    ):
        self.session = session
        self.repository = self.repository_class(session)
        self.hooks = self.hooks_class(session)
        self.hooks.principal = principal
        self.principal = principal  # the caller (None: anonymous, or no accounts)
        self.access = access or Everyone()
        self.audit = audit

    async def list_page(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.access.scope("list") is Scope.OWN:  # 401 or 403 unless the caller may list
            params = {**params, OWNED_BY: self.access.user_id}
        return await self.repository.page(params)

    async def get(self, key: Any) -> dict[str, Any]:
        """The record item URLs name ``key`` (its id, or the value of its `key` field)."""
        return await self._authorized("read", key)

    async def create(
        self,
        values: dict[str, Any],
        before_commit: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Insert a record; ``before_commit`` sees it inside the transaction (idempotency).
        The record is read back once, inside the transaction: what it commits."""
        self.access.scope("create")
        if self.owned:
            values["owner"] = self.access.user_id
        await self._check_refs("create", values)
        await self.hooks.validate(values, None)
        await self.hooks.before_create(values)
        loaded: list[dict[str, Any]] = []
        await self._write(
            values,
            lambda: self._insert(values, before_commit, loaded),
            audit=("create", None),
        )
        RESOURCE_CHANGES.labels(self.resource, "created").inc()
        created = loaded[-1]
        await self.hooks.after_create(created)
        return created

    async def _insert(
        self,
        values: dict[str, Any],
        before_commit: Callable[[dict[str, Any]], Awaitable[None]] | None,
        loaded: list[dict[str, Any]],
    ) -> int:
        new_id: int = await self.repository.insert(dict(values))
        loaded.append(await self._load(new_id))
        if before_commit is not None:
            await before_commit(loaded[-1])
        return new_id

    async def update(
        self, key: Any, values: dict[str, Any], versions: set[int] | None = None
    ) -> dict[str, Any]:
        """Change a record; with ``versions`` (from If-Match), only while it is at one of them.
        The record is read back inside the transaction, before it commits."""
        current = await self._authorized("update", key)
        id = current["id"]
        version = self._expected_version(current, versions)
        await self._check_refs("update", values)
        await self.hooks.validate(values, current)
        await self.hooks.before_update(id, values)
        loaded: list[dict[str, Any]] = []
        updated = await self._write(
            values,
            lambda: self._update(id, values, version, loaded),
            audit=("update", current),
        )
        if not updated:
            await self._missing_or_changed(id, version, key)
        RESOURCE_CHANGES.labels(self.resource, "updated").inc()
        record = loaded[-1]
        await self.hooks.after_update(record)
        return record

    async def _update(
        self, id: int, values: dict[str, Any], version: int | None, loaded: list[dict[str, Any]]
    ) -> bool:
        updated = await self.repository.update(id, dict(values), version)
        if updated:
            loaded.append(await self._load(id))
        return updated

    async def check_version(self, key: Any, versions: set[int] | None) -> dict[str, Any]:
        """The record, after checking an If-Match precondition without changing anything."""
        current = await self._authorized("update", key)
        self._expected_version(current, versions)
        return current

    async def delete(self, key: Any, versions: set[int] | None = None) -> None:
        current = await self._authorized("delete", key)
        id = current["id"]
        version = self._expected_version(current, versions)
        await self.hooks.before_delete(id)
        try:
            deleted = await self.repository.delete(id, version)
            if deleted:
                await self._record("delete", current, id)
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            users = ", ".join(self.referenced_by) or "other records"
            raise ConflictError(
                f"{self.resource} {id} is still referenced by {users}; "
                "delete or reassign those first."
            ) from None
        if not deleted:
            await self._missing_or_changed(id, version, key)
        RESOURCE_CHANGES.labels(self.resource, "deleted").inc()
        await self.hooks.after_delete(id)

    async def linked(self, key: Any, name: str) -> list[int]:
        record = await self.get(key)
        return await self.repository.linked_ids(name, record["id"])

    async def link(self, key: Any, name: str, target: int) -> None:
        id = (await self._authorized("update", key))["id"]
        await self._check_refs("update", {name: [target]})
        await self._write({name: [target]}, lambda: self.repository.add_link(name, id, target))

    async def unlink(self, key: Any, name: str, target: int) -> None:
        id = (await self._authorized("update", key))["id"]
        removed = await self.repository.remove_link(name, id, target)
        await self.session.commit()
        if not removed:
            raise NotFoundError(f"{self.resource} {_shown(key)} is not linked to {name} {target}.")

    async def _load(self, id: int) -> dict[str, Any]:
        found = await self.repository.get(id)
        if found is None:
            raise NotFoundError(f"There is no {self.resource} with id {id}.")
        return found

    async def _authorized(self, action: str, key: Any) -> dict[str, Any]:
        """The record item URLs name ``key``, once the caller may do ``action`` on it
        (401/403/404 otherwise)."""
        scope = self.access.scope(action)
        record = await self.repository.find(key)
        if record is None:
            raise NotFoundError(self._none_with(key))
        owner = None
        if self.repository.through and scope is not Scope.ALL:
            # the owner of its chain of parents
            owner = await self.repository.owner_of(record["id"])
        self.access.check(action, record, owner)
        return record

    async def _check_refs(self, action: str, values: dict[str, Any]) -> None:
        """Refuse references to records that belong to another account and that the caller may
        not see, exactly as references to records that do not exist (409): which ids exist does
        not leak. One query per such field given."""
        hidden = []
        for name, guard in self.repository.guards.items():
            given = values.get(name)
            ids = list(dict.fromkeys(given if isinstance(given, list) else [given]))
            ids = [id for id in ids if id is not None]
            if not ids or self.access.refers_to_every(
                guard.resource, action if guard.parent else None
            ):
                continue
            owned = await self.repository.owned_among(guard, ids, self.access.user_id)
            if not owned.issuperset(ids):
                hidden.append(name)
        if hidden:
            missing = set(hidden) | set(await self.repository.missing_refs(values))
            fields = [*self.repository.refs, *self.repository.links]
            raise _no_such_records([name for name in fields if name in missing])

    def _expected_version(self, current: dict[str, Any], versions: set[int] | None) -> int | None:
        """The version a conditional write must find: the current one, if If-Match names it."""
        if versions is None:
            return None
        version: int = current["version"]
        if version not in versions:
            raise PreconditionFailedError(
                f"{self.resource} {current['id']} is at version {version}, not the "
                "one If-Match names; read it again and retry."
            )
        return version

    async def _missing_or_changed(self, id: int, version: int | None, key: Any) -> None:
        if version is not None and await self.repository.exists(id):
            raise PreconditionFailedError(
                f"{self.resource} {id} changed while this request ran; read it again and retry."
            )
        raise NotFoundError(self._none_with(key))

    def _none_with(self, key: Any) -> str:
        return f"There is no {self.resource} with {self.key} {_shown(key)}."

    async def _record(self, action: str, before: dict[str, Any] | None, result: Any) -> None:
        """Audit a change, inside its transaction, just before it commits: ``result`` is the
        new id of a create (``before`` None)."""
        if self.audit is None:
            return
        id = result if before is None else before["id"]
        after = None if action == "delete" else await self.repository.get(id)
        await self.audit(
            self.session,
            self.principal,
            action,
            resource=self.resource,
            resource_id=id,
            before=self._as_audited(before),
            after=self._as_audited(after),
            secret=self.secret,
        )

    def _as_audited(self, record: dict[str, Any] | None) -> dict[str, Any] | None:
        """``record`` as the audit log and the events carry it."""
        return record

    async def _write(
        self,
        values: dict[str, Any],
        operation: Callable[[], Awaitable[Any]],
        audit: tuple[str, dict[str, Any] | None] | None = None,
    ) -> Any:
        """Run a write and commit it; constraint violations become 409/422 problems. A
        serialization failure or deadlock rolls back and runs the write once more (nothing of
        the first attempt remains); a second one answers 503 with a short Retry-After."""
        for attempt in (1, 2):
            try:
                result = await operation()
                if audit is not None and result:
                    await self._record(*audit, result)
                await self.session.commit()
                return result
            except IntegrityError as exc:
                await self.session.rollback()
                raise await self._explain(exc, values) from None
            except DBAPIError as exc:
                if attempt == 2 or not transient_conflict(exc):
                    raise
                await self.session.rollback()
        raise AssertionError("unreachable")

    async def _explain(self, exc: IntegrityError, values: dict[str, Any]) -> Exception:
        message = str(exc.orig)
        for constraint, fields in self.unique.items():
            columns = ", ".join(fields)
            if constraint in message or _sqlite_unique(message, fields):
                return ConflictError(
                    f"Another {self.resource} already has this {columns}.",
                    errors=[
                        {"field": f"body.{f}", "message": "already taken", "type": "unique"}
                        for f in fields
                    ],
                )
        missing = await self.repository.missing_refs(values)
        if missing:
            return _no_such_records(missing)
        if "check" in message.lower():
            return UnprocessableError(f"A value is outside what {self.resource} allows.")
        return ConflictError(f"The change conflicts with existing {self.resource} data.")


def _no_such_records(fields: list[str]) -> ConflictError:
    """References (by wire name) to records that do not exist, or that the caller may not see."""
    return ConflictError(
        f"Referenced records do not exist: {', '.join(fields)}.",
        errors=[
            {"field": f"body.{f}", "message": "no such record", "type": "reference"} for f in fields
        ],
    )


def _shown(key: Any) -> str:
    """A key as a message shows it: an id as it is, any other value quoted."""
    return str(key) if isinstance(key, int) else json.dumps(str(key), ensure_ascii=False)


def _sqlite_unique(message: str, fields: list[str]) -> bool:
    """SQLite names the columns instead of the constraint: 'UNIQUE constraint failed: t.a'."""
    if "UNIQUE constraint failed" not in message:
        return False
    named = {part.split(".")[-1].strip() for part in message.split(":", 1)[1].split(",")}
    return named == set(fields)
