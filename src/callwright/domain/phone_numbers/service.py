"""Rules of phone numbers: E.164, one live row per number per carrier account, the
assistant it rings must be the organization's, and Twilio credentials must exist for
its account. Queries are filtered by the principal (``_visible``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import AssistantService
from callwright.domain.principal import Principal
from callwright.domain.references import unknown_reference
from callwright.errors import Conflict, NotFound, ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import PhoneNumber
from callwright.telephony.accounts import TwilioAccount, twilio_account_for
from callwright.telephony.twilio_rest import TwilioClient

from .schemas import PhoneNumberIn, PhoneNumberPatch

__all__ = ["PhoneNumberService", "phone_number_view", "twilio_urls"]


def twilio_urls(base: str) -> tuple[str, str]:
    """The voice webhook and status callback URLs Twilio is given for this server."""
    return f"{base}/telephony/twilio/voice", f"{base}/telephony/twilio/status"


def phone_number_view(row: PhoneNumber, public_base: str) -> dict[str, Any]:
    voice_url, status_url = twilio_urls(public_base)
    return {
        "id": row.id,
        "organization_id": row.organization_id,
        "user_id": row.user_id,
        "number": row.number,
        "provider": row.provider,
        "twilio_account_sid": row.provider_account,
        "assistant_id": row.assistant_id,
        "name": row.name,
        "voice_url": voice_url,
        "status_callback_url": status_url,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


class PhoneNumberService:
    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        box: SecretBox,
        settings: Settings,
        public_base: str,
        *,
        twilio_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._session = session
        self._principal = principal
        self._box = box
        self._settings = settings
        self._public_base = public_base
        self._twilio_transport = twilio_transport

    def _visible(self) -> Select[PhoneNumber]:
        query = select(PhoneNumber).where(
            PhoneNumber.organization_id == self._principal.organization_id,
            PhoneNumber.deleted_at.is_(None),
        )
        if self._principal.scope == "user":
            query = query.where(PhoneNumber.user_id == self._principal.user_id)
        return query

    @property
    def public_base(self) -> str:
        return self._public_base

    async def get(self, number_id: int) -> PhoneNumber:
        row = (
            await self._session.execute(self._visible().where(PhoneNumber.id == number_id))
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"phone number {number_id} not found")
        return row

    async def list(self, *, skip: int, limit: int) -> Sequence[PhoneNumber]:
        query = self._visible().order_by(PhoneNumber.created_at.desc(), PhoneNumber.id.desc())
        return (await self._session.execute(query.offset(skip).limit(limit))).scalars().all()

    async def _check_assistant(self, assistant_id: int | None) -> None:
        if assistant_id is None:
            return
        try:
            await AssistantService(self._session, self._principal, self._box).get(str(assistant_id))
        except NotFound as exc:
            # The principal's own query decides: another user's assistant, for a
            # user-scoped key, is refused exactly like one that does not exist.
            raise unknown_reference(["assistant_id"], f"no assistant {assistant_id} found") from exc

    async def _account(self, assistant_id: int | None, account_sid: str | None) -> TwilioAccount:
        account = await twilio_account_for(
            self._session,
            self._box,
            organization_id=self._principal.organization_id,
            assistant_id=assistant_id,
            account_sid=account_sid,
        )
        if account is None:
            which = f"account {account_sid}" if account_sid else "the number"
            raise ValidationFailed(
                f"no Twilio credentials for {which}: set the assistant's twilio_config "
                "or the organization's twilio credential (POST /api/v1/credentials)"
            )
        return account

    async def _configure(self, account: TwilioAccount, number: str) -> None:
        voice_url, status_url = twilio_urls(self._public_base)
        async with TwilioClient(
            account.account_sid,
            account.auth_token,
            base_url=self._settings.twilio_api_base_url,
            transport=self._twilio_transport,
        ) as client:
            await client.configure_number(number, voice_url=voice_url, status_callback=status_url)

    async def create(self, body: PhoneNumberIn) -> PhoneNumber:
        await self._check_assistant(body.assistant_id)
        account = await self._account(body.assistant_id, body.twilio_account_sid)
        taken = await self._session.execute(
            select(PhoneNumber.id).where(
                PhoneNumber.provider == body.provider,
                PhoneNumber.provider_account == account.account_sid,
                PhoneNumber.number == body.number,
                PhoneNumber.deleted_at.is_(None),
            )
        )
        if taken.first() is not None:
            raise Conflict(f"{body.number} is already registered for this Twilio account")
        if body.configure_webhook:
            await self._configure(account, body.number)
        now = utcnow()
        row = PhoneNumber(
            organization_id=self._principal.organization_id,
            user_id=self._principal.user_id,
            assistant_id=body.assistant_id,
            provider=body.provider,
            provider_account=account.account_sid,
            number=body.number,
            name=body.name,
            config={},
            created_at=now,
            updated_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def update(self, number_id: int, patch: PhoneNumberPatch) -> PhoneNumber:
        row = await self.get(number_id)
        fields = patch.model_fields_set
        if "assistant_id" in fields:
            await self._check_assistant(patch.assistant_id)
            row.assistant_id = patch.assistant_id
        if "name" in fields:
            row.name = patch.name
        if patch.configure_webhook:
            await self._configure(
                await self._account(row.assistant_id, row.provider_account), row.number
            )
        row.updated_at = utcnow()
        await self._session.flush()
        return row

    async def delete(self, number_id: int) -> None:
        row = await self.get(number_id)
        row.deleted_at = utcnow()
        await self._session.flush()
