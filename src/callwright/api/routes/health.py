"""Liveness and readiness probes (exempt from rate limits and auth)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from callwright.api.deps import StateDep
from callwright.api.routing import CallwrightRoute

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=CallwrightRoute)


class Health(BaseModel):
    status: str


@router.get("/healthz", operation_id="healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", operation_id="readyz")
async def readyz(state: StateDep) -> Health:
    async with state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return Health(status="ready")
