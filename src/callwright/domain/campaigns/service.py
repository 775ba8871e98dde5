"""Rules of campaigns: what a campaign may reference (the principal's own assistant
and numbers), which states allow which changes, and recipients uploads.

A campaign is edited while it is a draft or paused; recipients are added until it is
completed or canceled. References are checked when written, like every resource's,
and again by the call service each time a call is placed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import AssistantService
from callwright.domain.phone_numbers.service import PhoneNumberService
from callwright.domain.principal import Principal
from callwright.domain.references import not_found_detail, unknown_reference
from callwright.domain.validation import summary
from callwright.errors import Conflict, NotFound, ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import Campaign, CampaignRecipient

from .events import campaign_status_changed
from .recipients import parse_recipients
from .repository import CampaignRepository
from .schemas import CampaignIn, CampaignPatch, CampaignProgress, RecipientsReport

__all__ = ["MAX_RECIPIENTS", "CampaignService", "campaign_view", "recipient_view"]

MAX_RECIPIENTS = 100_000
_EDITABLE = ("draft", "paused")
_CLOSED = ("completed", "canceled")


def _progress(counts: dict[str, int]) -> CampaignProgress:
    return CampaignProgress(
        total=sum(counts.values()),
        pending=counts.get("pending", 0),
        in_progress=counts.get("in-progress", 0),
        retrying=counts.get("retrying", 0),
        completed=counts.get("completed", 0),
        failed=counts.get("failed", 0),
        do_not_call=counts.get("do-not-call", 0),
        canceled=counts.get("canceled", 0),
    )


def campaign_view(row: Campaign, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": row.id,
        "organization_id": row.organization_id,
        "user_id": row.user_id,
        "name": row.name,
        "assistant_id": row.assistant_id,
        "phone_number_ids": row.phone_number_ids,
        "calling_window": row.calling_window,
        "default_timezone": row.default_timezone,
        "max_concurrency": row.max_concurrency,
        "retry_policy": row.retry_policy,
        "status": row.status,
        "progress": _progress(counts),
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def recipient_view(row: CampaignRecipient) -> dict[str, Any]:
    return {
        "id": row.id,
        "position": row.position,
        "number": row.number,
        "timezone": row.timezone,
        "variables": row.variables,
        "status": row.status,
        "attempts": row.attempts,
        "outcome": row.outcome,
        "detail": row.detail,
        "next_attempt_at": row.next_attempt_at,
        "call_ids": row.call_ids,
        "updated_at": row.updated_at,
    }


class CampaignService:
    def __init__(
        self, session: AsyncSession, principal: Principal, box: SecretBox, settings: Settings
    ) -> None:
        self._session = session
        self._principal = principal
        self._box = box
        self._settings = settings
        self._campaigns = CampaignRepository(session, principal)

    async def get(self, campaign_id: int, *, for_update: bool = False) -> Campaign:
        row = await self._campaigns.get(campaign_id, for_update=for_update)
        if row is None:
            raise NotFound(f"campaign {campaign_id} not found")
        return row

    async def counts(self, rows: Sequence[Campaign]) -> dict[int, dict[str, int]]:
        return await self._campaigns.progress([row.id for row in rows])

    async def list(self, *, skip: int, limit: int) -> Sequence[Campaign]:
        return await self._campaigns.list(skip=skip, limit=limit)

    async def _check_assistant(self, assistant_id: int) -> None:
        try:
            await AssistantService(self._session, self._principal, self._box).get(str(assistant_id))
        except NotFound as exc:
            raise unknown_reference(["assistant_id"], f"no assistant {assistant_id} found") from exc

    async def _check_numbers(self, number_ids: Sequence[int]) -> None:
        # The principal's own query decides (domain.references): another user's number,
        # for a user-scoped key, is refused like one that does not exist.
        numbers = PhoneNumberService(self._session, self._principal, self._box, self._settings, "")
        details = []
        for index, number_id in enumerate(number_ids):
            try:
                await numbers.get(number_id)
            except NotFound:
                details.append(
                    not_found_detail(
                        ["phone_number_ids", index], f"no phone number {number_id} found"
                    )
                )
        if details:
            raise ValidationFailed(summary(details), details=details)

    async def create(self, body: CampaignIn) -> Campaign:
        await self._check_assistant(body.assistant_id)
        await self._check_numbers(body.phone_number_ids)
        now = utcnow()
        row = Campaign(
            organization_id=self._principal.organization_id,
            user_id=self._principal.user_id,
            created_by_scope=self._principal.scope,
            name=body.name,
            assistant_id=body.assistant_id,
            phone_number_ids=list(body.phone_number_ids),
            calling_window=body.calling_window.stored(),
            default_timezone=body.default_timezone,
            max_concurrency=body.max_concurrency,
            retry_policy=body.retry_policy.stored(),
            status="draft",
            dials=0,
            created_at=now,
            updated_at=now,
        )
        self._campaigns.add(row)
        await self._campaigns.flush()
        return row

    async def update(self, campaign_id: int, patch: CampaignPatch) -> Campaign:
        row = await self.get(campaign_id, for_update=True)
        if row.status not in _EDITABLE:
            raise Conflict(f"campaign {campaign_id} is {row.status}: pause it to change it")
        fields = patch.model_fields_set
        for name in ("name", "max_concurrency"):
            if name in fields and getattr(patch, name) is None:
                raise ValidationFailed(f"{name} cannot be null")
        if patch.assistant_id is not None and patch.assistant_id != row.assistant_id:
            await self._check_assistant(patch.assistant_id)
            row.assistant_id = patch.assistant_id
        if patch.phone_number_ids is not None:
            # Numbers kept from before are not checked again, like tool_ids: each call
            # placed checks its number.
            await self._check_numbers(
                [n for n in patch.phone_number_ids if n not in row.phone_number_ids]
            )
            row.phone_number_ids = list(patch.phone_number_ids)
        if patch.name is not None:
            row.name = patch.name
        if patch.max_concurrency is not None:
            row.max_concurrency = patch.max_concurrency
        if patch.calling_window is not None:
            row.calling_window = patch.calling_window.stored()
        if patch.retry_policy is not None:
            row.retry_policy = patch.retry_policy.stored()
        if "default_timezone" in fields:
            row.default_timezone = patch.default_timezone
        row.updated_at = utcnow()
        await self._campaigns.flush()
        return row

    async def delete(self, campaign_id: int) -> None:
        row = await self.get(campaign_id, for_update=True)
        if row.status in ("running", "paused"):
            raise Conflict(f"campaign {campaign_id} is {row.status}: cancel it first")
        row.deleted_at = utcnow()
        await self._campaigns.flush()

    async def add_recipients(
        self, campaign_id: int, body: bytes, content_type: str
    ) -> RecipientsReport:
        """Add the upload's valid rows; report the others (row, number, reason)."""
        row = await self.get(campaign_id, for_update=True)
        if row.status in _CLOSED:
            raise Conflict(f"campaign {campaign_id} is {row.status}: it takes no more recipients")
        existing = await self._campaigns.numbers(row.id)
        parsed = await asyncio.to_thread(
            parse_recipients,
            body,
            content_type,
            default_timezone=row.default_timezone,
            existing=existing,
        )
        if len(existing) + len(parsed.accepted) > MAX_RECIPIENTS:
            raise ValidationFailed(
                f"a campaign holds at most {MAX_RECIPIENTS} recipients: this one has "
                f"{len(existing)} and the upload adds {len(parsed.accepted)}"
            )
        await self._campaigns.add_recipients(row, parsed.accepted)
        row.updated_at = utcnow()
        await self._campaigns.flush()
        return RecipientsReport(accepted=len(parsed.accepted), rejected=parsed.rejected)

    # -- control ------------------------------------------------------------------

    async def _transition(self, campaign_id: int, allowed: tuple[str, ...], to: str) -> Campaign:
        row = await self.get(campaign_id, for_update=True)
        if row.status not in allowed:
            raise Conflict(
                f"campaign {campaign_id} is {row.status}: only a campaign that is "
                f"{' or '.join(allowed)} can become {to}"
            )
        now = utcnow()
        row.status = to
        row.updated_at = now
        return row

    async def start(self, campaign_id: int) -> Campaign:
        """A draft starts calling (its scheduler pass picks it up)."""
        row = await self._transition(campaign_id, ("draft",), "running")
        counts = (await self._campaigns.progress([row.id]))[row.id]
        if not counts:
            raise Conflict(f"campaign {campaign_id} has no recipients: upload them first")
        row.started_at = row.updated_at
        return await self._changed(row)

    async def pause(self, campaign_id: int) -> Campaign:
        """No new calls; calls up go on, and their outcomes are recorded."""
        return await self._changed(await self._transition(campaign_id, ("running",), "paused"))

    async def resume(self, campaign_id: int) -> Campaign:
        return await self._changed(await self._transition(campaign_id, ("paused",), "running"))

    async def cancel(self, campaign_id: int) -> Campaign:
        """No more calls: rows not yet called are ``canceled``; calls up go on and
        their outcomes are recorded, without retries."""
        row = await self._transition(campaign_id, ("draft", "running", "paused"), "canceled")
        row.finished_at = row.updated_at
        await self._campaigns.cancel_waiting(row.id, row.updated_at)
        return await self._changed(row)

    async def _changed(self, row: Campaign) -> Campaign:
        await self._campaigns.flush()
        await campaign_status_changed(self._session, row, row.updated_at)
        return row

    async def recipients(
        self, campaign_id: int, *, status: str | None, skip: int, limit: int
    ) -> Sequence[CampaignRecipient]:
        row = await self.get(campaign_id)
        return await self._campaigns.recipients(row.id, status=status, skip=skip, limit=limit)
