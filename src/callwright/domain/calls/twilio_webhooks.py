"""The rules behind Twilio's requests about calls (``api/routes/telephony.py`` is only
their HTTP side): a number's voice webhook, call status callbacks, answering-machine
detection results, and the opening of a call's Media Stream.

Every webhook must carry a valid ``X-Twilio-Signature`` from the auth token of the
account it names (``Forbidden`` otherwise). The token is always that of one
organization: the one holding the number (one live row per account and number,
registered only once Twilio confirmed the account owns it), or for a callback the one
whose call has this CallSid on a number of the named account. A stream must present
the single-use token its TwiML carried.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.accounts.call_limit import LiveCallCount, hold_call_place
from callwright.domain.assistants.repository import assistant_takes_calls
from callwright.domain.phone_numbers.accounts import twilio_account_for
from callwright.domain.phone_numbers.repository import live_number
from callwright.engine.events import EndReason
from callwright.errors import Forbidden, ServiceBusy
from callwright.security.crypto import SecretBox
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call
from callwright.transports.protocol import AnsweringMachine
from callwright.transports.twilio.accounts import TwilioAccount
from callwright.transports.twilio.callbacks import answering_machine
from callwright.transports.twilio.media_stream import StreamStart
from callwright.transports.twilio.signature import verify_twilio_signature
from callwright.transports.twilio.twiml import connect_stream_twiml, reject_twiml

from .queries import call_by_carrier_sid, load_call
from .repository import (
    add_call,
    consume_stream_nonce,
    end_call,
    new_call,
    set_status,
    stream_connected,
)
from .service import TWILIO_STREAM_PATH, LiveCalls, issue_stream, stream_url
from .tokens import StreamToken, read_stream_token

__all__ = [
    "OpenedStream",
    "SignedRequest",
    "TwilioCalls",
    "open_twilio_stream",
    "stream_claim",
]

logger = logging.getLogger(__name__)

_NOT_VERIFIED = "the X-Twilio-Signature does not verify"
# Twilio's final call statuses, as the end reason of a call that never had a session.
_UNANSWERED = {
    "busy": EndReason.CUSTOMER_BUSY,
    "no-answer": EndReason.CUSTOMER_DID_NOT_ANSWER,
    "failed": EndReason.CARRIER_FAILED_TO_CONNECT,
    "canceled": EndReason.MANUALLY_CANCELED,
    "completed": EndReason.CUSTOMER_ENDED_CALL,
}


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A form POST from Twilio as received: its parameters, the URL Twilio requested
    (as Twilio saw it, behind the public base URL) and its signature header."""

    params: Mapping[str, str]
    url: str
    signature: str | None

    def get(self, name: str) -> str:
        return self.params.get(name, "")


class TwilioCalls:
    """Twilio's webhooks about calls, in one request's unit of work (flushed, never
    committed here)."""

    def __init__(
        self,
        session: AsyncSession,
        box: SecretBox,
        settings: Settings,
        live: LiveCalls,
        public_base: str,
    ) -> None:
        self._session = session
        self._box = box
        self._settings = settings
        self._live = live
        self._public_base = public_base

    async def _verify(
        self, request: SignedRequest, organization_id: int, assistant_id: int | None
    ) -> None:
        """``Forbidden`` unless ``request`` is signed with the auth token of the account
        it names, as that organization (and its assistant) hold it."""
        account = await twilio_account_for(
            self._session,
            self._box,
            organization_id=organization_id,
            assistant_id=assistant_id,
            account_sid=request.get("AccountSid"),
        )
        if account is None or not verify_twilio_signature(
            account.auth_token, request.url, request.params.items(), request.signature
        ):
            raise Forbidden(_NOT_VERIFIED)

    async def _call_of(self, request: SignedRequest) -> Call:
        """The call a callback is about (its CallSid on a number of the account it
        names), once the request is verified with that call's organization."""
        call = await call_by_carrier_sid(
            self._session, request.get("CallSid"), request.get("AccountSid")
        )
        if call is None:
            # No call of that account: nothing to verify the signature with.
            raise Forbidden(_NOT_VERIFIED)
        await self._verify(request, call.organization_id, call.assistant_id)
        return call

    async def incoming_call(self, request: SignedRequest) -> str:
        """An incoming call to one of our numbers: the TwiML that answers it, connecting
        a Media Stream with a new single-use token (or refusing it: no assistant; this
        process, or its organization, at capacity: busy; or its assistant not active:
        that call is recorded, ended with the reason)."""
        number = await live_number(self._session, request.get("AccountSid"), request.get("To"))
        if number is None:
            # Nothing to verify the signature with: an unknown number is refused the same way.
            raise Forbidden(_NOT_VERIFIED)
        await self._verify(request, number.organization_id, number.assistant_id)
        if number.assistant_id is None:
            return reject_twiml("rejected")
        call = new_call(
            organization_id=number.organization_id,
            user_id=number.user_id,
            assistant_id=number.assistant_id,
            type="inboundPhoneCall",
            status=CallStatus.RINGING,
            node_id=self._live.node_id,
            from_number=request.get("From") or None,
            to_number=number.number,
            phone_number_id=number.id,
            provider_call_id=request.get("CallSid") or None,
        )
        if not await assistant_takes_calls(self._session, number.assistant_id):
            logger.info(
                "refusing an incoming call to %s: assistant %s is not active",
                number.number,
                number.assistant_id,
            )
            end_call(
                call,
                EndReason.ASSISTANT_NOT_ACTIVE,
                f"assistant {number.assistant_id} is not active (is_active: false): "
                "the call was rejected",
            )
            await add_call(self._session, call)
            await self._session.flush()
            return reject_twiml("rejected")
        try:
            self._live.check_capacity("inboundPhoneCall")
            await hold_call_place(
                self._session,
                number.organization_id,
                LiveCallCount.from_settings(self._settings),
                utcnow(),
            )
        except ServiceBusy as exc:
            logger.warning("refusing an incoming call to %s: %s", number.number, exc.message)
            return reject_twiml("busy")
        await add_call(self._session, call)
        token = issue_stream(call, self._settings)
        await self._session.flush()
        self._live.reserve(call.id)
        return connect_stream_twiml(
            stream_url(self._public_base, TWILIO_STREAM_PATH), {"token": token}
        )

    async def status_changed(self, request: SignedRequest) -> None:
        """Call progress: ringing, answered, and final statuses. A call that ends
        without ever opening its stream (busy, no answer, failed) is finished here."""
        call = await self._call_of(request)
        if call.status == CallStatus.ENDED:
            return
        status = request.get("CallStatus")
        if status == "ringing" and call.status == CallStatus.QUEUED:
            set_status(call, CallStatus.RINGING)
            await self._session.flush()
        elif (
            status in _UNANSWERED
            and self._live.session_of(call.id) is None
            and (call.status.awaiting_answer or status != "completed")
        ):
            # Never answered (or answered and gone before its stream opened here).
            await self._live.end_unstarted(call.id, _UNANSWERED[status], f"Twilio: {status}")

    async def answered_by(self, request: SignedRequest) -> tuple[int, AnsweringMachine] | None:
        """Answering-machine detection's verdict (``AnsweredBy``) on an outbound call:
        the call's id and the event for its stream; None when there is none to give."""
        call = await self._call_of(request)
        event = answering_machine(request.get("AnsweredBy"))
        if event is None:
            return None
        return call.id, event


@dataclass(frozen=True, slots=True)
class OpenedStream:
    """A Media Stream whose token was accepted: its call and the account serving it."""

    call_id: int
    account: TwilioAccount


def stream_claim(settings: Settings, start: StreamStart | None) -> StreamToken:
    """The token a Media Stream's ``start`` presents, if genuine and unexpired;
    ``Forbidden`` (the reason to close the socket with) otherwise."""
    token = start.custom_parameters.get("token", "") if start is not None else ""
    try:
        return read_stream_token(settings.resolved_secret_key(), token)
    except ValueError as exc:
        raise Forbidden("invalid or expired stream token") from exc


async def open_twilio_stream(
    session: AsyncSession, box: SecretBox, claim: StreamToken, start: StreamStart, node_id: str
) -> OpenedStream | None:
    """Accept a Media Stream: its token is consumed here (once, on whichever node), the
    parameters its TwiML passed along join the call's variables, and its CallSid is
    recorded; ``node_id`` (this process) holds the call from now on. None when the
    token was used already, the call has ended, or its Twilio account has no
    credentials here (the token is spent all the same)."""
    accepted = await consume_stream_nonce(session, claim.call_id, claim.nonce, node_id)
    call = await load_call(session, claim.call_id) if accepted else None
    if call is None:
        return None
    account = await twilio_account_for(
        session,
        box,
        organization_id=call.organization_id,
        assistant_id=call.assistant_id,
        account_sid=start.account_sid or None,
    )
    parameters = {k: v for k, v in start.custom_parameters.items() if k != "token"}
    stream_connected(call, start.call_sid, parameters)
    await session.flush()
    return None if account is None else OpenedStream(call.id, account)
