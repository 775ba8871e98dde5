"""A fake ElevenLabs stream-input WebSocket
(``/v1/text-to-speech/{voice_id}/stream-input``), as ElevenLabs documents it.

The client authenticates with the ``xi-api-key`` header (or ``xi_api_key`` in the first
message), opens the stream with ``{"text": " ", "voice_settings": ...}``, sends text
(each piece ending in a space; ``flush``/``try_trigger_generation`` optional) and ends
with ``{"text": ""}``. The fake answers ``{"audio": <base64>, "isFinal": false,
"normalizedAlignment": ..., "alignment": ...}`` messages in the ``output_format`` of
the query (raw PCM16 or μ-law of a sine tone), then ``{"isFinal": true}``, and closes.
A bad key or a protocol mistake is answered in-band, as ElevenLabs does:
``{"message", "error", "code": 1008}`` then close code 1008 (``in_band_error`` makes
every stream end that way, e.g. ``("quota_exceeded", ...)``). ``faults.status`` refuses
the handshake instead.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from tests.vendor_fakes.tts_support import (
    Faults,
    Receive,
    Received,
    Scope,
    Send,
    WebSocketPeer,
    audio_chunks,
    mulaw_encode,
    speech_seconds,
    tone,
)

__all__ = ["OUTPUT_FORMATS", "ElevenLabsFake"]

# output_format -> (sample rate, μ-law?)
OUTPUT_FORMATS = {
    "pcm_16000": (16000, False),
    "pcm_22050": (22050, False),
    "pcm_24000": (24000, False),
    "pcm_44100": (44100, False),
    "ulaw_8000": (8000, True),
}
_PREFIX, _SUFFIX = "/v1/text-to-speech/", "/stream-input"


@dataclass
class ElevenLabsFake:
    """The ASGI app (call it) plus what it received and its fault switches."""

    api_key: str = "el-test-key"
    faults: Faults = field(default_factory=Faults)
    in_band_error: tuple[str, str] | None = None  # (error, message) refused after the key
    close_frame_only: bool = False  # refuse with the close frame's reason alone
    received: list[Received] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        record = Received.from_scope(scope)
        self.received.append(record)
        await receive()  # websocket.connect
        path = scope["path"]
        if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
            await WebSocketPeer.refuse(send, 404, {"detail": "Not Found"}, {})
            return
        if self.faults.status is not None:
            headers = {"retry-after": self.faults.retry_after} if self.faults.retry_after else {}
            detail = {"status": "refused", "message": f"fake refusal {self.faults.status}"}
            await WebSocketPeer.refuse(send, self.faults.status, {"detail": detail}, headers)
            return
        await WebSocketPeer(receive, send, record, self.faults).run(self._speak)

    async def _refuse(self, peer: WebSocketPeer, error: str, message: str) -> None:
        if not self.close_frame_only:
            await peer.send_json({"message": message, "error": error, "code": 1008})
        await peer.close(1008, message)

    async def _speak(self, peer: WebSocketPeer) -> None:
        record = peer.record
        output_format = record.query.get("output_format", "mp3_44100")
        if output_format not in OUTPUT_FORMATS:
            await self._refuse(peer, "invalid_output_format", f"unsupported {output_format}")
            return
        first = await peer.next_message()
        if first is None:
            return
        if not isinstance(first, dict) or first.get("text") != " ":
            await self._refuse(peer, "invalid_message", "the first message's text must be a space")
            return
        key = record.headers.get("xi-api-key") or first.get("xi_api_key")
        if key != self.api_key:
            await self._refuse(peer, "invalid_api_key", "Invalid API key")
            return
        if self.in_band_error is not None:
            await self._refuse(peer, *self.in_band_error)
            return
        text = ""
        while True:
            message = await peer.next_message()
            if message is None:
                return
            if not isinstance(message, dict) or not isinstance(message.get("text"), str):
                await self._refuse(peer, "invalid_message", "every message needs a text string")
                return
            if message["text"] == "":
                break  # end of sequence
            if not message["text"].endswith(" "):
                await self._refuse(peer, "invalid_message", "text must end with a space")
                return
            text += message["text"]
        rate, mulaw = OUTPUT_FORMATS[output_format]
        audio = tone(rate, speech_seconds(text))
        if mulaw:
            audio = mulaw_encode(audio)
        chunks = audio_chunks(audio, rate * (1 if mulaw else 2))

        async def send_chunk(chunk: bytes) -> bool:
            return await peer.send_json(_audio_message(chunk, text))

        await peer.stream(chunks, send_chunk)
        if record.finished:
            await peer.send_json({"audio": None, "isFinal": True, "normalizedAlignment": None})
            await peer.close(1000)


def _audio_message(chunk: bytes, text: str) -> dict[str, Any]:
    alignment = {
        "chars": list(text),
        "charStartTimesMs": [10 * index for index in range(len(text))],
        "charDurationsMs": [10] * len(text),
    }
    return {
        "audio": base64.b64encode(chunk).decode(),
        "isFinal": False,
        "normalizedAlignment": alignment,
        "alignment": alignment,
    }
