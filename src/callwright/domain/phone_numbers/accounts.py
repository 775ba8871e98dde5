"""Which Twilio credentials serve a number or a call: the assigned assistant's own
``twilio_config`` when it is for the number's account, else the organization's stored
``twilio`` credential for that account (``TwilioAccount.serves``: the account is always
matched, never assumed). Only the given organization's credentials are ever consulted.

Neither source is taken on trust: the organization's credential is proven with Twilio
when it is stored, and whichever one serves a number is proven to own it when the
number is registered or assigned (``service``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.credentials.lookup import organization_credential
from callwright.errors import NotFound
from callwright.security.crypto import SecretBox
from callwright.transports.twilio.accounts import TwilioAccount

__all__ = ["twilio_account_for"]


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
            own = TwilioAccount(config.account_sid or "", config.auth_token or "", "assistant")
            if own.serves(account_sid):
                return own
    credential = await organization_credential(session, box, organization_id, "twilio")
    if credential is not None:
        sid, token = credential.get("account_sid"), credential.get("auth_token")
        stored_account = TwilioAccount(str(sid or ""), str(token or ""), "organization")
        if stored_account.serves(account_sid):
            return stored_account
    return None
