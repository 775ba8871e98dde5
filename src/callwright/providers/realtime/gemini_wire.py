"""Gemini Live's wire format (decision 018): the ``setup`` message built from
``RealtimeOptions``, the audio conversions between the call's wire format and
Gemini's (PCM16 16 kHz in, PCM16 24 kHz out), and the errors its close codes mean.

Gemini reports a refused set-up or a failure by closing the WebSocket with a close
code and a reason (``1007`` an invalid argument, ``1008`` a policy violation such as a
bad key or an unknown model, ``1011`` an internal error, ``1013`` try again later);
there is no error message in the stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from callwright.audio.codec import mulaw_decode, mulaw_encode
from callwright.audio.resample import Resampler
from callwright.providers.common import json_object
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.realtime.protocol import RealtimeAudio, RealtimeOptions

__all__ = [
    "INPUT_MIME",
    "INPUT_RATE",
    "OUTPUT_RATE",
    "PROVIDER",
    "VOICES",
    "AudioIn",
    "AudioOut24",
    "closed_error",
    "parse_message",
    "setting_problems",
    "setup_message",
    "tool_response",
]

PROVIDER: Final = "gemini"
INPUT_RATE: Final = 16_000
OUTPUT_RATE: Final = 24_000
INPUT_MIME: Final = f"audio/pcm;rate={INPUT_RATE}"
DEFAULT_VOICE: Final = "Puck"
# The prebuilt voices of the Live API's native-audio models (speech generation guide).
VOICES: Final = frozenset(
    {
        "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede",
        "Callirrhoe", "Autonoe", "Enceladus", "Iapetus", "Umbriel", "Algieba",
        "Despina", "Erinome", "Algenib", "Rasalgethi", "Laomedeia", "Achernar",
        "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird", "Zubenelgenubi",
        "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
    }
)  # fmt: skip
# semantic_vad's eagerness as Gemini's end-of-speech sensitivity (a high sensitivity
# ends the caller's turn sooner); "auto" and "medium" leave the server's default.
_END_SENSITIVITY: Final = {"high": "END_SENSITIVITY_HIGH", "low": "END_SENSITIVITY_LOW"}


_KNOWN_VOICES: Final = {name.lower(): name for name in VOICES}


def _voice_problem(voice: str) -> str | None:
    if voice.lower() in _KNOWN_VOICES:
        return None
    return (
        f"realtime_settings.voice {voice!r} is not a Gemini Live voice (one of "
        f"{', '.join(sorted(VOICES))})"
    )


def _model_problem(model: str) -> str | None:
    if model.removeprefix("models/").startswith("gemini"):
        return None
    return f"realtime_settings.model {model!r} is not a Gemini Live model (a gemini-… model)"


def setting_problems(realtime_settings: Mapping[str, Any]) -> list[str]:
    """What Gemini would refuse in ``realtime_settings`` (OpenAI's default voice and
    model): said by ``POST /validate`` before a call fails on it."""
    voice, model = realtime_settings.get("voice"), realtime_settings.get("model")
    found = [
        _voice_problem(str(voice)) if voice else None,
        _model_problem(str(model)) if model else None,
    ]
    return [problem for problem in found if problem is not None]


def voice_of(options: RealtimeOptions) -> str:
    """The prebuilt voice, refusing one that is not Gemini's (OpenAI's ``marin``)."""
    voice = options.voice or DEFAULT_VOICE
    if (problem := _voice_problem(voice)) is not None:
        raise ProviderRequestError(PROVIDER, problem)
    return _KNOWN_VOICES[voice.lower()]


def setup_message(options: RealtimeOptions, model: str) -> dict[str, Any]:
    """The first client message: ``{"setup": BidiGenerateContentSetup}``. Another
    vendor's model (``gpt-realtime``, the OpenAI default) is refused before connecting."""
    if (problem := _model_problem(model)) is not None:
        raise ProviderRequestError(PROVIDER, problem)
    speech: dict[str, Any] = {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice_of(options)}}
    }
    if options.language:
        speech["languageCode"] = options.language
    generation: dict[str, Any] = {"responseModalities": ["AUDIO"], "speechConfig": speech}
    if options.max_output_tokens:
        generation["maxOutputTokens"] = options.max_output_tokens
    # Penalties are left out: Gemini refuses them outside the gemini-2.0 models.
    sampling = {"temperature": options.temperature, "topP": options.top_p}
    generation |= {name: value for name, value in sampling.items() if value is not None}
    detection: dict[str, Any] = {"disabled": False}
    if options.turn_detection == "server_vad":
        detection["silenceDurationMs"] = options.silence_ms
        detection["prefixPaddingMs"] = options.prefix_padding_ms
    elif options.eagerness in _END_SENSITIVITY:
        detection["endOfSpeechSensitivity"] = _END_SENSITIVITY[options.eagerness]
    setup: dict[str, Any] = {
        "model": model if model.startswith("models/") else f"models/{model}",
        "generationConfig": generation,
        "realtimeInputConfig": {
            "automaticActivityDetection": detection,
            # The caller's speech stops the model's generation (the vendor's barge-in).
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
        },
        # The session records what the caller heard from the model's own words.
        "outputAudioTranscription": {},
        # Handles to carry the conversation over when the server ends a connection.
        "sessionResumption": {},
    }
    if options.instructions:
        setup["systemInstruction"] = {"parts": [{"text": options.instructions}]}
    if options.tools:
        declarations = [
            {
                "name": tool.name,
                "description": tool.description,
                "parametersJsonSchema": dict(tool.parameters),
            }
            for tool in options.tools
        ]
        setup["tools"] = [{"functionDeclarations": declarations}]
    if options.transcription_model:
        # Gemini transcribes the caller itself; there is no model to choose.
        setup["inputAudioTranscription"] = {}
    return {"setup": setup}


class AudioIn:
    """The caller's audio in the call's wire format → PCM16 16 kHz."""

    def __init__(self, audio: RealtimeAudio) -> None:
        self._mulaw = audio == "pcmu"
        self._resampler = Resampler(8_000 if self._mulaw else 24_000, INPUT_RATE)

    def convert(self, audio: bytes) -> bytes:
        return self._resampler.process(mulaw_decode(audio) if self._mulaw else audio)


class AudioOut24:
    """The model's PCM16 24 kHz → the call's wire format (μ-law 8 kHz on a phone line),
    one answer at a time: ``flush`` at its end gives the resampler's tail."""

    def __init__(self, audio: RealtimeAudio) -> None:
        self._mulaw = audio == "pcmu"
        self._resampler = Resampler(OUTPUT_RATE, 8_000) if self._mulaw else None

    def convert(self, pcm24: bytes) -> bytes:
        if self._resampler is None:
            return pcm24
        return mulaw_encode(self._resampler.process(pcm24))

    def flush(self) -> bytes:
        if self._resampler is None:
            return b""
        return mulaw_encode(self._resampler.process(b"", last=True))

    def reset(self) -> None:
        if self._resampler is not None:
            self._resampler.reset()


def closed_error(code: int | None, reason: str) -> ProviderError:
    """The ``ProviderError`` a close code and reason of Gemini's mean."""
    text = f"closed with {code}: {reason or 'no reason given'}"
    lowered = reason.lower()
    if "api key" in lowered or "api_key" in lowered or "permission" in lowered:
        return ProviderAuthError(PROVIDER, text)
    if "quota" in lowered or "resource_exhausted" in lowered or "rate" in lowered.split():
        return ProviderRateLimited(PROVIDER, text)
    if code in (1007, 1008):
        return ProviderRequestError(PROVIDER, text)
    return ProviderUnavailable(PROVIDER, text)


def tool_response(output: str) -> dict[str, Any]:
    """A tool's result as the ``response`` object Gemini takes: a JSON object as is,
    anything else as ``{"output": ...}``."""
    try:
        parsed = json.loads(output)
    except ValueError:
        return {"output": output}
    return parsed if isinstance(parsed, dict) else {"output": parsed}


def parse_message(raw: str | bytes) -> dict[str, Any]:
    """A server frame as its JSON object; anything else means the server is broken."""
    return json_object(PROVIDER, raw)
