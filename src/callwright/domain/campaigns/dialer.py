"""The one seam between campaigns and calls: a claimed recipient becomes an outbound
phone call placed exactly as ``POST /api/v1/calls`` places one, by the principal that
created the campaign (its assistant and numbers are checked again, per call)."""

from __future__ import annotations

from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.calls.schemas import CallIn
from callwright.domain.calls.service import CallService, LiveCalls
from callwright.domain.principal import Principal
from callwright.errors import ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.settings import Settings

from .claims import Claim

__all__ = ["CallServiceDialer", "Dialer"]


class Dialer(Protocol):
    """Places one claimed recipient's call."""

    async def dial(self, session: AsyncSession, claim: Claim) -> int:
        """Place the call in ``session``'s transaction (the caller commits) and return
        its id; a ``CallwrightError`` when it cannot be placed."""
        ...


class CallServiceDialer:
    """Calls through the call service, with the server's public URL (Twilio reaches
    the call's stream and status callbacks there: ``CALLWRIGHT_PUBLIC_URL``)."""

    def __init__(
        self,
        box: SecretBox,
        settings: Settings,
        live: LiveCalls,
        *,
        twilio_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._box = box
        self._settings = settings
        self._live = live
        self._twilio_transport = twilio_transport

    async def dial(self, session: AsyncSession, claim: Claim) -> int:
        public_url = self._settings.public_url
        if not public_url:
            raise ValidationFailed(
                "campaign calls need CALLWRIGHT_PUBLIC_URL: Twilio reaches the call there"
            )
        if claim.user_id is None or claim.assistant_id is None:
            raise ValidationFailed("the campaign's creator or assistant has been deleted")
        principal = Principal(
            organization_id=claim.organization_id,
            user_id=claim.user_id,
            scope="user" if claim.scope == "user" else "organization",
            auth_method="api_key",
        )
        service = CallService(
            session,
            principal,
            self._box,
            self._settings,
            self._live,
            public_url.rstrip("/"),
            twilio_transport=self._twilio_transport,
        )
        body = CallIn(
            assistant_id=claim.assistant_id,
            phone_number_id=claim.phone_number_id,
            customer_number=claim.number,
            variables=claim.variables,
            assistant_overrides={},
        )
        call = await service.create_phone_call(body)
        return call.id
