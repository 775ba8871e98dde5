"""The Calls API: place phone calls, start browser calls (and their WebSocket), list
and read call records and recordings, end a live call or speak into it."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, WebSocket
from fastapi.responses import Response

from callwright.api.deps import CurrentPrincipal, DbSession, StateDep, public_base_url
from callwright.api.openapi import errors
from callwright.api.routing import CallwrightRoute
from callwright.domain.analysis.service import AnalysisService
from callwright.domain.calls.queries import CallFilters, load_call
from callwright.domain.calls.repository import consume_stream_nonce
from callwright.domain.calls.schemas import (
    CallIn,
    CallResponse,
    SayIn,
    WebCallIn,
    WebCallResponse,
)
from callwright.domain.calls.service import CallService, call_view
from callwright.domain.calls.tokens import read_stream_token, verify_recording_signature
from callwright.engine.tasks import drop_cancellation
from callwright.errors import Forbidden, NotFound
from callwright.runtime.live_transcript import live_transcript
from callwright.store.call_status import CallStatus
from callwright.transports.browser import BrowserTransport

__all__ = ["router"]

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/calls", tags=["calls"], route_class=CallwrightRoute)

# How long a browser call's last transcript lines may take to reach the page.
_LAST_LINES_S = 2.0

CallIdPath = Annotated[int, Path(description="The call's id.", ge=1, le=2**63 - 1)]


async def get_calls(
    request: Request, session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> CallService:
    return CallService(
        session,
        principal,
        state.secret_box,
        state.settings,
        state.calls,
        public_base_url(state.settings, request),
    )


CallsDep = Annotated[CallService, Depends(get_calls)]


def _view(call: object) -> CallResponse:
    return CallResponse.model_validate(call_view(call))  # type: ignore[arg-type]


@router.post(
    "", operation_id="create_call", status_code=201, responses=errors(401, 409, 422, 502, 503)
)
async def create_call(body: CallIn, calls: CallsDep) -> CallResponse:
    """Place an outbound phone call: the assistant calls ``customer_number`` from the
    organization's number ``phone_number_id`` (through its Twilio account). With a
    ``voicemail_message``, answering-machine detection is on and a machine gets the
    message."""
    return _view(await calls.create_phone_call(body))


@router.post(
    "/web", operation_id="create_web_call", status_code=201, responses=errors(401, 409, 422, 503)
)
async def create_web_call(body: WebCallIn, calls: CallsDep) -> WebCallResponse:
    """Start a browser call. Connect to ``ws_url`` within the token's lifetime; the
    socket carries PCM16 mono 16 kHz audio both ways and JSON messages (README)."""
    call, token, ws_url = await calls.create_web_call(body)
    return WebCallResponse(call_id=call.id, token=token, ws_url=ws_url)


@router.get("", operation_id="list_calls", responses=errors(401, 422))
async def list_calls(
    calls: CallsDep,
    assistant_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status: Annotated[CallStatus | None, Query()] = None,
    direction: Annotated[Literal["inbound", "outbound", "web"] | None, Query()] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_before: Annotated[datetime | None, Query()] = None,
    skip: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CallResponse]:
    """List calls, newest first."""
    filters = CallFilters(
        assistant_id=assistant_id,
        status=status,
        direction=direction,
        created_after=created_after,
        created_before=created_before,
    )
    return [_view(call) for call in await calls.list(filters, skip=skip, limit=limit)]


@router.get("/{call_id}", operation_id="get_call", responses=errors(401, 404, 422))
async def get_call(call_id: CallIdPath, calls: CallsDep) -> CallResponse:
    """A call and its record: transcript with timestamps and interruptions, tool
    calls, per-turn timings, provider usage, end reason."""
    return _view(await calls.get(call_id))


@router.get(
    "/{call_id}/recording",
    operation_id="get_call_recording",
    responses={200: {"content": {"audio/wav": {}}}, **errors(401, 404, 422)},
    response_class=Response,
)
async def get_call_recording(call_id: CallIdPath, calls: CallsDep, state: StateDep) -> Response:
    """The call's recording: a stereo WAV, caller left, assistant right."""
    call = await calls.get(call_id)
    data = await state.recordings.get(call.recording_key) if call.recording_key else None
    if data is None:
        raise NotFound(f"call {call_id} has no recording")
    return Response(content=data, media_type="audio/wav")


@router.get(
    "/{call_id}/recording.wav",
    operation_id="get_call_recording_signed",
    responses={200: {"content": {"audio/wav": {}}}, **errors(403, 404, 422)},
    response_class=Response,
)
async def get_call_recording_signed(
    call_id: CallIdPath,
    state: StateDep,
    session: DbSession,
    expires: Annotated[int, Query(ge=0, le=2**40)],
    signature: Annotated[str, Query(min_length=1, max_length=100)],
) -> Response:
    """The recording through the signed, expiring link of an end-of-call report (no API
    key needed; the link is the credential)."""
    if not verify_recording_signature(
        state.settings.resolved_secret_key(), call_id, expires, signature
    ):
        raise Forbidden("the recording link is invalid or has expired")
    call = await load_call(session, call_id)
    data = await state.recordings.get(call.recording_key) if call and call.recording_key else None
    if data is None:
        raise NotFound(f"call {call_id} has no recording")
    return Response(content=data, media_type="audio/wav")


@router.post(
    "/{call_id}/end", operation_id="end_call", responses=errors(401, 404, 409, 422, 502, 503)
)
async def end_call(call_id: CallIdPath, calls: CallsDep) -> CallResponse:
    """End a call now, on whichever server holds it (a ringing phone call is cancelled).
    409 when it has already ended, 503 when the server holding it does not answer."""
    return _view(await calls.end(call_id))


@router.post(
    "/{call_id}/say", operation_id="say_in_call", responses=errors(401, 404, 409, 422, 503)
)
async def say_in_call(call_id: CallIdPath, body: SayIn, calls: CallsDep) -> CallResponse:
    """Make the assistant say ``message`` now, optionally hanging up afterwards. 409
    when the call is not live, 503 when the server holding it does not answer."""
    return _view(await calls.say(call_id, body.message, end_after=body.end_call_after_spoken))


@router.post(
    "/{call_id}/analysis",
    operation_id="rerun_call_analysis",
    status_code=202,
    responses=errors(401, 404, 409, 422),
)
async def rerun_call_analysis(
    call_id: CallIdPath, session: DbSession, principal: CurrentPrincipal, state: StateDep
) -> CallResponse:
    """Analyse an ended call again with its assistant's current ``analysis_plan``,
    replacing its analysis (``status`` is ``pending`` until the analysis is done)."""
    service = AnalysisService(session, principal, state.secret_box)
    return _view(await service.rerun(call_id))


@router.websocket("/web/stream")
async def web_call_stream(websocket: WebSocket, token: str = "") -> None:
    """A browser call's audio and events (see ``callwright.transports.browser``)."""
    state = websocket.app.state.callwright
    try:
        claim = read_stream_token(state.settings.resolved_secret_key(), token)
    except ValueError:
        await websocket.close(code=1008, reason="invalid or expired call token")
        return
    async with state.session_factory.begin() as db:
        accepted = await consume_stream_nonce(db, claim.call_id, claim.nonce, state.calls.node_id)
    if not accepted:
        await websocket.close(code=1008, reason="this call token has been used")
        return
    await websocket.accept()
    transport = BrowserTransport(websocket)
    await transport.send_json({"type": "call-started", "call_id": claim.call_id})
    async with asyncio.TaskGroup() as group:
        pump = group.create_task(transport.pump_transcripts())
        pump.add_done_callback(drop_cancellation)  # its frames die with it (engine.tasks)

        async def session_over() -> None:
            # The page gets its last transcript lines and the call-ended notice, then
            # its socket is closed: the record is written after this, and may wait for
            # the database; the caller must not (as for Twilio calls).
            transport.stop_pump()
            await asyncio.wait({pump}, timeout=_LAST_LINES_S)
            pump.cancel()
            await transport.close()

        try:
            await state.calls.run_call(
                claim.call_id,
                transport,
                extra_sink=live_transcript(transport),
                session_over=session_over,
            )
        finally:
            await session_over()  # again, a no-op; or a call that never started
