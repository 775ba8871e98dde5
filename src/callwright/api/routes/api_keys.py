"""API keys: create (shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from callwright.api.deps import AccountsDep, CurrentPrincipal
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.accounts.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/api-keys", tags=["api-keys"], route_class=CallwrightRoute)

KeyId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("", operation_id="create_api_key", status_code=201, responses=errors(401, 403, 422))
async def create_api_key(
    body: ApiKeyCreate, principal: CurrentPrincipal, accounts: AccountsDep
) -> ApiKeyCreated:
    """Create a key. The returned ``key`` is shown this once and stored only as a hash."""
    row, key = await accounts.create_api_key(principal, body.name, body.scope)
    return ApiKeyCreated.model_validate({**_fields(row), "key": key})


@router.get("", operation_id="list_api_keys", responses=errors(401))
async def list_api_keys(principal: CurrentPrincipal, accounts: AccountsDep) -> list[ApiKeyOut]:
    """Keys of the organization (a user-scoped key sees only its user's keys)."""
    return [
        ApiKeyOut.model_validate(row, from_attributes=True)
        for row in await accounts.list_api_keys(principal)
    ]


@router.delete("/{key_id}", operation_id="revoke_api_key", responses=errors(401, 403, 404, 422))
async def revoke_api_key(
    key_id: KeyId, principal: CurrentPrincipal, accounts: AccountsDep
) -> ApiKeyOut:
    """Revoke a key: it answers 401 from now on. Revoking twice is harmless."""
    row = await accounts.revoke_api_key(principal, key_id)
    return ApiKeyOut.model_validate(row, from_attributes=True)


def _fields(row: object) -> dict[str, object]:
    return ApiKeyOut.model_validate(row, from_attributes=True).model_dump()
