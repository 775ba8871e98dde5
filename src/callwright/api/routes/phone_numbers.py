"""The Phone Numbers API: carrier numbers and the assistant each one rings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from callwright.api.deps import CurrentPrincipal, DbSession, StateDep, public_base_url
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.phone_numbers.schemas import (
    PhoneNumberIn,
    PhoneNumberPatch,
    PhoneNumberResponse,
)
from callwright.domain.phone_numbers.service import PhoneNumberService, phone_number_view
from callwright.store.models import PhoneNumber

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1/phone-numbers", tags=["phone-numbers"], route_class=CallwrightRoute
)

NumberIdPath = Annotated[int, Path(description="The phone number's id.", ge=1, le=2**63 - 1)]


async def get_numbers(
    request: Request, session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> PhoneNumberService:
    return PhoneNumberService(
        session,
        principal,
        state.secret_box,
        state.settings,
        public_base_url(state.settings, request),
    )


NumbersDep = Annotated[PhoneNumberService, Depends(get_numbers)]


def _view(row: PhoneNumber, numbers: PhoneNumberService) -> PhoneNumberResponse:
    return PhoneNumberResponse.model_validate(phone_number_view(row, numbers.public_base))


@router.get("", operation_id="list_phone_numbers", responses=errors(401, 422))
async def list_phone_numbers(
    numbers: NumbersDep,
    state: StateDep,
    skip: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PhoneNumberResponse]:
    """List the organization's numbers, newest first."""
    return [_view(row, numbers) for row in await numbers.list(skip=skip, limit=limit)]


@router.post(
    "",
    operation_id="create_phone_number",
    status_code=201,
    responses=errors(401, 409, 422, 502),
)
async def create_phone_number(
    body: PhoneNumberIn, numbers: NumbersDep, state: StateDep
) -> PhoneNumberResponse:
    """Register a Twilio number; with ``configure_webhook`` its voice webhook and status
    callback are pointed at this server through Twilio's API."""
    return _view(await numbers.create(body), numbers)


@router.get("/{number_id}", operation_id="get_phone_number", responses=errors(401, 404, 422))
async def get_phone_number(
    number_id: NumberIdPath, numbers: NumbersDep, state: StateDep
) -> PhoneNumberResponse:
    """One number."""
    return _view(await numbers.get(number_id), numbers)


@router.patch(
    "/{number_id}", operation_id="update_phone_number", responses=errors(401, 404, 422, 502)
)
async def update_phone_number(
    number_id: NumberIdPath, body: PhoneNumberPatch, numbers: NumbersDep, state: StateDep
) -> PhoneNumberResponse:
    """Assign the number to another assistant (or none), rename it, or re-point its
    webhook."""
    return _view(await numbers.update(number_id, body), numbers)


@router.delete(
    "/{number_id}",
    operation_id="delete_phone_number",
    status_code=204,
    responses=errors(401, 404, 422),
)
async def delete_phone_number(number_id: NumberIdPath, numbers: NumbersDep) -> None:
    """Release the number: calls to it are refused from now on."""
    await numbers.delete(number_id)
