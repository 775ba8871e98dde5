"""OpenAI Realtime's wire format (the GA interface, decision 018): the ``session``
object of the set-up's ``session.update`` built from ``RealtimeOptions``, the
``ProviderError`` an ``error`` event means, and the server's frames parsed.
"""

from __future__ import annotations

from typing import Any, Final

from callwright.providers.common import json_object
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.realtime.protocol import RealtimeOptions

__all__ = ["PROVIDER", "error_of", "parse_event", "session_config"]

PROVIDER: Final = "openai"
_DEFAULT_VOICE: Final = "marin"


def session_config(options: RealtimeOptions) -> dict[str, Any]:
    """The ``session`` object of the set-up's ``session.update``."""
    audio_format: dict[str, Any] = (
        {"type": "audio/pcmu"} if options.audio == "pcmu" else {"type": "audio/pcm", "rate": 24000}
    )
    turn: dict[str, Any] = {
        "type": options.turn_detection,
        # The session decides when to answer and when caller speech interrupts.
        "create_response": False,
        "interrupt_response": False,
    }
    if options.turn_detection == "server_vad":
        turn["silence_duration_ms"] = options.silence_ms
        turn["prefix_padding_ms"] = options.prefix_padding_ms
    else:
        turn["eagerness"] = options.eagerness
    audio_input: dict[str, Any] = {"format": audio_format, "turn_detection": turn}
    if options.transcription_model:
        transcription = {"model": options.transcription_model}
        if options.language:
            transcription["language"] = options.language.split("-")[0].lower()
        if options.transcription_prompt:
            transcription["prompt"] = options.transcription_prompt
        audio_input["transcription"] = transcription
    if options.noise_reduction:
        audio_input["noise_reduction"] = {"type": options.noise_reduction}
    session: dict[str, Any] = {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": audio_input,
            "output": {"format": audio_format, "voice": options.voice or _DEFAULT_VOICE},
        },
        "tools": [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            }
            for tool in options.tools
        ],
        "tool_choice": "auto",
    }
    if options.instructions:
        session["instructions"] = options.instructions
    if options.max_output_tokens:
        session["max_output_tokens"] = min(options.max_output_tokens, 4096)
    return session


def error_of(payload: Any) -> ProviderError:
    """An ``error`` event's ``error`` object as the ``ProviderError`` it means."""
    error = payload if isinstance(payload, dict) else {}
    kind, code = str(error.get("type") or ""), str(error.get("code") or "")
    message = str(error.get("message") or "unknown error")
    param = f" ({error['param']})" if error.get("param") else ""
    text = f"{code or kind}{param}: {message}" if (code or kind) else message
    if code == "invalid_api_key" or kind in ("authentication_error", "permission_error"):
        return ProviderAuthError(PROVIDER, text)
    if "rate_limit" in code or kind == "rate_limit_error":
        return ProviderRateLimited(PROVIDER, text)
    if kind == "server_error":
        return ProviderUnavailable(PROVIDER, text)
    return ProviderRequestError(PROVIDER, text)


def parse_event(raw: str | bytes) -> dict[str, Any]:
    """A server frame as its JSON object; anything else means the server is broken."""
    return json_object(PROVIDER, raw)
