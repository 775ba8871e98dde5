"""Twilio's side of a phone call: the number's voice webhook (answers TwiML that
connects a Media Stream), call status callbacks, answering-machine detection results,
and the Media Streams WebSocket itself.

Every HTTP request must carry a valid ``X-Twilio-Signature`` from the auth token of
the account it names (403 otherwise); the stream must present the single-use token
that the TwiML carried (closed with 1008 otherwise).

The token is always that of one organization: the one holding the number (one live row
per account and number, registered only once Twilio confirmed the account owns it), or
for a callback the one whose call has this CallSid on a number of the named account.
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.api.deps import AppState, DbSession, StateDep, public_base_url
from callwright.api.routing import CallwrightRoute
from callwright.domain.calls.repository import consume_stream_nonce, new_call
from callwright.domain.calls.service import stream_url
from callwright.domain.calls.tokens import issue_stream_token, read_stream_token
from callwright.engine.events import EndReason
from callwright.errors import Forbidden, ServiceBusy
from callwright.store.models import Call, PhoneNumber
from callwright.telephony.accounts import TwilioAccount, twilio_account_for
from callwright.telephony.twilio_rest import (
    TwilioClient,
    TwilioError,
    connect_stream_twiml,
    dial_twiml,
    reject_twiml,
)
from callwright.telephony.twilio_signature import verify_twilio_signature
from callwright.transports.protocol import AnsweringMachine
from callwright.transports.twilio import TwilioMediaStream, read_start

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/telephony/twilio", tags=["telephony"], route_class=CallwrightRoute)

_TWIML = "application/xml"
# Twilio's final call statuses and the end reason of a call that never had a session.
_UNANSWERED = {
    "busy": EndReason.CUSTOMER_BUSY,
    "no-answer": EndReason.CUSTOMER_DID_NOT_ANSWER,
    "failed": EndReason.CARRIER_FAILED_TO_CONNECT,
    "canceled": EndReason.MANUALLY_CANCELED,
    "completed": EndReason.CUSTOMER_ENDED_CALL,
}
_AMD = {
    "human": "human",
    "unknown": "human",
    "machine_start": "machine_start",
    "machine_end_beep": "machine_end_beep",
    "machine_end_silence": "machine_end_silence",
    "machine_end_other": "machine_end_silence",
    "fax": "fax",
}


class TwilioRequest:
    """A form POST from Twilio whose signature has been verified."""

    def __init__(self, params: dict[str, str], account: TwilioAccount) -> None:
        self.params = params
        self.account = account

    def get(self, name: str) -> str:
        return self.params.get(name, "")


def _public_url(request: Request, state: AppState) -> str:
    """The URL Twilio requested, as Twilio saw it (behind the public base URL)."""
    url = public_base_url(state.settings, request) + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


async def _verified(
    request: Request, state: AppState, session: AsyncSession, *, number: PhoneNumber | None = None
) -> TwilioRequest:
    form = await request.form()
    params = {key: str(value) for key, value in form.multi_items()}
    account_sid = params.get("AccountSid", "")
    organization_id: int | None = None
    assistant_id: int | None = None
    if number is not None:
        organization_id, assistant_id = number.organization_id, number.assistant_id
    else:
        call = await _call_by_sid(session, params.get("CallSid", ""), account_sid)
        if call is not None:
            organization_id, assistant_id = call.organization_id, call.assistant_id
    account = None
    if organization_id is not None:
        account = await twilio_account_for(
            session,
            state.secret_box,
            organization_id=organization_id,
            assistant_id=assistant_id,
            account_sid=account_sid,
        )
    signature = request.headers.get("x-twilio-signature")
    if account is None or not verify_twilio_signature(
        account.auth_token, _public_url(request, state), params.items(), signature
    ):
        raise Forbidden("the X-Twilio-Signature does not verify")
    return TwilioRequest(params, account)


async def _call_by_sid(session: AsyncSession, call_sid: str, account_sid: str) -> Call | None:
    """The call with this CallSid on a number of this account. A CallSid alone is not
    enough: any organization can sign a voice webhook for its own number naming any
    CallSid, and its call must not shadow another organization's for that account."""
    if not call_sid:
        return None
    query = (
        select(Call)
        .join(PhoneNumber, PhoneNumber.id == Call.phone_number_id)
        .where(
            Call.provider_call_id == call_sid,
            PhoneNumber.provider == "twilio",
            PhoneNumber.provider_account == account_sid,
        )
        .order_by(Call.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


def _twiml(body: str) -> Response:
    return Response(content=body, media_type=_TWIML)


@router.post("/voice", operation_id="twilio_voice_webhook", include_in_schema=False)
async def voice_webhook(request: Request, session: DbSession, state: StateDep) -> Response:
    """An incoming call to one of our numbers: answer with ``<Connect><Stream>``."""
    form = await request.form()
    account_sid, to = str(form.get("AccountSid", "")), str(form.get("To", ""))
    number = (
        await session.execute(
            select(PhoneNumber).where(
                PhoneNumber.provider == "twilio",
                PhoneNumber.provider_account == account_sid,
                PhoneNumber.number == to,
                PhoneNumber.deleted_at.is_(None),
            )
        )
    ).scalar_one_or_none()
    if number is None:
        # Nothing to verify the signature with: an unknown number is refused the same way.
        raise Forbidden("the X-Twilio-Signature does not verify")
    twilio = await _verified(request, state, session, number=number)
    if number.assistant_id is None:
        return _twiml(reject_twiml("rejected"))
    try:
        state.calls.check_capacity("inboundPhoneCall")
    except ServiceBusy:
        logger.warning("refusing an incoming call to %s: at capacity", number.number)
        return _twiml(reject_twiml("busy"))
    call = new_call(
        organization_id=number.organization_id,
        user_id=number.user_id,
        assistant_id=number.assistant_id,
        type="inboundPhoneCall",
        status="ringing",
        from_number=twilio.get("From") or None,
        to_number=number.number,
        phone_number_id=number.id,
        provider_call_id=twilio.get("CallSid") or None,
    )
    session.add(call)
    await session.flush()
    token, call.stream_nonce = issue_stream_token(
        state.settings.resolved_secret_key(), call.id, state.settings.stream_token_ttl_s
    )
    state.calls.reserve(call.id)
    stream = stream_url(public_base_url(state.settings, request), "/telephony/twilio/stream")
    return _twiml(connect_stream_twiml(stream, {"token": token}))


@router.post("/status", operation_id="twilio_status_callback", include_in_schema=False)
async def status_callback(request: Request, session: DbSession, state: StateDep) -> Response:
    """Call progress from Twilio: ringing, answered, and final statuses. A call that
    ends without ever opening its stream (busy, no answer, failed) is finished here."""
    twilio = await _verified(request, state, session)
    call = await _call_by_sid(session, twilio.get("CallSid"), twilio.account.account_sid)
    if call is None or call.status == "ended":
        return Response(status_code=204)
    status = twilio.get("CallStatus")
    if status == "ringing" and call.status == "queued":
        call.status = "ringing"
    elif (
        status in _UNANSWERED
        and state.calls.session_of(call.id) is None
        and (call.status in ("queued", "ringing") or status != "completed")
    ):
        # Never answered (or answered and gone before its stream opened here).
        await session.commit()
        await state.calls.end_unstarted(call.id, _UNANSWERED[status], f"Twilio: {status}")
    return Response(status_code=204)


@router.post("/amd", operation_id="twilio_amd_callback", include_in_schema=False)
async def amd_callback(request: Request, session: DbSession, state: StateDep) -> Response:
    """Answering-machine detection's verdict (``AnsweredBy``) for an outbound call."""
    twilio = await _verified(request, state, session)
    call = await _call_by_sid(session, twilio.get("CallSid"), twilio.account.account_sid)
    kind = _AMD.get(twilio.get("AnsweredBy"))
    if call is None or kind is None:
        return Response(status_code=204)
    transport = state.calls.transport_of(call.id)
    if isinstance(transport, TwilioMediaStream):
        transport.inject(AnsweringMachine(kind))  # type: ignore[arg-type]
    return Response(status_code=204)


class _TwilioControl:
    """Hang-up and transfer of one live call through Twilio's REST API."""

    def __init__(self, state: AppState, account: TwilioAccount, call_sid: str) -> None:
        self._state = state
        self._account = account
        self._call_sid = call_sid

    def _client(self) -> TwilioClient:
        return TwilioClient(
            self._account.account_sid,
            self._account.auth_token,
            base_url=self._state.settings.twilio_api_base_url,
        )

    async def hang_up(self) -> None:
        try:
            async with self._client() as client:
                await client.update_call(self._call_sid, status="completed")
        except TwilioError as exc:
            logger.warning("hanging up %s through Twilio failed: %s", self._call_sid, exc)

    async def transfer(self, destination: str) -> None:
        async with self._client() as client:
            await client.update_call(self._call_sid, twiml=dial_twiml(destination))


@router.websocket("/stream")
async def media_stream(websocket: WebSocket) -> None:
    """Twilio's bidirectional Media Stream for one call."""
    state: AppState = websocket.app.state.callwright
    await websocket.accept()
    start = await read_start(websocket)
    token = start.custom_parameters.get("token", "") if start is not None else ""
    try:
        claim = read_stream_token(state.settings.resolved_secret_key(), token)
    except ValueError:
        await websocket.close(code=1008, reason="invalid or expired stream token")
        return
    assert start is not None
    async with state.session_factory() as session:
        accepted = await consume_stream_nonce(session, claim.call_id, claim.nonce)
        call = await session.get(Call, claim.call_id) if accepted else None
        account = None
        if call is not None:
            account = await twilio_account_for(
                session,
                state.secret_box,
                organization_id=call.organization_id,
                assistant_id=call.assistant_id,
                account_sid=start.account_sid or None,
            )
            extra = {k: v for k, v in start.custom_parameters.items() if k != "token"}
            if extra:
                call.variables = {**call.variables, **extra}
            if start.call_sid and not call.provider_call_id:
                call.provider_call_id = start.call_sid
        await session.commit()
    if call is None or account is None:
        await websocket.close(code=1008, reason="this stream token has been used")
        return
    transport = TwilioMediaStream(
        websocket, start, _TwilioControl(state, account, start.call_sid or "")
    )
    await state.calls.run_call(claim.call_id, transport)
    with contextlib.suppress(RuntimeError):
        await websocket.close()
