"""Probes: liveness (the process runs), readiness (it can serve: the database answers) and
startup (it has started, on a schema at the newest migration)."""

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from pydantic import BaseModel

from .errors import SERVER_ERROR, ServiceUnavailableError, problem_doc
from .routing import AppRoute

READINESS_TIMEOUT = 1.5  # below the usual 2 s probe period: an outage shows at once
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

router = APIRouter(tags=["health"], responses=SERVER_ERROR, route_class=AppRoute)


class HealthStatus(BaseModel):
    status: str


@router.get("/healthz", operation_id="liveness", summary="The process is alive")
async def liveness() -> HealthStatus:
    return HealthStatus(status="ok")


@router.get(
    "/readyz",
    operation_id="readiness",
    summary="The service can serve requests (its database answers)",
    responses={503: problem_doc("A dependency does not answer.")},
)
async def readiness(request: Request) -> HealthStatus:
    try:
        await asyncio.wait_for(request.app.state.database.ping(), READINESS_TIMEOUT)
    except Exception as exc:
        raise ServiceUnavailableError(
            f"The database does not answer: {type(exc).__name__}.",
            headers={"Retry-After": "5"},
        ) from None
    return HealthStatus(status="ok")


def head_revision() -> str | None:
    """The newest migration this code expects, read from the migration scripts."""
    if not ALEMBIC_INI.is_file():
        return None
    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


@router.get(
    "/startupz",
    operation_id="startup",
    summary="The service has started on a schema at the newest migration",
    responses={503: problem_doc("Not started yet, or the schema is not migrated.")},
)
async def startup(request: Request) -> HealthStatus:
    state = request.app.state
    if not getattr(state, "schema_current", False):
        expected = head_revision()
        try:
            async with state.database.engine.connect() as connection:
                found = (
                    await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
        except Exception as exc:
            raise ServiceUnavailableError(
                f"The schema version cannot be read ({type(exc).__name__}); "
                "run `alembic upgrade head`.",
                headers={"Retry-After": "5"},
            ) from None
        if found != expected:
            raise ServiceUnavailableError(
                f"The schema is at revision {found}, the code expects {expected}; "
                "run `alembic upgrade head`.",
                headers={"Retry-After": "5"},
            )
        state.schema_current = True
    return HealthStatus(status="ok")
