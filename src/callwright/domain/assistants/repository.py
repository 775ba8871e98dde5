"""Every query on assistants, already filtered to what the principal may see:
its organization, not deleted, and its own user's rows for a user-scoped key."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.models import Assistant

__all__ = ["AssistantRepository"]


class AssistantRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[Assistant]:
        query = select(Assistant).where(
            Assistant.organization_id == self._principal.organization_id,
            Assistant.deleted_at.is_(None),
        )
        if self._principal.scope == "user":
            query = query.where(Assistant.user_id == self._principal.user_id)
        return query

    async def get(self, assistant_id: int, *, for_update: bool = False) -> Assistant | None:
        query = self._visible().where(Assistant.id == assistant_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def get_by_external_id(
        self, external_id: str, *, for_update: bool = False
    ) -> Assistant | None:
        query = self._visible().where(Assistant.external_id == external_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(
        self,
        *,
        skip: int,
        limit: int,
        active_only: bool,
        mine_only: bool,
        name_contains: str | None = None,
    ) -> Sequence[Assistant]:
        query = self._visible()
        if name_contains:
            # Case-insensitive substring; LIKE's wildcards in the text match themselves.
            escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Assistant.name.ilike(f"%{escaped}%", escape="\\"))
        if active_only:
            query = query.where(Assistant.is_active.is_(True))
        if mine_only:
            query = query.where(Assistant.user_id == self._principal.user_id)
        query = query.order_by(Assistant.created_at.desc(), Assistant.id.desc())
        return (await self._session.execute(query.offset(skip).limit(limit))).scalars().all()

    async def external_id_in_use(self, external_id: str, *, excluding: int | None) -> bool:
        # Uniqueness is per organization, whatever the principal may see.
        query = select(Assistant.id).where(
            Assistant.organization_id == self._principal.organization_id,
            Assistant.deleted_at.is_(None),
            Assistant.external_id == external_id,
        )
        if excluding is not None:
            query = query.where(Assistant.id != excluding)
        return (await self._session.execute(query.limit(1))).first() is not None

    async def add(self, assistant: Assistant) -> Assistant:
        if assistant.organization_id != self._principal.organization_id:
            raise ValueError("an assistant can only be added to the principal's organization")
        self._session.add(assistant)
        await self._session.flush()
        return assistant

    async def flush(self) -> None:
        await self._session.flush()
