"""Twilio Media Streams messages, both ways, without a server: what ``TwilioMediaStream``
writes must be what json.dumps of the documented message gives, and what Twilio sends
must parse to the same events whatever the JSON's spacing."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from starlette.websockets import WebSocketState

from callwright.audio.codec import mulaw_decode, mulaw_encode
from callwright.transports.protocol import (
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    TransportEvent,
)
from callwright.transports.twilio.media_stream import StreamStart, TwilioMediaStream, _parse

PCM16_FRAME = (
    np.rint(12000 * np.sin(2 * np.pi * 440 * np.arange(160) / 8000)).astype("<i2").tobytes()
)
MULAW_FRAME = mulaw_encode(PCM16_FRAME)
PAYLOAD = base64.b64encode(MULAW_FRAME).decode()


class RecordingWebSocket:
    """The two things ``TwilioMediaStream`` uses to send: its state and ``send_text``."""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_text(self, text: str) -> None:
        self.sent.append(text)


class NoControl:
    async def hang_up(self) -> None:
        raise AssertionError("not expected")

    async def transfer(self, destination: str) -> None:
        raise AssertionError("not expected")


def stream_for(stream_sid: str) -> tuple[TwilioMediaStream, RecordingWebSocket]:
    websocket = RecordingWebSocket()
    start = StreamStart(stream_sid=stream_sid, call_sid="CA1", account_sid="AC1")
    return TwilioMediaStream(websocket, start, NoControl()), websocket  # type: ignore[arg-type]


def documented(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


@pytest.mark.parametrize(
    "stream_sid",
    [
        "MZ18ad3ab5a668481ce02b83e7395059f0",
        'MZ"quoted"\\back\\slash',
        "MZ\n\t\x00\x1f control",
        "MZ é ü 日本 🎧 \u2028",
        '</script>{"event":"stop"}',
        "",
    ],
)
async def test_outbound_media_is_json_dumps_of_the_documented_message(stream_sid: str) -> None:
    stream, websocket = stream_for(stream_sid)
    await stream.send_audio(PCM16_FRAME)
    await stream.send_audio(b"")

    assert websocket.sent == [
        documented({"event": "media", "streamSid": stream_sid, "media": {"payload": PAYLOAD}}),
        documented({"event": "media", "streamSid": stream_sid, "media": {"payload": ""}}),
    ]
    assert json.loads(websocket.sent[0])["streamSid"] == stream_sid


async def test_clear_and_mark_messages() -> None:
    stream, websocket = stream_for('MZ"1')
    await stream.clear_audio()
    await stream.mark('reply-1 "a"')

    assert websocket.sent == [
        documented({"event": "clear", "streamSid": 'MZ"1'}),
        documented({"event": "mark", "streamSid": 'MZ"1', "mark": {"name": 'reply-1 "a"'}}),
    ]


async def test_nothing_is_sent_once_the_socket_is_closed() -> None:
    stream, websocket = stream_for("MZ1")
    websocket.application_state = WebSocketState.DISCONNECTED
    await stream.send_audio(PCM16_FRAME)
    assert websocket.sent == []


def media(track: str = "inbound", payload: str = PAYLOAD) -> dict[str, Any]:
    return {
        "event": "media",
        "sequenceNumber": "3",
        "media": {"track": track, "chunk": "2", "timestamp": "40", "payload": payload},
        "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
    }


@pytest.mark.parametrize(
    ("message", "event"),
    [
        (media(), AudioReceived(mulaw_decode(MULAW_FRAME), MULAW_FRAME)),
        (media(track="inbound_track"), AudioReceived(mulaw_decode(MULAW_FRAME), MULAW_FRAME)),
        (media(payload=""), AudioReceived(b"", b"")),
        (media(track="outbound"), None),
        ({"event": "dtmf", "dtmf": {"track": "inbound_track", "digit": "7"}}, DtmfReceived("7")),
        ({"event": "mark", "mark": {"name": "reply-3"}}, PlaybackMarked("reply-3")),
        ({"event": "stop", "stop": {"callSid": "CA1"}}, CallerHungUp("customer-ended-call")),
        ({"event": "connected", "protocol": "Call"}, None),
        ({"event": "media", "media": {"payload": "not base64!"}}, None),
        ({"event": "media"}, None),
        ({"media": {}}, None),
    ],
)
def test_inbound_messages(message: dict[str, Any], event: TransportEvent | None) -> None:
    # Twilio's own spacing, compact, and padded with whitespace parse alike.
    for text in (json.dumps(message), documented(message), f" \n{json.dumps(message)}\r\n "):
        assert _parse(text) == event


@pytest.mark.parametrize(
    "text",
    ["", "null", "[]", '"media"', documented(media()) + "x", documented(media()) + "{}", "{"],
)
def test_malformed_inbound_frames_are_skipped(text: str) -> None:
    assert _parse(text) is None
