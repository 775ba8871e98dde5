"""The organization: its settings (name, concurrent-call limit) and its signing secret,
what verifies the signatures on its webhooks, tool calls and end-call requests
(``X-Callwright-Signature``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from callwright.api.deps import CurrentPrincipal, DbSession, StateDep
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.accounts.organization import (
    OrganizationPatch,
    OrganizationService,
    OrganizationView,
)
from callwright.domain.signing_secrets import SigningSecret, SigningSecretService
from callwright.domain.webhooks.schemas import SigningSecretOut
from callwright.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/organization", tags=["organization"], route_class=CallwrightRoute
)


async def get_signing(
    session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> SigningSecretService:
    return SigningSecretService(session, principal, state.settings)


SigningDep = Annotated[SigningSecretService, Depends(get_signing)]


def _view(secret: SigningSecret, response: Response) -> SigningSecretOut:
    # A secret must not linger in caches between here and the user.
    response.headers["Cache-Control"] = "no-store"
    return SigningSecretOut(
        signing_secret=secret.secret,
        source=secret.source,
        signature_header=SIGNATURE_HEADER,
        timestamp_header=TIMESTAMP_HEADER,
    )


@router.get("/signing-secret", operation_id="get_signing_secret", responses=errors(401, 403))
async def get_signing_secret(signing: SigningDep, response: Response) -> SigningSecretOut:
    """The secret, whole: receivers need it to verify signatures. Organization-scoped
    keys only (a user-scoped key gets 403)."""
    return _view(await signing.get(), response)


@router.post(
    "/signing-secret/rotate", operation_id="rotate_signing_secret", responses=errors(401, 403)
)
async def rotate_signing_secret(signing: SigningDep, response: Response) -> SigningSecretOut:
    """Replace the secret with a new random one; everything this server process sends
    after this request is signed with it (events already queued included), other
    processes within 5 s. Organization-scoped keys only."""
    return _view(await signing.rotate(), response)


async def get_organization_service(
    session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> OrganizationService:
    return OrganizationService(session, principal, state.settings)


OrganizationDep = Annotated[OrganizationService, Depends(get_organization_service)]


@router.get("", operation_id="get_organization", responses=errors(401))
async def get_organization(organization: OrganizationDep) -> OrganizationView:
    """The caller's organization: its name, its concurrent-call limit (null: unlimited)
    and the calls counted against it now, across every server process and node."""
    return await organization.get()


@router.patch("", operation_id="update_organization", responses=errors(401, 403, 422))
async def update_organization(
    patch: OrganizationPatch, organization: OrganizationDep
) -> OrganizationView:
    """Change the organization's name or concurrent-call limit (``null``: unlimited).
    Organization-scoped keys only. A limit below the calls up ends none of them."""
    return await organization.update(patch)
