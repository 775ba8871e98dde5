"""Rules of phone numbers: E.164, one live row per number per carrier account, the
assistant it rings must be the organization's, and Twilio credentials must exist for
its account. Queries are filtered by the principal (``PhoneNumberRepository``).

A number is proven, not claimed: it is registered only when Twilio, asked with the
credentials that will serve it, lists it among that account's IncomingPhoneNumbers; and
it is proven again whenever an assistant's own ``twilio_config`` starts serving it or
its webhook is configured. A number that another organization registered answers
exactly as one Twilio does not confirm (the same 422), after the same carrier round
trip, so that registration never tells whether a number is in use elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import AssistantService
from callwright.domain.principal import Principal
from callwright.domain.references import unknown_reference
from callwright.errors import Conflict, NotFound, ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import PhoneNumber
from callwright.transports.twilio.accounts import TwilioAccount
from callwright.transports.twilio.rest import TwilioAuthenticationFailed, TwilioClient

from .accounts import twilio_account_for
from .repository import PhoneNumberRepository, live_number
from .schemas import PhoneNumberIn, PhoneNumberPatch

__all__ = ["PhoneNumberService", "not_confirmed", "phone_number_view", "twilio_urls"]


def twilio_urls(base: str) -> tuple[str, str]:
    """The voice webhook and status callback URLs Twilio is given for this server."""
    return f"{base}/telephony/twilio/voice", f"{base}/telephony/twilio/status"


def not_confirmed(account: TwilioAccount, number: str, field: str = "number") -> ValidationFailed:
    """The one answer for a number Twilio does not confirm, whatever the reason: not
    the account's, credentials it refuses, or registered by another organization.
    ``field``: the part of the request that asked for the proof."""
    message = (
        f"Twilio does not confirm that account {account.account_sid} owns {number}: "
        f"register a number of that account, with its current credentials ({account.where})"
    )
    detail = {"field": field, "message": message, "type": "carrier_unconfirmed"}
    return ValidationFailed(message, details=[{**detail, "loc": ["body", field]}])


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
        self._numbers = PhoneNumberRepository(session, principal)

    @property
    def public_base(self) -> str:
        return self._public_base

    async def get(self, number_id: int) -> PhoneNumber:
        row = await self._numbers.get(number_id)
        if row is None:
            raise NotFound(f"phone number {number_id} not found")
        return row

    async def list(self, *, skip: int, limit: int) -> Sequence[PhoneNumber]:
        return await self._numbers.list(skip=skip, limit=limit)

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

    def _client(self, account: TwilioAccount) -> TwilioClient:
        return TwilioClient.for_account(
            account, base_url=self._settings.twilio_api_base_url, transport=self._twilio_transport
        )

    async def _prove(self, account: TwilioAccount, number: str) -> str | None:
        """The number's IncomingPhoneNumber SID when Twilio confirms, with ``account``'s
        credentials, that the account owns it; None when it does not (a refusal of the
        credentials included). Twilio out of reach is a ``TwilioUnavailable``."""
        try:
            async with self._client(account) as client:
                found = await client.find_incoming_number(number)
        except TwilioAuthenticationFailed:
            return None
        return None if found is None else str(found["sid"])

    async def _holder(self, account_sid: str, number: str) -> int | None:
        """The organization holding the live row for this number of this account."""
        row = await live_number(self._session, account_sid, number)
        return None if row is None else row.organization_id

    async def _configure(self, account: TwilioAccount, number_sid: str) -> None:
        voice_url, status_url = twilio_urls(self._public_base)
        async with self._client(account) as client:
            await client.configure_number(
                number_sid, voice_url=voice_url, status_callback=status_url
            )

    async def create(self, body: PhoneNumberIn) -> PhoneNumber:
        await self._check_assistant(body.assistant_id)
        account = await self._account(body.assistant_id, body.twilio_account_sid)
        # The carrier first, and the registry asked whatever it said: an answer must
        # not depend on, nor take visibly longer because of, another organization's rows.
        number_sid = await self._prove(account, body.number)
        holder = await self._holder(account.account_sid, body.number)
        if holder == self._principal.organization_id:
            raise Conflict(f"{body.number} is already registered for this Twilio account")
        if number_sid is None or holder is not None:
            raise not_confirmed(account, body.number)
        if body.configure_webhook:
            await self._configure(account, number_sid)
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
        try:
            await self._numbers.add(row)
        except IntegrityError as exc:
            # Registered concurrently (the unique index decides): answered like any
            # number registered elsewhere.
            raise not_confirmed(account, body.number) from exc
        return row

    async def update(self, number_id: int, patch: PhoneNumberPatch) -> PhoneNumber:
        row = await self.get(number_id)
        fields = patch.model_fields_set
        prove, asking = patch.configure_webhook, "configure_webhook"
        if "assistant_id" in fields:
            await self._check_assistant(patch.assistant_id)
            if patch.assistant_id != row.assistant_id and patch.assistant_id is not None:
                serving = await twilio_account_for(
                    self._session,
                    self._box,
                    organization_id=self._principal.organization_id,
                    assistant_id=patch.assistant_id,
                    account_sid=row.provider_account,
                )
                # The organization's credential was proven when stored; an assistant's
                # own twilio_config is proven here, before it serves the number.
                if serving is not None and serving.source == "assistant":
                    prove, asking = True, "assistant_id"
            row.assistant_id = patch.assistant_id
        if "name" in fields:
            row.name = patch.name
        if prove:
            account = await self._account(row.assistant_id, row.provider_account)
            number_sid = await self._prove(account, row.number)
            if number_sid is None:
                raise not_confirmed(account, row.number, asking)
            if patch.configure_webhook:
                await self._configure(account, number_sid)
        row.updated_at = utcnow()
        await self._numbers.flush()
        return row

    async def delete(self, number_id: int) -> None:
        row = await self.get(number_id)
        row.deleted_at = utcnow()
        await self._numbers.flush()
