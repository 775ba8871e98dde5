"""Rules of the Tool resource: validation, unique function names per organization,
merging, secrets, soft delete; and ``tools_for_call``, an assistant's tools at call time.

The stored row keeps the function name in a column and the whole tool (Vapi's
function-tool object) in one JSON document whose secrets are encrypted. Identity and
timestamps are the row's columns: a body that tries to set them is refused, and a
document stored before that rule keeps working because they are dropped when read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import StoredAssistant, merge_settings
from callwright.domain.principal import Principal
from callwright.domain.secrets import (
    decrypt_secrets,
    encrypt_secrets,
    restore_masked_secrets,
)
from callwright.domain.validation import check_outbound_urls, field_path, summary
from callwright.domain.views import public_view
from callwright.errors import Conflict, NotFound, ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.security.outbound import STRICT, OutboundPolicy
from callwright.store.base import utcnow
from callwright.store.models import Tool

from .repository import ToolRepository, live_tools_of_organization
from .schemas import CustomTool, parse_custom_tools

__all__ = [
    "SERVER_OWNED_FIELDS",
    "CallTools",
    "StoredTool",
    "ToolLeftOut",
    "ToolService",
    "parse_tool",
    "refuse_server_owned_fields",
    "tools_for_call",
]

# Where parse_custom_tools puts an entry's errors: tools_settings.custom_tools[i].
_CUSTOM_TOOLS_LOCATION_PARTS = 3

SERVER_OWNED_FIELDS = frozenset(
    {"id", "organization_id", "user_id", "created_at", "updated_at", "deleted_at"}
    # Vapi's spelling of the same fields, as its exported tool objects carry them.
    | {"orgId", "userId", "createdAt", "updatedAt", "deletedAt"}
)
"""Top-level keys a tool body may not carry. Every other resource refuses them because
its models forbid unknown fields; a tool accepts unknown Vapi fields, so these are
named here."""


def refuse_server_owned_fields(document: dict[str, Any]) -> None:
    """A 422 naming each identity or timestamp field in a tool body (create or PATCH)."""
    details = [
        {
            "field": key,
            "message": "is set by the server and cannot be written",
            "type": "extra_forbidden",
            "loc": ["body", key],
        }
        for key in document
        if key in SERVER_OWNED_FIELDS
    ]
    if details:
        raise ValidationFailed(summary(details), details=details)


def _stored_tool(row: Tool, box: SecretBox) -> CustomTool:
    """The row's tool, decrypted. Identity keys a document stored before they were
    refused may still hold are dropped: the row's columns are the only identity."""
    document = decrypt_secrets(row.config, box)
    return CustomTool.model_validate(
        {key: value for key, value in document.items() if key not in SERVER_OWNED_FIELDS}
    )


@dataclass(frozen=True, slots=True)
class StoredTool:
    row: Tool
    tool: CustomTool  # decrypted: never render this directly

    def public(self) -> dict[str, Any]:
        """The Vapi function-tool object, secrets masked, with identity and timestamps."""
        return public_view(self.tool.model_dump(mode="json", by_alias=True), self.row)


def parse_tool(document: Any) -> CustomTool:
    """Validate one tool with the inline tools' rules; errors name the body's fields
    (``function.name``), not the assistant's (``tools_settings.custom_tools[0]...``)."""
    try:
        (tool,) = parse_custom_tools([document])
    except ValidationFailed as exc:
        details = []
        for detail in exc.details:
            location = ["body", *detail["loc"][_CUSTOM_TOOLS_LOCATION_PARTS:]]
            details.append({**detail, "field": field_path(location), "loc": location})
        raise ValidationFailed(summary(details), details=details) from exc
    return tool


class ToolService:
    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        box: SecretBox,
        *,
        outbound: OutboundPolicy = STRICT,
    ) -> None:
        self._principal = principal
        self._box = box
        self._outbound = outbound
        self._tools = ToolRepository(session, principal)

    # -- reading ---------------------------------------------------------------------

    def _load(self, row: Tool) -> StoredTool:
        return StoredTool(row, _stored_tool(row, self._box))

    async def _find(self, tool_id: int, *, for_update: bool = False) -> Tool:
        row = await self._tools.get(tool_id, for_update=for_update)
        if row is None:
            raise NotFound(f"tool {tool_id} not found")
        return row

    async def get(self, tool_id: int) -> StoredTool:
        return self._load(await self._find(tool_id))

    async def list(self, *, skip: int, limit: int) -> list[StoredTool]:
        return [self._load(row) for row in await self._tools.list(skip=skip, limit=limit)]

    # -- writing ---------------------------------------------------------------------

    async def _check_name(self, tool: CustomTool, excluding: int | None) -> None:
        if await self._tools.name_in_use(tool.name, excluding=excluding):
            raise Conflict(f"a tool named {tool.name!r} already exists")

    def _write(self, row: Tool, tool: CustomTool) -> None:
        row.name = tool.name
        row.config = encrypt_secrets(tool.model_dump(mode="json", by_alias=True), self._box)
        row.updated_at = utcnow()

    async def _store(self, row: Tool, tool: CustomTool, *, new: bool) -> StoredTool:
        self._write(row, tool)
        # Two concurrent writes of one name both pass _check_name; the index decides.
        try:
            if new:
                await self._tools.add(row)
            else:
                await self._tools.flush()
        except IntegrityError as exc:
            raise Conflict(f"a tool named {tool.name!r} already exists") from exc
        return self._load(row)

    async def create(self, document: dict[str, Any]) -> StoredTool:
        refuse_server_owned_fields(document)
        # Nothing is stored yet, so a masked value here can only be a mistake.
        tool = parse_tool(restore_masked_secrets(document, {}))
        check_outbound_urls(tool, self._outbound)
        await self._check_name(tool, excluding=None)
        row = Tool(
            organization_id=self._principal.organization_id,
            user_id=self._principal.user_id,
            created_at=utcnow(),
        )
        return await self._store(row, tool, new=True)

    async def update(self, tool_id: int, patch: dict[str, Any]) -> StoredTool:
        """PATCH: ``function`` and ``server`` merge; lists and free-form maps are
        replaced. A masked secret sent back keeps the stored secret."""
        refuse_server_owned_fields(patch)
        row = await self._find(tool_id, for_update=True)
        stored = self._load(row).tool.model_dump(mode="json", by_alias=True)
        merged = merge_settings(CustomTool, stored, restore_masked_secrets(patch, stored))
        tool = parse_tool(merged)
        check_outbound_urls(tool, self._outbound)
        await self._check_name(tool, excluding=row.id)
        return await self._store(row, tool, new=False)

    async def delete(self, tool_id: int) -> None:
        """Soft delete; assistants that reference it simply stop getting it at call time."""
        row = await self._find(tool_id, for_update=True)
        row.deleted_at = utcnow()
        await self._tools.flush()


@dataclass(frozen=True, slots=True)
class ToolLeftOut:
    """A stored tool the assistant names that a call may not use, and why."""

    tool_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class CallTools:
    """The custom tools a call runs, and the stored ones it was refused."""

    tools: list[CustomTool]
    left_out: list[ToolLeftOut]


# One reason per kind of call, whatever the cause (deleted, another user's, never
# existed): the call record is read by the key that placed the call, and must not tell
# it which of the ids it cannot read exist.
_NOT_LIVE = "not a live tool of the assistant's organization"
_NOT_READABLE = "not a live tool that the key which placed the call can read"


async def tools_for_call(
    session: AsyncSession,
    box: SecretBox,
    assistant: StoredAssistant,
    *,
    placed_by: Principal | None = None,
) -> CallTools:
    """The assistant's inline ``custom_tools`` followed by its ``tool_ids`` tools (in
    ``tool_ids`` order), decrypted; on a name clash the inline tool wins.

    ``assistant`` carries the call's settings (overrides merged). A stored tool is used
    only while it is live (not deleted) and belongs to the assistant's organization;
    when the call was placed by an API principal (``placed_by``: a web or outbound
    call), it must also be one that principal can read, as its own repository query
    decides — a user-scoped key only its own user's tools, whoever put the id on the
    assistant (an organization-scoped key, or a user-scoped one before references were
    checked when saved). An inbound call has no principal: the assistant's organization
    decides, as the assistant and the number's binding are the organization's own
    configuration and every id saved on it is checked against whoever saved it. Every
    id left out is in ``left_out`` with the reason."""
    tools = parse_custom_tools(assistant.settings.tools_settings.custom_tools)
    names = {tool.name for tool in tools}
    tool_ids = assistant.settings.tool_ids
    organization_id = assistant.row.organization_id
    rows: Sequence[Tool]
    if placed_by is None:
        rows = await live_tools_of_organization(session, organization_id, tool_ids)
        reason = _NOT_LIVE
    else:
        reason = _NOT_READABLE
        same_organization = placed_by.organization_id == organization_id
        rows = (
            await ToolRepository(session, placed_by).readable(tool_ids) if same_organization else []
        )
    by_id = {row.id: row for row in rows}
    left_out: dict[int, ToolLeftOut] = {}
    for tool_id in tool_ids:
        row = by_id.get(tool_id)
        if row is None:
            left_out.setdefault(tool_id, ToolLeftOut(tool_id, reason))
            continue
        tool = _stored_tool(row, box)
        if tool.name not in names:
            names.add(tool.name)
            tools.append(tool)
    return CallTools(tools, list(left_out.values()))
