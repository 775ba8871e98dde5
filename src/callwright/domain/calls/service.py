"""Rules of calls: placing a phone call through the number's Twilio account, starting
a browser call, ending and speaking into a live call, and rendering the record.

Live control reaches the session on the node holding the call (``LiveCalls.command``:
here, or relayed through Redis) and answers with what happened: done, 409 when the call
is not live, 503 when its node cannot be reached. A call not yet connected is ended in
the database (a ringing phone call cancelled at Twilio) by whichever node is asked.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.accounts.call_limit import LiveCallCount, hold_call_place
from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import (
    AssistantService,
    StoredAssistant,
    check_rules,
    merge_settings,
)
from callwright.domain.phone_numbers.accounts import twilio_account_for
from callwright.domain.phone_numbers.service import PhoneNumberService, twilio_urls
from callwright.domain.principal import Principal
from callwright.domain.references import check_tool_ids, unknown_reference
from callwright.domain.tools.repository import ToolRepository
from callwright.domain.validation import validate_as
from callwright.engine.events import EndReason
from callwright.engine.realtime import RealtimeSession
from callwright.engine.session import CallSession
from callwright.errors import Conflict, NotFound, ValidationFailed
from callwright.security.crypto import SecretBox
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.call_status import CallStatus
from callwright.store.models import Call
from callwright.transports.twilio.accounts import TwilioAccount
from callwright.transports.twilio.rest import TwilioAuthenticationFailed, TwilioClient
from callwright.transports.twilio.twiml import connect_stream_twiml

from .control import CallCommand, CallOwnerUnreachable, CommandOutcome
from .queries import CallFilters, CallRepository
from .repository import add_call, new_call, set_carrier_call_id, set_stream_nonce
from .schemas import CallIn, WebCallIn
from .tokens import issue_stream_token

__all__ = [
    "TWILIO_STREAM_PATH",
    "CallService",
    "LiveCalls",
    "call_view",
    "issue_stream",
    "stream_url",
]

TWILIO_STREAM_PATH = "/telephony/twilio/stream"

_DIRECTIONS = {"inboundPhoneCall": "inbound", "outboundPhoneCall": "outbound", "webCall": "web"}


class LiveCalls(Protocol):
    """What the call runtime offers the API."""

    @property
    def node_id(self) -> str:
        """This process's node: the calls it issues belong to it."""
        ...

    def check_capacity(self, call_type: str = "webCall") -> None: ...

    def reserve(self, call_id: int) -> None: ...

    def session_of(self, call_id: int) -> CallSession | RealtimeSession | None: ...

    async def end_unstarted(self, call_id: int, reason: EndReason, detail: str | None) -> None: ...

    async def command(
        self, node_id: str | None, call_id: int, command: CallCommand
    ) -> CommandOutcome: ...


def stream_url(base: str, path: str) -> str:
    """The public ws(s):// URL of one of this server's WebSocket paths."""
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + path
    return "ws://" + base.removeprefix("http://") + path


def issue_stream(call: Call, settings: Settings) -> str:
    """A new single-use token that opens ``call``'s media stream (its nonce is stored
    on the call)."""
    token, nonce = issue_stream_token(
        settings.resolved_secret_key(), call.id, settings.stream_token_ttl_s
    )
    set_stream_nonce(call, nonce)
    return token


def call_view(call: Call) -> dict[str, Any]:
    outbound = call.type == "outboundPhoneCall"
    return {
        "id": call.id,
        "organization_id": call.organization_id,
        "assistant_id": call.assistant_id,
        "assistant_version": call.assistant_version,
        "phone_number_id": call.phone_number_id,
        "type": call.type,
        "direction": _DIRECTIONS.get(call.type, "web"),
        "status": call.status,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "customer_number": call.to_number if outbound else call.from_number,
        "provider_call_id": call.provider_call_id,
        "variables": call.variables,
        "started_at": call.started_at,
        "ended_at": call.ended_at,
        "duration_seconds": call.duration_seconds,
        "end_reason": call.end_reason,
        "end_detail": call.end_detail,
        "messages": call.messages,
        "tool_calls": call.tool_calls,
        "knowledge": call.knowledge,
        "tools_left_out": call.tools_left_out,
        "assistant": call.assistant_context or None,
        "turns": call.turns,
        "usage": call.usage,
        "providers": call.providers,
        "recording_url": f"/api/v1/calls/{call.id}/recording" if call.recording_key else None,
        "analysis": call.analysis,
        "created_at": call.created_at,
        "updated_at": call.updated_at,
    }


class CallService:
    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        box: SecretBox,
        settings: Settings,
        live: LiveCalls,
        public_base: str,
        *,
        twilio_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._session = session
        self._principal = principal
        self._box = box
        self._settings = settings
        self._live = live
        self._public_base = public_base
        self._twilio_transport = twilio_transport
        self._calls = CallRepository(session, principal)

    async def get(self, call_id: int) -> Call:
        call = await self._calls.get(call_id)
        if call is None:
            raise NotFound(f"call {call_id} not found")
        return call

    async def list(self, filters: CallFilters, *, skip: int, limit: int) -> list[Call]:
        return list(await self._calls.list(filters, skip=skip, limit=limit))

    async def _assistant_for_call(
        self, assistant_id: int, overrides: dict[str, Any]
    ) -> StoredAssistant:
        """The assistant the principal may call with; its overrides are checked like a
        PATCH (a bad override is a 422 now, not a failure mid-call), and tools they
        name must be tools the principal can read."""
        try:
            stored = await AssistantService(self._session, self._principal, self._box).get(
                str(assistant_id)
            )
        except NotFound as exc:
            raise unknown_reference(["assistant_id"], f"no assistant {assistant_id} found") from exc
        if not stored.row.is_active:
            raise Conflict(f"assistant {assistant_id} is not active")
        if overrides:
            merged = merge_settings(AssistantIn, stored.settings.model_dump(mode="json"), overrides)
            # A bad override is a 422 now, not mid-call.
            settings = validate_as(AssistantIn, merged)
            check_rules(
                settings, OutboundPolicy.from_settings(self._settings), at=("assistant_overrides",)
            )
            if "tool_ids" in overrides:
                # Named by the caller for this call: every one is a new reference.
                await check_tool_ids(
                    ToolRepository(self._session, self._principal),
                    settings.tool_ids,
                    location=("assistant_overrides", "tool_ids"),
                )
        return stored

    async def _add_queued(
        self,
        body: WebCallIn | CallIn,
        type_: str,
        *,
        from_number: str | None = None,
        to_number: str | None = None,
        phone_number_id: int | None = None,
    ) -> Call:
        """A new call placed by this principal, queued, with the body's variables and
        overrides (and a phone call's numbers)."""
        return await add_call(
            self._session,
            new_call(
                organization_id=self._principal.organization_id,
                user_id=self._principal.user_id,
                placed_by_scope=self._principal.scope,
                assistant_id=body.assistant_id,
                type=type_,
                status=CallStatus.QUEUED,
                node_id=self._live.node_id,
                variables=body.variables,
                overrides=body.assistant_overrides,
                from_number=from_number,
                to_number=to_number,
                phone_number_id=phone_number_id,
            ),
        )

    async def create_web_call(self, body: WebCallIn) -> tuple[Call, str, str]:
        """A browser call: returns the call, its stream token and the WebSocket URL."""
        await self._assistant_for_call(body.assistant_id, body.assistant_overrides)
        await self._hold_place("webCall")
        call = await self._add_queued(body, "webCall")
        token = issue_stream(call, self._settings)
        await self._session.flush()
        self._live.reserve(call.id)
        return call, token, stream_url(self._public_base, f"/api/v1/calls/web/stream?token={token}")

    async def create_phone_call(self, body: CallIn) -> Call:
        """Place an outbound call through the number's Twilio account."""
        stored = await self._assistant_for_call(body.assistant_id, body.assistant_overrides)
        try:
            number = await PhoneNumberService(
                self._session, self._principal, self._box, self._settings, self._public_base
            ).get(body.phone_number_id)
        except NotFound as exc:
            raise unknown_reference(
                ["phone_number_id"], f"no phone number {body.phone_number_id} found"
            ) from exc
        account = await twilio_account_for(
            self._session,
            self._box,
            organization_id=self._principal.organization_id,
            assistant_id=body.assistant_id,
            account_sid=number.provider_account,
        )
        if account is None:
            raise ValidationFailed(
                f"no Twilio credentials for account {number.provider_account} of "
                f"{number.number}: set the assistant's twilio_config or the organization's "
                "twilio credential"
            )
        await self._hold_place("outboundPhoneCall")
        call = await self._add_queued(
            body,
            "outboundPhoneCall",
            from_number=number.number,
            to_number=body.customer_number,
            phone_number_id=number.id,
        )
        token = issue_stream(call, self._settings)
        _, status_url = twilio_urls(self._public_base)
        base = self._public_base
        voicemail = body.assistant_overrides.get(
            "voicemail_message", stored.settings.voicemail_message
        )
        try:
            async with self._twilio(account) as client:
                placed = await client.create_call(
                    to=body.customer_number,
                    from_=number.number,
                    twiml=connect_stream_twiml(
                        stream_url(self._public_base, TWILIO_STREAM_PATH), {"token": token}
                    ),
                    status_callback=status_url,
                    machine_detection=bool(voicemail),
                    amd_callback=f"{base}/telephony/twilio/amd",
                )
        except TwilioAuthenticationFailed as exc:
            # Twilio's answer decides: credentials it refuses are the caller's to fix.
            raise ValidationFailed(
                f"Twilio refused the credentials of account {account.account_sid} "
                f"({account.where}): correct them and place the call again"
            ) from exc
        set_carrier_call_id(call, str(placed.get("sid") or ""))
        await self._session.flush()
        self._live.reserve(call.id)
        return call

    async def _hold_place(self, call_type: str) -> None:
        """Refuse a new call when this process is full (503) or the organization is at
        its concurrent-call limit (429); past the latter, the organization stays locked
        until this transaction ends, so its count cannot change under the new call."""
        self._live.check_capacity(call_type)
        await hold_call_place(
            self._session,
            self._principal.organization_id,
            LiveCallCount.from_settings(self._settings),
            utcnow(),
        )

    def _twilio(self, account: TwilioAccount) -> TwilioClient:
        return TwilioClient.for_account(
            account, base_url=self._settings.twilio_api_base_url, transport=self._twilio_transport
        )

    async def end(self, call_id: int) -> Call:
        """End a call: a call not yet connected is ended here (a phone call still
        ringing is cancelled at Twilio); a live one by the node holding it."""
        call = await self.get(call_id)
        if call.status == CallStatus.ENDED:
            raise Conflict(f"call {call_id} has already ended")
        if not call.status.awaiting_answer:
            await self._command(call, CallCommand("end"))
            return call
        if call.provider_call_id and call.type != "webCall":
            account = await twilio_account_for(
                self._session,
                self._box,
                organization_id=call.organization_id,
                assistant_id=call.assistant_id,
            )
            if account is not None:
                async with self._twilio(account) as client:
                    await client.update_call(call.provider_call_id, status="canceled")
        await self._live.end_unstarted(
            call.id, EndReason.MANUALLY_CANCELED, "ended through the API"
        )
        await self._session.refresh(call)
        return call

    async def say(self, call_id: int, message: str, *, end_after: bool) -> Call:
        call = await self.get(call_id)
        if call.status not in (CallStatus.IN_PROGRESS, CallStatus.FORWARDING):
            raise Conflict(f"call {call_id} is not live: it is {call.status.value}")
        await self._command(call, CallCommand("say", message, end_after))
        return call

    async def _command(self, call: Call, command: CallCommand) -> None:
        """Have the node holding ``call`` carry out ``command``; a 409 when the call is
        not live there, a 503 when that node does not answer."""
        outcome = await self._live.command(call.node_id, call.id, command)
        if outcome is CommandOutcome.NOT_LIVE:
            raise Conflict(f"call {call.id} is not live: its session has ended or not started")
        if outcome is CommandOutcome.UNREACHABLE:
            raise CallOwnerUnreachable(
                f"call {call.id} is held by node {call.node_id}, which cannot be reached"
                + ("" if self._settings.redis_url else " without REDIS_URL")
                + "; nothing was done (its calls end once its heartbeat expires)"
            )
