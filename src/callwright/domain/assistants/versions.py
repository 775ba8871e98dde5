"""Assistant versions: what each create, update and restore of an assistant stored.

A version holds the whole settings document as the row stored it (secrets still
encrypted) and the JSON paths that changed from the version before, computed on the
decrypted documents and kept as paths only, so that no secret's value leaves the
document. Versions are read through the assistant: whoever cannot see the assistant
cannot see its versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.domain.secrets import mask_secrets
from callwright.store.base import utcnow
from callwright.store.models import Assistant, AssistantVersion

__all__ = ["VersionRepository", "changed_paths", "record_version", "version_view"]


def changed_paths(before: Any, after: Any, prefix: str = "") -> list[dict[str, str]]:
    """The JSON paths where ``after`` differs from ``before``: objects are walked key by
    key, anything else (lists included) compares whole. Sorted by path."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[dict[str, str]] = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in before:
                changes.append({"path": path, "change": "added"})
            elif key not in after:
                changes.append({"path": path, "change": "removed"})
            else:
                changes.extend(changed_paths(before[key], after[key], path))
        return changes
    if before != after:
        return [{"path": prefix or "$", "change": "changed"}]
    return []


def record_version(
    session: AsyncSession,
    row: Assistant,
    stored_document: dict[str, Any],
    changes: Sequence[dict[str, str]],
    principal: Principal,
    *,
    action: str,
    restored_from: int | None = None,
) -> AssistantVersion:
    """Add the assistant's next version (in the caller's transaction) and advance the
    row's ``version``. ``stored_document`` is the row's document as stored (encrypted)."""
    row.version = (row.version or 0) + 1
    version = AssistantVersion(
        organization_id=row.organization_id,
        assistant_id=row.id,
        number=row.version,
        action=action,
        restored_from=restored_from,
        user_id=principal.user_id or None,
        api_key_id=principal.api_key_id,
        auth_method=principal.auth_method,
        settings=stored_document,
        changes=list(changes),
        created_at=utcnow(),
    )
    session.add(version)
    return version


def version_view(
    version: AssistantVersion, plain_settings: dict[str, Any] | None
) -> dict[str, Any]:
    """The public shape of a version; ``plain_settings`` (decrypted) is shown masked,
    and left out of list items (None)."""
    body: dict[str, Any] = {
        "assistant_id": version.assistant_id,
        "version": version.number,
        "action": version.action,
        "restored_from": version.restored_from,
        "created_at": version.created_at,
        "created_by": {
            "user_id": version.user_id,
            "api_key_id": version.api_key_id,
            "auth_method": version.auth_method,
        },
        "changes": version.changes,
    }
    if plain_settings is not None:
        body["settings"] = mask_secrets(plain_settings)
    return body


class VersionRepository:
    """Every query on versions, for an assistant the principal was already allowed to
    read (``AssistantRepository``); the organization is checked again all the same."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    async def list(self, assistant_id: int, *, skip: int, limit: int) -> Sequence[AssistantVersion]:
        query = (
            select(AssistantVersion)
            .where(
                AssistantVersion.assistant_id == assistant_id,
                AssistantVersion.organization_id == self._principal.organization_id,
            )
            .order_by(AssistantVersion.number.desc())
            .offset(skip)
            .limit(limit)
        )
        return (await self._session.execute(query)).scalars().all()

    async def get(self, assistant_id: int, number: int) -> AssistantVersion | None:
        query = select(AssistantVersion).where(
            AssistantVersion.assistant_id == assistant_id,
            AssistantVersion.organization_id == self._principal.organization_id,
            AssistantVersion.number == number,
        )
        return (await self._session.execute(query)).scalar_one_or_none()
