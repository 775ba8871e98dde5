"""The end of a Twilio stream whose carrier hung up first (Twilio closes its socket
after ``stop``): closing our side must not raise out of the route."""

from __future__ import annotations

import pytest
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from callwright.api.routes.telephony import close_quietly


def _hung_up() -> WebSocket:
    async def receive() -> Message:
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        raise OSError("the peer closed the connection")  # uvicorn's ClientDisconnected

    websocket = WebSocket({"type": "websocket", "path": "/", "headers": []}, receive, send)
    websocket.application_state = WebSocketState.CONNECTED
    return websocket


async def test_a_socket_closed_by_the_carrier_is_closed_quietly() -> None:
    with pytest.raises(WebSocketDisconnect):  # what the route used to let out
        await _hung_up().close()
    await close_quietly(_hung_up())


async def test_a_socket_already_closed_by_us_is_closed_quietly() -> None:
    websocket = _hung_up()
    websocket.application_state = WebSocketState.DISCONNECTED
    await close_quietly(websocket)
