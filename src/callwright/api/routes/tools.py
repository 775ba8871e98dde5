"""The Tools API: stored custom function tools (Vapi's function-tool object) that
assistants reference by id in ``tool_ids``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from callwright.api.deps import ToolsDep
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.tools.schemas import ToolIn, ToolPatch, ToolResponse
from callwright.domain.tools.service import StoredTool

__all__ = ["ToolIdPath", "router"]

router = APIRouter(prefix="/api/v1/tools", tags=["tools"], route_class=CallwrightRoute)

ToolIdPath = Annotated[int, Path(description="The tool's id.", ge=1, le=2**63 - 1)]


def _view(stored: StoredTool) -> ToolResponse:
    return ToolResponse.model_validate(stored.public())


@router.get("", operation_id="list_tools", responses=errors(401, 422))
async def list_tools(
    tools: ToolsDep,
    skip: Annotated[int, Query(ge=0, le=2**31, description="Tools to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> list[ToolResponse]:
    """List the organization's tools, newest first."""
    return [_view(stored) for stored in await tools.list(skip=skip, limit=limit)]


@router.post("", operation_id="create_tool", status_code=201, responses=errors(401, 403, 409, 422))
async def create_tool(body: ToolIn, tools: ToolsDep) -> ToolResponse:
    """Create a function tool; its function name must be unique in the organization.
    ``server.secret`` and credential headers are encrypted at rest and masked."""
    return _view(await tools.create(body.model_dump(mode="json", by_alias=True)))


@router.get("/{tool_id}", operation_id="get_tool", responses=errors(401, 404, 422))
async def get_tool(tool_id: ToolIdPath, tools: ToolsDep) -> ToolResponse:
    """Retrieve one tool."""
    return _view(await tools.get(tool_id))


@router.patch("/{tool_id}", operation_id="update_tool", responses=errors(401, 403, 404, 409, 422))
async def update_tool(tool_id: ToolIdPath, body: ToolPatch, tools: ToolsDep) -> ToolResponse:
    """Change only the fields sent: ``function`` and ``server`` merge; ``parameters``,
    ``server.headers`` and ``messages`` are replaced. A masked secret sent back keeps
    the stored secret."""
    patch = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return _view(await tools.update(tool_id, patch))


@router.delete(
    "/{tool_id}", operation_id="delete_tool", status_code=204, responses=errors(401, 403, 404, 422)
)
async def delete_tool(tool_id: ToolIdPath, tools: ToolsDep) -> None:
    """Soft delete. Assistants that reference it keep the id; calls skip the tool."""
    await tools.delete(tool_id)
