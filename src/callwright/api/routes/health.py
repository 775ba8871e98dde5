"""Liveness and readiness probes (exempt from rate limits and auth)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from callwright.api.deps import StateDep
from callwright.api.routing import CallwrightRoute
from callwright.errors import ServiceBusy

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=CallwrightRoute)


class Health(BaseModel):
    status: str
    # readyz: the node (server process) that answered (with several workers, which).
    node: str | None = None


@router.get("/healthz", operation_id="healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", operation_id="readyz")
async def readyz(state: StateDep) -> Health:
    """Ready to take calls: the database answers and the process is not draining (a
    load balancer takes a draining node out of rotation on its 503)."""
    if state.calls.draining:
        raise ServiceBusy("this server is draining before it stops")
    async with state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return Health(status="ready", node=state.node.id)
