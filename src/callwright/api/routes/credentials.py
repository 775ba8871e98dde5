"""The Credentials API: an organization's keys for its vendors (OpenAI, Deepgram,
ElevenLabs, Twilio, ...), used by every assistant that has no key of its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from callwright.api.deps import CurrentPrincipal, DbSession, StateDep
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.credentials.schemas import (
    CredentialIn,
    CredentialPatch,
    CredentialResponse,
)
from callwright.domain.credentials.service import CredentialService, StoredCredential

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/credentials", tags=["credentials"], route_class=CallwrightRoute)

CredentialIdPath = Annotated[int, Path(description="The credential's id.", ge=1, le=2**63 - 1)]


async def get_credentials(
    session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> CredentialService:
    return CredentialService(session, principal, state.secret_box, state.settings)


CredentialsDep = Annotated[CredentialService, Depends(get_credentials)]


def _view(stored: StoredCredential) -> CredentialResponse:
    return CredentialResponse.model_validate(stored.public())


@router.get("", operation_id="list_credentials", responses=errors(401, 422))
async def list_credentials(credentials: CredentialsDep) -> list[CredentialResponse]:
    """The organization's credentials, one per provider at most, secrets masked."""
    return [_view(stored) for stored in await credentials.list()]


@router.post(
    "",
    operation_id="create_credential",
    status_code=201,
    responses=errors(401, 403, 409, 422, 502),
)
async def create_credential(body: CredentialIn, credentials: CredentialsDep) -> CredentialResponse:
    """Store a provider's credential for the organization (409 if it has one already).
    ``api_key`` for every provider but twilio (``base_url`` optional; azure also needs
    ``region`` or ``base_url``); twilio takes ``account_sid`` and ``auth_token``, which
    Twilio must accept (422 otherwise; 502 while it cannot be reached, nothing stored).
    Secrets are encrypted at rest and masked. Organization-scoped keys only."""
    return _view(await credentials.create(body.model_dump(exclude_unset=True)))


@router.get("/{credential_id}", operation_id="get_credential", responses=errors(401, 404, 422))
async def get_credential(
    credential_id: CredentialIdPath, credentials: CredentialsDep
) -> CredentialResponse:
    """Retrieve one credential, secrets masked."""
    return _view(await credentials.get(credential_id))


@router.patch(
    "/{credential_id}",
    operation_id="update_credential",
    responses=errors(401, 403, 404, 422, 502),
)
async def update_credential(
    credential_id: CredentialIdPath, body: CredentialPatch, credentials: CredentialsDep
) -> CredentialResponse:
    """Change the fields sent (null removes an optional one). A masked secret sent back
    keeps the stored secret; the provider cannot change. Changed Twilio credentials are
    proven with Twilio as on create. Organization-scoped keys only."""
    return _view(await credentials.update(credential_id, body.model_dump(exclude_unset=True)))


@router.delete(
    "/{credential_id}",
    operation_id="delete_credential",
    status_code=204,
    responses=errors(401, 403, 404, 422),
)
async def delete_credential(credential_id: CredentialIdPath, credentials: CredentialsDep) -> None:
    """Delete it: assistants without their own key fall back to the server's environment.
    Organization-scoped keys only."""
    await credentials.delete(credential_id)
