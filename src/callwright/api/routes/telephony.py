"""Twilio's side of a phone call, over HTTP: the number's voice webhook (answers TwiML
that connects a Media Stream), call status callbacks, answering-machine detection
results, and the Media Streams WebSocket itself. The rules are the domain's
(``domain.calls.twilio_webhooks``): a request whose ``X-Twilio-Signature`` does not
verify is a 403, a stream whose token is refused is closed with 1008.
"""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response

from callwright.api.deps import AppState, DbSession, StateDep, public_base_url
from callwright.api.routing import CallwrightRoute
from callwright.domain.calls.twilio_webhooks import (
    SignedRequest,
    TwilioCalls,
    open_twilio_stream,
    stream_claim,
)
from callwright.errors import Forbidden
from callwright.transports.twilio.control import TwilioCallControl
from callwright.transports.twilio.media_stream import TwilioMediaStream, read_start

__all__ = ["close_quietly", "router"]

router = APIRouter(prefix="/telephony/twilio", tags=["telephony"], route_class=CallwrightRoute)

_TWIML = "application/xml"


async def get_twilio_calls(request: Request, session: DbSession, state: StateDep) -> TwilioCalls:
    return TwilioCalls(
        session,
        state.secret_box,
        state.settings,
        state.calls,
        public_base_url(state.settings, request),
    )


TwilioCallsDep = Annotated[TwilioCalls, Depends(get_twilio_calls)]


async def signed_request(request: Request, state: StateDep) -> SignedRequest:
    """Twilio's form POST with the URL it signed: the one it requested, behind the
    public base URL."""
    form = await request.form()
    url = public_base_url(state.settings, request) + request.url.path
    if request.url.query:
        url = f"{url}?{request.url.query}"
    return SignedRequest(
        {key: str(value) for key, value in form.multi_items()},
        url,
        request.headers.get("x-twilio-signature"),
    )


SignedRequestDep = Annotated[SignedRequest, Depends(signed_request)]


@router.post("/voice", operation_id="twilio_voice_webhook", include_in_schema=False)
async def voice_webhook(signed: SignedRequestDep, twilio: TwilioCallsDep) -> Response:
    """An incoming call to one of our numbers: answer with ``<Connect><Stream>``."""
    return Response(content=await twilio.incoming_call(signed), media_type=_TWIML)


@router.post("/status", operation_id="twilio_status_callback", include_in_schema=False)
async def status_callback(signed: SignedRequestDep, twilio: TwilioCallsDep) -> Response:
    """Call progress from Twilio: ringing, answered, and final statuses."""
    await twilio.status_changed(signed)
    return Response(status_code=204)


@router.post("/amd", operation_id="twilio_amd_callback", include_in_schema=False)
async def amd_callback(
    signed: SignedRequestDep, twilio: TwilioCallsDep, state: StateDep
) -> Response:
    """Answering-machine detection's verdict, handed to the call's stream if it runs
    in this process."""
    verdict = await twilio.answered_by(signed)
    if verdict is not None:
        call_id, event = verdict
        transport = state.calls.transport_of(call_id)
        if isinstance(transport, TwilioMediaStream):
            transport.inject(event)
    return Response(status_code=204)


@router.websocket("/stream")
async def media_stream(websocket: WebSocket) -> None:
    """Twilio's bidirectional Media Stream for one call."""
    state: AppState = websocket.app.state.callwright
    await websocket.accept()
    start = await read_start(websocket)
    try:
        claim = stream_claim(state.settings, start)
    except Forbidden as exc:
        await websocket.close(code=1008, reason=exc.message)
        return
    assert start is not None  # a token was read from it
    async with state.session_factory.begin() as session:
        opened = await open_twilio_stream(
            session, state.secret_box, claim, start, state.calls.node_id
        )
    if opened is None:
        await websocket.close(code=1008, reason="this stream token has been used")
        return
    control = TwilioCallControl(
        opened.account, start.call_sid, base_url=state.settings.twilio_api_base_url
    )
    await state.calls.run_call(
        opened.call_id,
        TwilioMediaStream(websocket, start, control),
        session_over=lambda: close_quietly(websocket),
    )
    await close_quietly(websocket)  # a call that never started


async def close_quietly(websocket: WebSocket) -> None:
    """Close the stream unless it is closed already: by our side (a RuntimeError), or
    by Twilio's, which hangs up its socket after ``stop`` (Starlette's 1006
    ``WebSocketDisconnect`` on the send; uncaught, it was logged as an exception in the
    ASGI application at the end of such calls — found by benchmarks/soak.py)."""
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close()
