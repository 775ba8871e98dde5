"""Reading an organization's stored credentials, for the runtime (never for a
request's principal: the API goes through the credentials service)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.secrets import decrypt_secrets
from callwright.security.crypto import SecretBox
from callwright.store.models import ProviderCredential

__all__ = ["organization_credential", "organization_credentials"]


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


async def organization_credentials(
    session: AsyncSession, box: SecretBox, organization_id: int
) -> dict[str, dict[str, Any]]:
    """Every live credential of the organization, decrypted, by provider (one query:
    a call resolves all of its providers at once)."""
    query = select(ProviderCredential.provider, ProviderCredential.config).where(
        ProviderCredential.organization_id == organization_id,
        ProviderCredential.deleted_at.is_(None),
    )
    rows = (await session.execute(query)).all()
    return {provider: decrypt_secrets(config, box) for provider, config in rows}
