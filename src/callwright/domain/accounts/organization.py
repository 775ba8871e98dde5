"""The organization as a resource: its name and its concurrent-call limit, read by any
of its keys, changed only by organization-scoped ones (a user-scoped key answers 403)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.principal import Principal
from callwright.errors import Forbidden, NotFound, ValidationFailed
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import Organization

from .call_limit import LiveCallCount

__all__ = ["OrganizationPatch", "OrganizationService", "OrganizationView"]

# The largest limit accepted: beyond it a limit limits nothing a fleet could hold.
MAX_LIMIT = 100_000


class OrganizationView(BaseModel):
    id: int
    name: str
    max_concurrent_calls: int | None = Field(
        description="Calls the organization may hold at once across every server process "
        "and node: calls in progress plus calls issued but not yet connected (null: "
        "unlimited). Past it new calls are refused: 429 from the API, busy for an "
        "incoming phone call; campaigns wait."
    )
    live_calls: int = Field(description="Calls counted against the limit right now.")
    created_at: datetime
    updated_at: datetime


class OrganizationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Absent: unchanged (null is refused: an organization always has a name).
    name: Annotated[str, Field(min_length=1, max_length=200)] | SkipJsonSchema[None] = None
    max_concurrent_calls: Annotated[int, Field(ge=1, le=MAX_LIMIT)] | None = Field(
        default=None, description="A number of calls, or null for unlimited."
    )


class OrganizationService:
    def __init__(self, session: AsyncSession, principal: Principal, settings: Settings) -> None:
        self._session = session
        self._principal = principal
        self._live = LiveCallCount.from_settings(settings)

    async def _row(self) -> Organization:
        organization = await self._session.get(Organization, self._principal.organization_id)
        if organization is None:
            raise NotFound(f"organization {self._principal.organization_id} not found")
        return organization

    async def _view(self, organization: Organization) -> OrganizationView:
        live = await self._live.count(self._session, organization.id, utcnow())
        return OrganizationView(
            id=organization.id,
            name=organization.name,
            max_concurrent_calls=organization.max_concurrent_calls,
            live_calls=live,
            created_at=organization.created_at,
            updated_at=organization.updated_at,
        )

    async def get(self) -> OrganizationView:
        return await self._view(await self._row())

    async def update(self, patch: OrganizationPatch) -> OrganizationView:
        """Change what the patch names (``max_concurrent_calls: null`` lifts the
        limit; a field left out is left as it is). A lower limit than the calls up
        ends none of them: new calls wait until the count is under it."""
        if self._principal.scope != "organization":
            raise Forbidden("only an organization-scoped key can change the organization")
        organization = await self._row()
        fields = patch.model_fields_set
        if "name" in fields:
            if patch.name is None:
                raise ValidationFailed("name: an organization's name cannot be null")
            organization.name = patch.name
        if "max_concurrent_calls" in fields:
            organization.max_concurrent_calls = patch.max_concurrent_calls
        organization.updated_at = utcnow()
        await self._session.flush()
        return await self._view(organization)
