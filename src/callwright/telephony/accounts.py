"""Which Twilio credentials serve a number or a call: the assigned assistant's own
``twilio_config`` when it is for the number's account, else the organization's
stored ``twilio`` credential for that account. The account (AccountSid) is what Twilio
names in every request, so it is always matched, never assumed; and only the given
organization's credentials are ever consulted.

Neither source is taken on trust: the organization's credential is proven with Twilio
when it is stored, and whichever one serves a number is proven to own it when the
number is registered or assigned (``domain.phone_numbers``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.credentials.lookup import organization_credential
from callwright.errors import NotFound
from callwright.security.crypto import SecretBox

__all__ = ["TwilioAccount", "twilio_account_for"]


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    """One Twilio account's credentials and where they were found."""

    account_sid: str
    auth_token: str
    source: Literal["assistant", "organization"]

    @property
    def where(self) -> str:
        """Where the caller can correct these credentials, for error messages."""
        if self.source == "assistant":
            return "the assistant's twilio_config"
        return "the organization's twilio credential"


async def twilio_account_for(
    session: AsyncSession,
    box: SecretBox,
    *,
    organization_id: int,
    assistant_id: int | None,
    account_sid: str | None = None,
) -> TwilioAccount | None:
    """Credentials for ``account_sid`` (any account when None) in this organization."""
    if assistant_id is not None:
        try:
            stored = await load_assistant_for_call(session, box, assistant_id)
        except NotFound:
            stored = None
        if stored is not None and stored.row.organization_id == organization_id:
            config = stored.settings.twilio_config
            if (
                config is not None
                and config.account_sid
                and config.auth_token
                and (account_sid is None or config.account_sid == account_sid)
            ):
                return TwilioAccount(config.account_sid, config.auth_token, "assistant")
    credential = await organization_credential(session, box, organization_id, "twilio")
    if credential is not None:
        sid, token = credential.get("account_sid"), credential.get("auth_token")
        if sid and token and (account_sid is None or sid == account_sid):
            return TwilioAccount(str(sid), str(token), "organization")
    return None
