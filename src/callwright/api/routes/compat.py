"""The seed paths of other vendors, answering as their documents say:
``GET /assistants/{id}`` (seed 001: camelCase, by DB id or external id, cookie auth works)
and ``GET /assistant/details/{assistant_id}`` (seed 004: ``{success, message, data}``,
404 for an inactive assistant)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from callwright.api.deps import AssistantsDep
from callwright.api.openapi import errors
from callwright.api.routes.assistants import AssistantIdPath, single_view
from callwright.api.routing import CallwrightRoute
from callwright.domain.assistants.dialects import DIALECTS
from callwright.errors import NotFound

__all__ = ["router"]

router = APIRouter(tags=["compatibility"], route_class=CallwrightRoute)

_VAPI = DIALECTS["vapi"]
_DETAILS = DIALECTS["details"]


@router.get(
    "/assistants/{id}",
    operation_id="get_assistant_vapi",
    response_model=_VAPI.one_model,
    responses=errors(401, 404, 422),
)
async def get_assistant_vapi(id: AssistantIdPath, assistants: AssistantsDep) -> JSONResponse:
    """Get a specific assistant (seed 001) by external provider id or local DB id."""
    return single_view(await assistants.get(id), "vapi")


@router.get(
    "/assistant/details/{assistant_id}",
    operation_id="get_assistant_details",
    response_model=_DETAILS.one_model,
    responses=errors(401, 404, 422),
)
async def get_assistant_details(
    assistant_id: AssistantIdPath, assistants: AssistantsDep
) -> JSONResponse:
    """Get Assistant Details (seed 004). An inactive assistant answers 404."""
    stored = await assistants.get(assistant_id)
    if not stored.row.is_active:
        raise NotFound(f"assistant {assistant_id} not found or inactive")
    return single_view(stored, "details")
