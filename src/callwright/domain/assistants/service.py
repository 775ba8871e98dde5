"""Rules of the Assistant resource: identifiers, defaults, merging, secrets, soft delete.

The stored row keeps identity and scope in columns and every setting in one JSON
document whose secrets are encrypted. ``AssistantService`` hands out ``StoredAssistant``
values: the row plus its decrypted settings, from which views are rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.domain.references import check_tool_ids
from callwright.domain.secrets import (
    decrypt_secrets,
    encrypt_secrets,
    restore_masked_secrets,
)
from callwright.domain.tools.repository import ToolRepository
from callwright.domain.tools.schemas import parse_custom_tools
from callwright.domain.types import is_external_id
from callwright.domain.validation import (
    check_outbound_urls,
    outbound_urls,
    validate_as,
    validation_details,
)
from callwright.domain.views import public_view
from callwright.engine.builtin_tools import BUILTIN_TOOL_NAMES, SEARCH_KNOWLEDGE
from callwright.errors import Conflict, MalformedId, NotFound, ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.security.outbound import STRICT, OutboundPolicy
from callwright.store.base import utcnow
from callwright.store.models import Assistant

from .repository import AssistantRepository
from .schemas import AssistantIn
from .versions import VersionRepository, changed_paths, record_version, version_view

__all__ = [
    "AssistantService",
    "StoredAssistant",
    "check_rules",
    "load_assistant_for_call",
    "parse_assistant_identifier",
]

_MAX_DB_ID = 2**63 - 1
# Columns of the row; everything else lives in the JSON settings document.
_COLUMN_FIELDS = ("name", "description", "is_active", "external_id")


@dataclass(frozen=True, slots=True)
class StoredAssistant:
    row: Assistant
    settings: AssistantIn  # decrypted: never render this directly

    def public(self) -> dict[str, Any]:
        """The canonical resource (seed 000 shape), secrets masked."""
        return public_view(self.settings.model_dump(mode="json"), self.row)


def parse_assistant_identifier(raw: str) -> int | str:
    """A database id (digits) or an external id; anything else is a 400."""
    if raw.isascii() and raw.isdigit():
        value = int(raw)
        if 1 <= value <= _MAX_DB_ID:
            return value
        raise MalformedId(f"assistant id {raw!r} is out of range")
    if is_external_id(raw):
        return raw
    raise MalformedId(
        f"{raw!r} is neither an assistant id (a positive integer) nor an external id "
        "(letters, digits and _ . : -, up to 128 characters)"
    )


def merge_settings(
    model: type[BaseModel], stored: dict[str, Any], patch: dict[str, Any]
) -> dict[str, Any]:
    """Typed nested settings objects merge; lists and free-form maps are replaced."""
    merged = dict(stored)
    for key, value in patch.items():
        field = model.model_fields.get(key)
        annotation = field.annotation if field is not None else None
        if get_origin(annotation) in (Union, UnionType):
            # An optional settings object (``X | None``) merges like ``X`` once set.
            present = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = present[0] if len(present) == 1 else None
        if (
            isinstance(annotation, type)
            and issubclass(annotation, BaseModel)
            and isinstance(value, dict)
            and isinstance(stored.get(key), dict)
        ):
            merged[key] = merge_settings(annotation, stored[key], value)
        else:
            merged[key] = value
    return merged


def check_rules(
    settings: AssistantIn, outbound: OutboundPolicy, *, at: Sequence[int | str] = ()
) -> None:
    """Rules across fields, checked on the final document (after a merge); ``at`` is
    where the settings sit in the request body (call overrides)."""
    # Custom tools are free-form in the resource; here they must be valid function
    # tools, so that a bad tool is a 422 now and not a failure mid-call.
    tools = parse_custom_tools(settings.tools_settings.custom_tools)
    # Every URL the server would call for this assistant, free-form places included.
    also: list[tuple[tuple[int | str, ...], str]] = [
        ((*at, "tools_settings", "custom_tools", index, *location), url)
        for index, tool in enumerate(tools)
        for location, url in outbound_urls(tool)
    ]
    voice_endpoint = settings.tts_settings.provider_config.get("base_url")
    if isinstance(voice_endpoint, str):
        also.append(((*at, "tts_settings", "provider_config", "base_url"), voice_endpoint))
    check_outbound_urls(settings, outbound, at=at, also=also)
    _check_enabled_tools(settings, {tool.name for tool in tools}, at)
    rag = settings.rag_settings
    if rag.chunk_overlap >= rag.chunk_size:
        raise ValidationFailed(
            "rag_settings.chunk_overlap must be smaller than rag_settings.chunk_size",
            details=[
                {
                    "field": "rag_settings.chunk_overlap",
                    "message": "must be smaller than chunk_size",
                    "type": "value_error",
                    "loc": ["body", "rag_settings", "chunk_overlap"],
                }
            ],
        )


class AssistantService:
    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        box: SecretBox,
        *,
        outbound: OutboundPolicy = STRICT,
    ) -> None:
        self._session = session
        self._principal = principal
        self._box = box
        self._outbound = outbound
        self._assistants = AssistantRepository(session, principal)
        self._versions = VersionRepository(session, principal)
        self._tools = ToolRepository(session, principal)

    # -- reading ---------------------------------------------------------------------

    def _load(self, row: Assistant) -> StoredAssistant:
        document = decrypt_secrets(dict(row.config), self._box)
        document.update({field: getattr(row, field) for field in _COLUMN_FIELDS})
        # Fields added since the row was written take their defaults here.
        return StoredAssistant(row, AssistantIn.model_validate(document))

    async def _find(self, identifier: str, *, for_update: bool = False) -> Assistant:
        parsed = parse_assistant_identifier(identifier)
        if isinstance(parsed, int):
            row = await self._assistants.get(parsed, for_update=for_update)
        else:
            row = await self._assistants.get_by_external_id(parsed, for_update=for_update)
        if row is None:
            raise NotFound(f"assistant {identifier} not found")
        return row

    async def get(self, identifier: str) -> StoredAssistant:
        return self._load(await self._find(identifier))

    async def list(
        self,
        *,
        skip: int,
        limit: int,
        active_only: bool,
        mine_only: bool,
        name_contains: str | None = None,
    ) -> list[StoredAssistant]:
        rows = await self._assistants.list(
            skip=skip,
            limit=limit,
            active_only=active_only,
            mine_only=mine_only,
            name_contains=name_contains,
        )
        return [self._load(row) for row in rows]

    # -- writing ---------------------------------------------------------------------

    async def _check_external_id(self, settings: AssistantIn, excluding: int | None) -> None:
        if settings.external_id and await self._assistants.external_id_in_use(
            settings.external_id, excluding=excluding
        ):
            raise Conflict(f"external_id {settings.external_id!r} is already in use")

    def _write(self, row: Assistant, settings: AssistantIn) -> None:
        document = settings.model_dump(mode="json")
        for field in _COLUMN_FIELDS:
            setattr(row, field, document.pop(field))
        row.config = encrypt_secrets(document, self._box)
        row.updated_at = utcnow()

    async def create(self, settings: AssistantIn) -> StoredAssistant:
        # Nothing is stored yet, so a masked value here can only be a mistake.
        restore_masked_secrets(settings.model_dump(mode="json"), {})
        check_rules(settings, self._outbound)
        await self._check_external_id(settings, excluding=None)
        await check_tool_ids(self._tools, settings.tool_ids)
        row = Assistant(
            organization_id=self._principal.organization_id,
            user_id=self._principal.user_id,
            created_at=utcnow(),
        )
        self._write(row, settings)
        row.version = 0
        await self._assistants.add(row)
        self._record(row, [], action="create")
        await self._assistants.flush()
        return self._load(row)

    async def replace(self, identifier: str, body: dict[str, Any]) -> StoredAssistant:
        """PUT: the body is the whole assistant; masked secrets keep their stored value."""
        row = await self._find(identifier, for_update=True)
        stored = self._load(row).settings.model_dump(mode="json")
        settings = validate_as(AssistantIn, restore_masked_secrets(body, stored))
        return await self._save(row, settings)

    async def update(self, identifier: str, patch: dict[str, Any]) -> StoredAssistant:
        """PATCH: ``patch`` holds only the fields sent."""
        row = await self._find(identifier, for_update=True)
        stored = self._load(row).settings.model_dump(mode="json")
        merged = merge_settings(AssistantIn, stored, restore_masked_secrets(patch, stored))
        settings = validate_as(AssistantIn, merged)
        return await self._save(row, settings)

    async def _save(
        self,
        row: Assistant,
        settings: AssistantIn,
        *,
        action: str = "update",
        restored_from: int | None = None,
    ) -> StoredAssistant:
        check_rules(settings, self._outbound)
        await self._check_external_id(settings, excluding=row.id)
        await check_tool_ids(self._tools, settings.tool_ids, already=row.config.get("tool_ids", []))
        before = self._load(row).settings.model_dump(mode="json")
        self._write(row, settings)
        changes = changed_paths(before, settings.model_dump(mode="json"))
        self._record(row, changes, action=action, restored_from=restored_from)
        await self._assistants.flush()
        return self._load(row)

    def _record(
        self,
        row: Assistant,
        changes: Sequence[dict[str, str]],
        *,
        action: str,
        restored_from: int | None = None,
    ) -> None:
        document = {**row.config, **{field: getattr(row, field) for field in _COLUMN_FIELDS}}
        record_version(
            self._session,
            row,
            document,
            changes,
            self._principal,
            action=action,
            restored_from=restored_from,
        )

    # -- versions --------------------------------------------------------------------

    def _plain(self, stored_document: dict[str, Any]) -> dict[str, Any]:
        return decrypt_secrets(dict(stored_document), self._box)

    async def versions(self, identifier: str, *, skip: int, limit: int) -> Sequence[dict[str, Any]]:
        """The assistant's versions, newest first, without their settings."""
        row = await self._find(identifier)
        rows = await self._versions.list(row.id, skip=skip, limit=limit)
        return [version_view(version, None) for version in rows]

    async def version(self, identifier: str, number: int) -> dict[str, Any]:
        """One version with its whole settings document, secrets masked."""
        row = await self._find(identifier)
        version = await self._versions.get(row.id, number)
        if version is None:
            raise NotFound(f"assistant {identifier} has no version {number}")
        return version_view(version, self._plain(version.settings))

    async def restore(self, identifier: str, number: int) -> StoredAssistant:
        """Make version ``number``'s settings the assistant's again, as a new version."""
        row = await self._find(identifier, for_update=True)
        version = await self._versions.get(row.id, number)
        if version is None:
            raise NotFound(f"assistant {identifier} has no version {number}")
        settings = validate_as(AssistantIn, self._plain(version.settings))
        return await self._save(row, settings, action="restore", restored_from=number)

    async def delete(self, identifier: str) -> None:
        """Soft delete: the row stays so that calls keep their history."""
        row = await self._find(identifier, for_update=True)
        row.deleted_at = utcnow()
        row.is_active = False
        await self._assistants.flush()

    async def duplicate(self, identifier: str, name: str | None) -> StoredAssistant:
        source = self._load(await self._find(identifier)).settings
        copy = source.model_copy(
            update={"name": name or f"{source.name} (copy)"[:200], "external_id": None}
        )
        return await self.create(validate_as(AssistantIn, copy.model_dump(mode="json")))


def _check_enabled_tools(
    settings: AssistantIn, custom_names: set[str], at: Sequence[int | str]
) -> None:
    """Every name in ``tools_settings.enabled_tools`` is a built-in tool or one of the
    assistant's custom tools, and acts: ``search_knowledge`` needs the knowledge base."""
    known = BUILTIN_TOOL_NAMES | custom_names
    details = []
    for index, name in enumerate(settings.tools_settings.enabled_tools):
        if name not in known:
            message = (
                f"unknown tool {name!r}: enabled_tools names built-in tools "
                f"({', '.join(sorted(BUILTIN_TOOL_NAMES))}) and this assistant's custom_tools"
            )
        elif name == SEARCH_KNOWLEDGE and not settings.rag_settings.enabled:
            message = "search_knowledge needs rag_settings.enabled: true (a knowledge base)"
        else:
            continue
        location = [*at, "tools_settings", "enabled_tools", index]
        details.append({"loc": location, "msg": message, "type": "value_error"})
    if details:
        rendered = validation_details(details)
        raise ValidationFailed(
            "; ".join(f"{d['field']}: {d['message']}" for d in rendered), details=rendered
        )


async def load_assistant_for_call(
    session: AsyncSession, box: SecretBox, assistant_id: int
) -> StoredAssistant:
    """An assistant by id in any organization, secrets decrypted: for the runtime that
    starts calls (and the admin CLI), never for a request's principal."""
    row = await session.get(Assistant, assistant_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"assistant {assistant_id} not found")
    principal = Principal(row.organization_id, row.user_id or 0, "organization", "api_key")
    return AssistantService(session, principal, box)._load(row)
