"""The Campaigns API: batches of outbound calls, their recipients and their progress."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from callwright.api.deps import CurrentPrincipal, DbSession, StateDep
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.campaigns.do_not_call import DoNotCallService
from callwright.domain.campaigns.schemas import (
    CampaignIn,
    CampaignPatch,
    CampaignResponse,
    DoNotCallIn,
    DoNotCallResponse,
    RecipientResponse,
    RecipientsReport,
)
from callwright.domain.campaigns.service import CampaignService, campaign_view, recipient_view
from callwright.domain.types import E164_PATTERN
from callwright.store.models import Campaign

__all__ = ["do_not_call_router", "router"]

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], route_class=CallwrightRoute)

CampaignIdPath = Annotated[int, PathParam(description="The campaign's id.", ge=1, le=2**63 - 1)]
RecipientStatus = Literal[
    "pending", "in-progress", "retrying", "completed", "failed", "do-not-call", "canceled"
]


async def get_campaigns(
    session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> CampaignService:
    return CampaignService(session, principal, state.secret_box, state.settings)


CampaignsDep = Annotated[CampaignService, Depends(get_campaigns)]


async def _view(row: Campaign, campaigns: CampaignService) -> CampaignResponse:
    counts = await campaigns.counts([row])
    return CampaignResponse.model_validate(campaign_view(row, counts[row.id]))


@router.get("", operation_id="list_campaigns", responses=errors(401, 422))
async def list_campaigns(
    campaigns: CampaignsDep,
    skip: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CampaignResponse]:
    """The organization's campaigns, newest first, with their progress."""
    rows = await campaigns.list(skip=skip, limit=limit)
    counts = await campaigns.counts(rows)
    return [CampaignResponse.model_validate(campaign_view(row, counts[row.id])) for row in rows]


@router.post("", operation_id="create_campaign", status_code=201, responses=errors(401, 422))
async def create_campaign(body: CampaignIn, campaigns: CampaignsDep) -> CampaignResponse:
    """Create a draft campaign; upload its recipients, then start it."""
    return await _view(await campaigns.create(body), campaigns)


@router.get("/{campaign_id}", operation_id="get_campaign", responses=errors(401, 404, 422))
async def get_campaign(campaign_id: CampaignIdPath, campaigns: CampaignsDep) -> CampaignResponse:
    """One campaign and its progress."""
    return await _view(await campaigns.get(campaign_id), campaigns)


@router.patch(
    "/{campaign_id}", operation_id="update_campaign", responses=errors(401, 404, 409, 422)
)
async def update_campaign(
    campaign_id: CampaignIdPath, body: CampaignPatch, campaigns: CampaignsDep
) -> CampaignResponse:
    """Change a draft or paused campaign."""
    return await _view(await campaigns.update(campaign_id, body), campaigns)


@router.delete(
    "/{campaign_id}",
    operation_id="delete_campaign",
    status_code=204,
    responses=errors(401, 404, 409, 422),
)
async def delete_campaign(campaign_id: CampaignIdPath, campaigns: CampaignsDep) -> None:
    """Delete a campaign that is not running or paused (cancel it first)."""
    await campaigns.delete(campaign_id)


@router.post(
    "/{campaign_id}/recipients",
    operation_id="add_campaign_recipients",
    responses=errors(401, 404, 409, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "number": {"type": "string"},
                                "timezone": {"type": "string"},
                                "variables": {"type": "object"},
                            },
                            "required": ["number"],
                        },
                    }
                },
            },
        }
    },
)
async def add_campaign_recipients(
    campaign_id: CampaignIdPath, request: Request, campaigns: CampaignsDep
) -> RecipientsReport:
    """Upload recipients as CSV (a ``number`` column, an optional ``timezone`` column,
    every other column a template variable) or JSON (a list of ``{number, timezone?,
    variables?}``). Valid rows are added; the report names each rejected row and why."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    return await campaigns.add_recipients(campaign_id, body, content_type)


@router.get(
    "/{campaign_id}/recipients",
    operation_id="list_campaign_recipients",
    responses=errors(401, 404, 422),
)
async def list_campaign_recipients(
    campaign_id: CampaignIdPath,
    campaigns: CampaignsDep,
    status: Annotated[RecipientStatus | None, Query(description="Only rows in this state.")] = None,
    skip: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[RecipientResponse]:
    """Recipients in upload order: status, attempts, last outcome and every call id."""
    rows = await campaigns.recipients(campaign_id, status=status, skip=skip, limit=limit)
    return [RecipientResponse.model_validate(recipient_view(row)) for row in rows]


def _control(action: str, summary: str) -> None:
    async def handler(campaign_id: CampaignIdPath, campaigns: CampaignsDep) -> CampaignResponse:
        row = await getattr(campaigns, action)(campaign_id)
        return await _view(row, campaigns)

    handler.__doc__ = summary
    router.add_api_route(
        f"/{{campaign_id}}/{action}",
        handler,
        methods=["POST"],
        operation_id=f"{action}_campaign",
        responses=errors(401, 404, 409, 422),
        response_model=CampaignResponse,
    )


_control("start", "Start calling a draft campaign's recipients.")
_control("pause", "Stop placing new calls; calls up go on and their outcomes are recorded.")
_control("resume", "Place calls again.")
_control(
    "cancel",
    "End the campaign: recipients not yet called are canceled, calls up finish unretried.",
)


do_not_call_router = APIRouter(
    prefix="/api/v1/do-not-call", tags=["campaigns"], route_class=CallwrightRoute
)


async def get_do_not_call(session: DbSession, principal: CurrentPrincipal) -> DoNotCallService:
    return DoNotCallService(session, principal)


DoNotCallDep = Annotated[DoNotCallService, Depends(get_do_not_call)]
NumberPath = Annotated[
    str, PathParam(pattern=E164_PATTERN, description="The number in E.164 form ('+' as %2B).")
]


@do_not_call_router.get("", operation_id="list_do_not_call", responses=errors(401, 422))
async def list_do_not_call(
    entries: DoNotCallDep,
    skip: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DoNotCallResponse]:
    """The organization's do-not-call list, by number."""
    return [
        DoNotCallResponse.model_validate(row) for row in await entries.list(skip=skip, limit=limit)
    ]


@do_not_call_router.post(
    "", operation_id="add_do_not_call", status_code=201, responses=errors(401, 409, 422)
)
async def add_do_not_call(body: DoNotCallIn, entries: DoNotCallDep) -> DoNotCallResponse:
    """No campaign of the organization calls this number from now on."""
    return DoNotCallResponse.model_validate(await entries.add(body))


@do_not_call_router.delete(
    "/{number}", operation_id="remove_do_not_call", status_code=204, responses=errors(401, 404, 422)
)
async def remove_do_not_call(number: NumberPath, entries: DoNotCallDep) -> None:
    """Take a number off the list."""
    await entries.remove(number)
