"""Reading an organization's stored credentials, for the runtime (never for a
request's principal: the API goes through the credentials service)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.secrets import decrypt_secrets
from callwright.security.crypto import SecretBox
from callwright.store.models import ProviderCredential

__all__ = ["organization_credential"]


async def organization_credential(
    session: AsyncSession, box: SecretBox, organization_id: int, provider: str
) -> dict[str, Any] | None:
    """The organization's live credential for ``provider``, decrypted, or None."""
    query = select(ProviderCredential.config).where(
        ProviderCredential.organization_id == organization_id,
        ProviderCredential.provider == provider,
        ProviderCredential.deleted_at.is_(None),
    )
    config = (await session.execute(query)).scalar_one_or_none()
    return decrypt_secrets(config, box) if config is not None else None
