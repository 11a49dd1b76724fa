"""Your own endpoints: this file is yours. backforge wrote it once and never changes it.

Routes added to `router` are served under /api/v1 next to the generated ones and
appear in the OpenAPI document, e.g.:

    @router.get("/stats", operation_id="stats")
    async def stats(session: SessionDep) -> dict[str, int]:
        ...
"""

from fastapi import APIRouter

router = APIRouter(tags=["custom"])
