"""AssemblyAI Universal-Streaming (v3)'s wire format: the ``/v3/ws`` query parameters
built from ``STTOptions``, the control messages, the ``ProviderError`` a close code
means, and the server's text frames parsed into ``Transcript``s.

stt_settings → parameters: ``speech_model`` (``model`` when it names an AssemblyAI
model, else universal-streaming-english for English and -multilingual otherwise),
``sample_rate``, ``format_turns`` (punctuate or smart_format), ``keyterms_prompt``
(keyterms and positively boosted keywords, as a JSON list: there are no
intensifiers), ``min_end_of_turn_silence_when_confident`` (endpointing) and
``max_turn_silence`` (utterance_end_ms); ``extra`` entries override or add parameters
(``audio_denoising`` is callwright's own and is not sent).

Errors, as the "Common session errors and closures" page documents them: a failure is
an ``Error`` frame and a close with the same code: 1008 (unauthorised) →
``ProviderAuthError``, 3009 (too many sessions, or a 1008 about concurrency) →
``ProviderRateLimited``, 3006/3007 (invalid message or audio) →
``ProviderRequestError``, anything else → ``ProviderUnavailable``.

Transcripts: a ``Turn`` in progress is an interim (all its words, final or not; times
arrive in ms); the end-of-turn message is the final — with ``format_turns``, the
formatted one that follows it (the unformatted one is then an interim).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from callwright.providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.protocols import STTOptions, Transcript, Word

__all__ = [
    "FORCE_ENDPOINT",
    "PROVIDER",
    "TERMINATE",
    "AssemblyAIOptions",
    "Termination",
    "error_of",
    "options",
    "own_options",
    "parse_message",
    "streaming_query",
]

PROVIDER: Final = "assemblyai"
FORCE_ENDPOINT: Final = json.dumps({"type": "ForceEndpoint"})
TERMINATE: Final = json.dumps({"type": "Terminate"})
_CALLWRIGHT_EXTRA: Final = frozenset({"audio_denoising"})


def _flag(value: object) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


@dataclass(frozen=True, slots=True)
class AssemblyAIOptions:
    """AssemblyAI's own options: ``format_turns`` (punctuated, cased turns), on when
    ``stt_settings`` asks for punctuation or smart formatting."""

    format_turns: bool = True


_DEFAULTS = AssemblyAIOptions()


def options(settings: Mapping[str, Any]) -> AssemblyAIOptions:
    """The catalog's options builder: from the assistant's validated ``stt_settings``."""
    return AssemblyAIOptions(format_turns=bool(settings["punctuate"] or settings["smart_format"]))


def own_options(options: STTOptions) -> AssemblyAIOptions:
    """``options.vendor`` when it is AssemblyAI's, else the defaults."""
    return options.vendor if isinstance(options.vendor, AssemblyAIOptions) else _DEFAULTS


def streaming_query(options: STTOptions, sample_rate: int) -> list[tuple[str, str]]:
    """The ``/v3/ws`` query parameters for ``options`` (see the module docstring)."""
    model = options.model or ""
    if not model.startswith(("universal-streaming", "u3-")):
        english = (options.language or "en").lower().startswith("en")
        model = f"universal-streaming-{'english' if english else 'multilingual'}"
    query = {
        "speech_model": model,
        "sample_rate": str(sample_rate),
        "encoding": "pcm_s16le",
        "format_turns": _flag(own_options(options).format_turns),
    }
    terms = [*options.keyterms, *(word for word, boost in options.keywords if boost > 0)]
    if terms:
        query["keyterms_prompt"] = json.dumps(list(dict.fromkeys(terms)))
    if options.endpointing_ms > 0:
        query["min_end_of_turn_silence_when_confident"] = str(options.endpointing_ms)
    query["max_turn_silence"] = str(max(options.utterance_end_ms, options.endpointing_ms))
    for key, value in options.extra.items():
        if key not in _CALLWRIGHT_EXTRA and value is not None:
            query[key] = json.dumps(value) if isinstance(value, list | dict) else _flag(value)
    return list(query.items())


def error_of(code: int | None, message: str) -> ProviderError:
    """An AssemblyAI close code (and ``Error`` message) as a ``ProviderError``."""
    text = f"{code}: {message}" if message else f"closed with {code}"
    if code == 1008 and "concurrent" not in message.lower():
        return ProviderAuthError(PROVIDER, text)
    if code in (1008, 3009):
        return ProviderRateLimited(PROVIDER, text)
    if code in (3006, 3007):
        return ProviderRequestError(PROVIDER, text)
    return ProviderUnavailable(PROVIDER, text)


@dataclass(frozen=True, slots=True)
class Termination:
    """``Termination``: the session ended, having transcribed ``audio_duration_s``."""

    audio_duration_s: float


def parse_message(
    text: str, *, format_turns: bool
) -> Transcript | Termination | ProviderError | None:
    """A server text frame: a ``Turn`` as its ``Transcript`` (None when it has no
    text), ``Termination``, an ``Error`` as the ``ProviderError`` it means (the close
    follows), anything else None. A malformed frame raises ``ProviderUnavailable``."""
    try:
        message = json.loads(text)
        kind = message.get("type")
        if kind == "Turn":
            return _turn(message, format_turns=format_turns)
        if kind == "Termination":
            return Termination(float(message.get("audio_duration_seconds", 0.0)))
        if kind == "Error":
            return error_of(message.get("error_code"), str(message.get("error", "")))
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ProviderUnavailable(PROVIDER, f"malformed message {text[:200]!r}") from exc
    return None


def _turn(message: dict[str, Any], *, format_turns: bool) -> Transcript | None:
    words = tuple(
        Word(
            text=str(word["text"]),
            start_s=float(word["start"]) / 1000,
            end_s=float(word["end"]) / 1000,
            confidence=float(word.get("confidence", 1.0)),
        )
        for word in message.get("words") or ()
    )
    is_final = bool(message["end_of_turn"]) and (
        bool(message.get("turn_is_formatted")) or not format_turns
    )
    text = str(message.get("transcript") or "").strip()
    if not is_final:
        text = " ".join(word.text for word in words) or text
    if not text:
        return None
    return Transcript(
        text=text,
        is_final=is_final,
        start_s=words[0].start_s if words else 0.0,
        end_s=words[-1].end_s if words else 0.0,
        words=words,
        confidence=sum(w.confidence for w in words) / len(words) if words else 1.0,
    )
