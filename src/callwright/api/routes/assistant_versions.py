"""Assistant versions: list, read one, restore one (decision 023)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from callwright.api.deps import AssistantsDep
from callwright.api.openapi import errors
from callwright.api.routes.assistants import AssistantIdPath
from callwright.api.routing import CallwrightRoute
from callwright.domain.assistants.schemas import AssistantResponse

__all__ = ["AssistantVersionResponse", "router"]

router = APIRouter(
    prefix="/api/v1/assistants", tags=["assistant versions"], route_class=CallwrightRoute
)

VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="The version number.")]


class VersionAuthor(BaseModel):
    """Who stored the version: the user, the API key (null for a dashboard session)."""

    user_id: int | None
    api_key_id: int | None
    auth_method: Literal["api_key", "session"] | None


class VersionChange(BaseModel):
    """A JSON path of the settings (``llm_settings.temperature``) and how it changed."""

    path: str
    change: Literal["added", "removed", "changed"]


class AssistantVersionResponse(BaseModel):
    """One version of an assistant. ``settings`` (secrets masked) only on GET of one."""

    assistant_id: int
    version: int
    action: Literal["create", "update", "restore"]
    restored_from: int | None
    created_at: datetime
    created_by: VersionAuthor
    changes: list[VersionChange]
    settings: dict[str, Any] | None = Field(default=None)


@router.get(
    "/{assistant_id}/versions",
    operation_id="list_assistant_versions",
    responses=errors(401, 404, 422),
)
async def list_versions(
    assistant_id: AssistantIdPath,
    assistants: AssistantsDep,
    skip: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AssistantVersionResponse]:
    """The assistant's versions, newest first: who, when, which paths changed."""
    rows = await assistants.versions(assistant_id, skip=skip, limit=limit)
    return [AssistantVersionResponse.model_validate(row) for row in rows]


@router.get(
    "/{assistant_id}/versions/{number}",
    operation_id="get_assistant_version",
    responses=errors(401, 404, 422),
)
async def get_version(
    assistant_id: AssistantIdPath, number: VersionPath, assistants: AssistantsDep
) -> AssistantVersionResponse:
    """One version with its whole settings document (secrets masked)."""
    return AssistantVersionResponse.model_validate(await assistants.version(assistant_id, number))


@router.post(
    "/{assistant_id}/versions/{number}/restore",
    operation_id="restore_assistant_version",
    responses=errors(401, 403, 404, 409, 422),
)
async def restore_version(
    assistant_id: AssistantIdPath, number: VersionPath, assistants: AssistantsDep
) -> AssistantResponse:
    """Make the assistant's settings those of version ``number`` again; this stores a
    new version (action ``restore``), so the history is never rewritten."""
    stored = await assistants.restore(assistant_id, number)
    return AssistantResponse.model_validate(stored.public())
