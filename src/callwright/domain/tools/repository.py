"""Every query on tools, already filtered to what the principal may see: its
organization, not deleted, and its own user's rows for a user-scoped key."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.store.models import Tool

__all__ = ["ToolRepository", "live_tools_of_organization"]


class ToolRepository:
    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self._session = session
        self._principal = principal

    def _visible(self) -> Select[Tool]:
        query = select(Tool).where(
            Tool.organization_id == self._principal.organization_id,
            Tool.deleted_at.is_(None),
        )
        if self._principal.scope == "user":
            query = query.where(Tool.user_id == self._principal.user_id)
        return query

    async def get(self, tool_id: int, *, for_update: bool = False) -> Tool | None:
        query = self._visible().where(Tool.id == tool_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.execute(query)).scalar_one_or_none()

    async def list(self, *, skip: int, limit: int) -> Sequence[Tool]:
        query = self._visible().order_by(Tool.created_at.desc(), Tool.id.desc())
        return (await self._session.execute(query.offset(skip).limit(limit))).scalars().all()

    async def name_in_use(self, name: str, *, excluding: int | None) -> bool:
        # Uniqueness is per organization, whatever the principal may see.
        query = select(Tool.id).where(
            Tool.organization_id == self._principal.organization_id,
            Tool.deleted_at.is_(None),
            Tool.name == name,
        )
        if excluding is not None:
            query = query.where(Tool.id != excluding)
        return (await self._session.execute(query.limit(1))).first() is not None

    async def readable_ids(self, tool_ids: Collection[int]) -> set[int]:
        """Which of ``tool_ids`` the principal may read, and so reference: live tools
        of its organization, and only its own user's for a user-scoped key."""
        if not tool_ids:
            return set()
        query = self._visible().where(Tool.id.in_(set(tool_ids)))
        return set((await self._session.execute(query.with_only_columns(Tool.id))).scalars())

    async def readable(self, tool_ids: Collection[int]) -> Sequence[Tool]:
        """The tools among ``tool_ids`` the principal may read (any order)."""
        if not tool_ids:
            return []
        query = self._visible().where(Tool.id.in_(set(tool_ids)))
        return (await self._session.execute(query)).scalars().all()

    async def add(self, tool: Tool) -> Tool:
        if tool.organization_id != self._principal.organization_id:
            raise ValueError("a tool can only be added to the principal's organization")
        self._session.add(tool)
        await self._session.flush()
        return tool

    async def flush(self) -> None:
        await self._session.flush()


async def live_tools_of_organization(
    session: AsyncSession, organization_id: int, tool_ids: Collection[int]
) -> Sequence[Tool]:
    """The live tools among ``tool_ids`` in one organization: for the runtime that
    starts calls, never for a request's principal."""
    if not tool_ids:
        return []
    query = select(Tool).where(
        Tool.organization_id == organization_id,
        Tool.deleted_at.is_(None),
        Tool.id.in_(set(tool_ids)),
    )
    return (await session.execute(query)).scalars().all()
