"""Every query on credentials, already filtered to what the principal may see: its
organization's live rows. Credentials belong to the organization, not to a user."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.models import ProviderCredential

__all__ = ["CredentialRepository"]


class CredentialRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[ProviderCredential]:
        return select(ProviderCredential).where(
            ProviderCredential.organization_id == self._principal.organization_id,
            ProviderCredential.deleted_at.is_(None),
        )

    async def get(
        self, credential_id: int, *, for_update: bool = False
    ) -> ProviderCredential | None:
        query = self._visible().where(ProviderCredential.id == credential_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(self) -> Sequence[ProviderCredential]:
        # At most one per provider: a short list, in a stable order.
        query = self._visible().order_by(ProviderCredential.provider)
        return (await self._session.execute(query)).scalars().all()

    async def provider_in_use(self, provider: str) -> bool:
        query = self._visible().where(ProviderCredential.provider == provider)
        return (await self._session.execute(query.limit(1))).first() is not None

    async def add(self, credential: ProviderCredential) -> ProviderCredential:
        if credential.organization_id != self._principal.organization_id:
            raise ValueError("a credential can only be added to the principal's organization")
        self._session.add(credential)
        await self._session.flush()
        return credential

    async def flush(self) -> None:
        await self._session.flush()
