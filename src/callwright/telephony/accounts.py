"""Which Twilio credentials serve a number or a call: the assigned assistant's own
``twilio_config`` when it is for the number's account, else the organization's
stored ``twilio`` credential for that account. The account (AccountSid) is what Twilio
names in every request, so it is always matched, never assumed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.credentials.lookup import organization_credential
from callwright.errors import NotFound
from callwright.security.crypto import SecretBox

__all__ = ["TwilioAccount", "twilio_account_for"]


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    account_sid: str
    auth_token: str


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
                return TwilioAccount(config.account_sid, config.auth_token)
    credential = await organization_credential(session, box, organization_id, "twilio")
    if credential is not None:
        sid, token = credential.get("account_sid"), credential.get("auth_token")
        if sid and token and (account_sid is None or sid == account_sid):
            return TwilioAccount(str(sid), str(token))
    return None
