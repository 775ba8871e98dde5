"""How a stored, organization-owned resource is shown to its owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from callwright.domain.secrets import mask_secrets

__all__ = ["OwnedRow", "public_view"]


class OwnedRow(Protocol):
    id: int
    organization_id: int
    user_id: int | None
    created_at: datetime
    updated_at: datetime


def public_view(document: dict[str, Any], row: OwnedRow) -> dict[str, Any]:
    """``document`` with its secrets masked, plus the row's identity and timestamps."""
    body = mask_secrets(document)
    body.update(
        id=row.id,
        organization_id=row.organization_id,
        user_id=row.user_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
    return body
