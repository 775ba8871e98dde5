"""The immutable snapshot of an assistant that one call runs on.

Taken once at call start from the assistant's settings document (the canonical JSON,
secrets decrypted), so that editing the assistant never changes a call in progress.
The engine reads only this object; every field here is acted on by the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from callwright.engine.fillers import filler_words_for
from callwright.engine.phrases import default_phrases
from callwright.engine.templating import render_template
from callwright.providers.protocols import STTOptions, TTSOptions
from callwright.providers.vendors import CATALOG, stt_vendor

__all__ = [
    "ERROR_GOODBYE",
    "BuiltinTool",
    "CallConfig",
    "EndpointingConfig",
    "InterruptionConfig",
    "LlmConfig",
    "TurnDetection",
]

# Said before hanging up when the LLM keeps failing and end_call_message is not set:
# the caller must hear why the line goes dead, not just silence and a click.
ERROR_GOODBYE = "I'm sorry, I can't continue this call right now. Please call back later. Goodbye."

TurnDetection = Literal["silence", "smart"]

FirstMessageMode = Literal[
    "assistant-speaks-first",
    "assistant-waits-for-user",
    "assistant-speaks-first-with-model-generated-message",
]


@dataclass(frozen=True, slots=True)
class LlmConfig:
    """llm_settings (+ the provider's model and custom_config), sent on every turn."""

    system_prompt: str | None
    temperature: float
    max_tokens: int
    top_p: float
    frequency_penalty: float
    presence_penalty: float
    stop: tuple[str, ...]
    model: str | None
    extra: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EndpointingConfig:
    """When the caller's turn ends (seconds).

    ``vad_turnoff_s``: silence after which voice activity is considered stopped;
    ``min_silence_s``: silence before the transcriber is asked to finalise;
    ``silence_threshold_s``: silence after the last speech at which the turn is
    committed (once the final transcript is in); ``utterance_end_s``: the longest wait
    for that final after the transcriber was asked for it, after which the latest
    interim text is used.
    """

    vad_turnoff_s: float
    min_silence_s: float
    silence_threshold_s: float
    utterance_end_s: float
    # stt_settings.turn_detection: which EndOfTurnPolicy the session builds
    # ("silence": SilenceEndOfTurn; "smart": engine.smart_turn.SmartEndOfTurn).
    turn_detection: TurnDetection = "silence"


@dataclass(frozen=True, slots=True)
class InterruptionConfig:
    """Barge-in: caller words, or seconds of caller speech, that stop the assistant;
    and the cooldown after a barge-in during which no new one is taken. Speech made
    only of ``acknowledgement_phrases`` never stops it; one of the
    ``interruption_phrases`` stops it below the thresholds (``engine.phrases``). A
    barge-in whose speech gave no words (or only acknowledgements) by
    ``false_interruption_timeout_s`` after the caller fell quiet was a false one: the
    assistant says the rest (None: it stays silent)."""

    min_words: int
    min_speaking_s: float
    cooldown_s: float
    acknowledgement_phrases: tuple[str, ...] = ()
    interruption_phrases: tuple[str, ...] = ()
    false_interruption_timeout_s: float | None = None


@dataclass(frozen=True, slots=True)
class BuiltinTool:
    """tools_settings.end_call / transfer_call: offered to the model when enabled, with
    the scenarios in its description; ``message`` is spoken before acting."""

    enabled: bool
    scenarios: tuple[str, ...] = ()
    message: str | None = None
    numbers: tuple[str, ...] = ()  # transfer destinations


@dataclass(frozen=True, slots=True)
class CallConfig:
    assistant_id: int | None
    first_message_mode: FirstMessageMode
    first_message: str | None  # rendered with the call's variables
    llm: LlmConfig
    endpointing: EndpointingConfig
    interruption: InterruptionConfig
    stt: STTOptions
    # stt_settings.audio_denoising: stationary noise is removed from the caller's audio
    # before the transcriber hears it (audio/denoise.py); the VAD hears it unchanged.
    audio_denoising: bool
    tts: TTSOptions
    idle_timeout_s: float | None
    idle_message: str | None
    max_idle_messages: int
    # error_message: said when every LLM failed a reply (the caller's next turn tries
    # again); max_error_messages: failed replies in a row that get it. The next failure
    # ends the call (EndReason.LLM_FAILED) after end_call_message, else ERROR_GOODBYE.
    error_message: str | None
    max_error_messages: int
    max_duration_s: float | None
    end_call_message: str | None
    end_call_tool: BuiltinTool
    # tools_settings.enabled_tools (engine.builtin_tools decides what they offer)
    enabled_tools: frozenset[str]
    transfer_tool: BuiltinTool
    end_call_phrases: tuple[str, ...]  # the assistant saying one ends the call (Vapi)
    end_call_trigger_phrase: str | None  # the caller saying it ends the call (seed 004)
    end_call_url: str | None
    voicemail_message: str | None
    filler_words: tuple[str, ...]  # empty when disabled; a built-in list when none given
    maintain_context: bool  # start from the caller's previous conversation (seed 002)
    # The first message is the same on every call (no variable changed it): its audio
    # may be synthesised once and kept (engine.speaking's SpeechCache).
    static_first_message: bool = False
    variables: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls,
        settings: Mapping[str, Any],
        variables: Mapping[str, Any] | None = None,
        *,
        assistant_id: int | None = None,
    ) -> CallConfig:
        """Build from the canonical assistant document (``AssistantIn.model_dump()``)."""
        variables = dict(variables or {})
        llm = settings["llm_settings"]
        provider = settings["llm_provider_config"]
        stt = settings["stt_settings"]
        tts = settings["tts_settings"]
        interruption = settings["interruption_settings"]
        template = settings.get("dynamic_welcome_message") or llm.get("welcome_message")
        first_message = render_template(template, variables) if template else None
        idle_timeout = settings.get("idle_timeout")
        max_duration = settings.get("max_duration_seconds")
        tools = settings["tools_settings"]
        end_call_tool, transfer_tool = tools["end_call"], tools["transfer_call"]
        enabled_tools = frozenset(tools.get("enabled_tools") or ())
        return cls(
            assistant_id=assistant_id,
            first_message_mode=settings["first_message_mode"],
            first_message=first_message or None,
            llm=LlmConfig(
                system_prompt=render_template(llm["system_prompt"], variables)
                if llm.get("system_prompt")
                else None,
                temperature=llm["temperature"],
                max_tokens=llm["max_tokens"],
                top_p=llm["top_p"],
                frequency_penalty=llm["frequency_penalty"],
                presence_penalty=llm["presence_penalty"],
                stop=tuple(llm["stop_sequences"]),
                model=provider.get("model"),
                extra=dict(provider.get("custom_config") or {}),
            ),
            endpointing=EndpointingConfig(
                vad_turnoff_s=stt["vad_turnoff"] / 1000,
                min_silence_s=stt["endpointing"]["min_silence_duration"] / 1000,
                silence_threshold_s=stt["endpointing"]["silence_threshold"] / 1000,
                utterance_end_s=stt["utterance_end_ms"] / 1000,
                turn_detection=stt.get("turn_detection") or "silence",
            ),
            interruption=_interruption(interruption, stt.get("language")),
            stt=STTOptions(
                model=stt.get("model"),
                language=stt.get("language"),
                punctuate=stt["punctuate"],
                interim_results=stt["interim_results"],
                keywords=tuple((k["keyword"], float(k["intensifier"])) for k in stt["keywords"]),
                keyterms=tuple(stt["keyterms"]),
                endpointing_ms=stt["endpointing"]["silence_threshold"],
                utterance_end_ms=stt["utterance_end_ms"],
                extra={"audio_denoising": stt["audio_denoising"]},
                vendor=CATALOG.vendor_options("stt", stt_vendor(stt.get("model")), stt),
            ),
            audio_denoising=bool(stt["audio_denoising"]),
            tts=TTSOptions(
                voice_id=tts.get("voice_id"),
                model_id=tts.get("model_id"),
                language=stt.get("language"),
                extra=dict(tts.get("provider_config") or {}),
                vendor=CATALOG.vendor_options("tts", tts.get("provider") or "", tts),
            ),
            idle_timeout_s=float(idle_timeout) if idle_timeout else None,
            idle_message=settings.get("idle_message"),
            max_idle_messages=settings.get("max_idle_messages") or 0,
            error_message=settings.get("error_message"),
            max_error_messages=settings.get("max_error_messages") or 0,
            max_duration_s=float(max_duration) if max_duration else None,
            end_call_message=settings.get("end_call_message"),
            end_call_tool=BuiltinTool(
                enabled=bool(end_call_tool["enabled"]) or "end_call" in enabled_tools,
                scenarios=tuple(end_call_tool["scenarios"]),
                message=end_call_tool.get("custom_message") or settings.get("end_call_message"),
            ),
            enabled_tools=enabled_tools,
            transfer_tool=BuiltinTool(
                enabled=(bool(transfer_tool["enabled"]) or "transfer_call" in enabled_tools)
                and bool(transfer_tool["transfer_numbers"]),
                scenarios=tuple(transfer_tool["scenarios"]),
                message=transfer_tool.get("custom_message")
                or settings.get("transfer_call_message"),
                numbers=tuple(transfer_tool["transfer_numbers"]),
            ),
            end_call_phrases=tuple(p.lower() for p in settings.get("end_call_phrases", [])),
            end_call_trigger_phrase=(settings.get("end_call_trigger_phrase") or "").lower() or None,
            end_call_url=settings.get("end_call_url"),
            voicemail_message=settings.get("voicemail_message"),
            filler_words=filler_words_for(
                bool(settings.get("filler_words_enabled")),
                settings.get("filler_words") or (),
                stt.get("language"),
            ),
            maintain_context=bool(settings.get("maintain_context")),
            static_first_message=bool(template) and first_message == template,
            variables=variables,
        )


def _interruption(interruption: Mapping[str, Any], language: str | None) -> InterruptionConfig:
    """interruption_settings; a phrase list left null is the language's own."""
    acknowledgements, interruptions = default_phrases(language)
    chosen_acknowledgements = interruption.get("acknowledgement_phrases")
    chosen_interruptions = interruption.get("interruption_phrases")
    return InterruptionConfig(
        min_words=interruption["interruption_threshold"],
        min_speaking_s=interruption["min_speaking_time"],
        cooldown_s=interruption["interruption_cooldown"],
        acknowledgement_phrases=acknowledgements
        if chosen_acknowledgements is None
        else tuple(chosen_acknowledgements),
        interruption_phrases=interruptions
        if chosen_interruptions is None
        else tuple(chosen_interruptions),
        false_interruption_timeout_s=interruption.get("false_interruption_timeout"),
    )
