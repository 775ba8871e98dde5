"""The Tool resource: Vapi's function-tool object, stored once and referenced by
assistants' ``tool_ids``. The request body is validated as ``engine.tools.CustomTool``;
these models document the bodies and the response."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from callwright.engine.tools import CustomTool

__all__ = ["ToolFunctionOut", "ToolIn", "ToolPatch", "ToolResponse", "ToolServerOut"]


class ToolIn(CustomTool):
    """Body of create (POST): a Vapi function tool. ``server.secret`` and credential
    headers (``Authorization``, ``X-Api-Key`` …) are encrypted at rest and masked."""


class ToolPatch(BaseModel):
    """Body of PATCH: only the fields sent change; ``function`` and ``server`` merge,
    ``server.headers``, ``parameters`` and ``messages`` are replaced. The service merges
    the raw body into the stored tool and validates the result as a ``ToolIn``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: Literal["function"] | None = None
    function: dict[str, Any] | None = None
    server: dict[str, Any] | None = None
    is_async: bool | None = Field(None, alias="async")
    messages: list[dict[str, Any]] | None = None


class ToolFunctionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str
    parameters: dict[str, Any]


class ToolServerOut(BaseModel):
    """The webhook target; ``secret`` and credential header values are masked."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    url: str
    secret: str | None
    timeout_seconds: float = Field(alias="timeoutSeconds")
    headers: dict[str, str]


class ToolResponse(BaseModel):
    """A stored tool: the Vapi function-tool object plus identity and timestamps."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: int
    organization_id: int
    user_id: int | None
    type: Literal["function"]
    function: ToolFunctionOut
    server: ToolServerOut
    is_async: bool = Field(alias="async")
    messages: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
