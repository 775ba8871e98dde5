"""A realtime assistant's settings reach the model's ``session.update``: each field
that acts in realtime mode, from the stored assistant to the wire."""

from __future__ import annotations

from typing import Any

from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.builtin_tools import builtin_tool_specs
from callwright.engine.config import CallConfig
from callwright.providers.protocols import ChatMessage
from callwright.providers.realtime.gemini_wire import setup_message
from callwright.providers.realtime.openai import session_config
from callwright.providers.realtime.protocol import RealtimeAudio
from callwright.runtime.realtime import realtime_options


def _session(audio: RealtimeAudio = "pcmu", **settings: Any) -> dict[str, Any]:
    document = AssistantIn(name="Desk", mode="realtime", **settings).model_dump(mode="json")
    config = CallConfig.from_settings(document, {"name": "Ada"})
    options = realtime_options(config, document, audio, builtin_tool_specs(config))
    return session_config(options)


def test_the_defaults() -> None:
    session = _session()
    assert session["instructions"].startswith("You are a helpful assistant")
    assert session["max_output_tokens"] == 1000
    audio = session["audio"]
    assert audio["output"] == {"format": {"type": "audio/pcmu"}, "voice": "marin"}
    assert audio["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe", "language": "en"}
    assert audio["input"]["turn_detection"]["type"] == "server_vad"
    assert audio["input"]["turn_detection"]["silence_duration_ms"] == 500
    assert session["tools"] == []


def test_each_setting_reaches_the_session() -> None:
    session = _session(
        "pcm24",
        llm_settings={"system_prompt": "Greet {{name}} warmly.", "max_tokens": 9000},
        realtime_settings={
            "voice": "cedar",
            "turn_detection": "semantic_vad",
            "eagerness": "low",
            "transcription_model": None,
        },
        stt_settings={"language": "fr-FR"},
        tools_settings={
            "end_call": {"enabled": True, "scenarios": ["the caller says goodbye"]},
            "transfer_call": {"enabled": True, "transfer_numbers": ["+14155550100"]},
        },
    )
    assert session["instructions"] == "Greet Ada warmly."  # templated like the pipeline's
    assert session["max_output_tokens"] == 4096  # the API's ceiling
    audio = session["audio"]
    assert audio["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio["output"]["voice"] == "cedar"
    assert "transcription" not in audio["input"]
    assert audio["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "create_response": False,
        "interrupt_response": False,
        "eagerness": "low",
    }
    names = [tool["name"] for tool in session["tools"]]
    assert names == ["end_call", "transfer_call"]
    assert "the caller says goodbye" in session["tools"][0]["description"]


def test_the_endpointing_silence_ends_a_server_vad_turn() -> None:
    session = _session(stt_settings={"endpointing": {"silence_threshold": 800}})
    assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 800


def test_the_transcription_language_follows_the_assistants() -> None:
    session = _session(stt_settings={"language": "de"})
    assert session["audio"]["input"]["transcription"]["language"] == "de"


def _gemini_setup(audio: RealtimeAudio = "pcmu", **settings: Any) -> dict[str, Any]:
    realtime = {"provider": "gemini", "model": "gemini-3.1-flash-live-preview", "voice": "Kore"}
    realtime |= settings.pop("realtime_settings", {})
    document = AssistantIn(
        name="Desk", mode="realtime", realtime_settings=realtime, **settings
    ).model_dump(mode="json")
    config = CallConfig.from_settings(document, {"name": "Ada"})
    options = realtime_options(config, document, audio, builtin_tool_specs(config))
    setup: dict[str, Any] = setup_message(options, options.model or "")["setup"]
    return setup


def test_each_setting_reaches_the_gemini_setup() -> None:
    setup = _gemini_setup(
        llm_settings={"system_prompt": "Greet {{name}} warmly.", "max_tokens": 900},
        stt_settings={"language": "fr-FR", "endpointing": {"silence_threshold": 700}},
        tools_settings={"end_call": {"enabled": True, "scenarios": ["the caller says goodbye"]}},
    )
    assert setup["model"] == "models/gemini-3.1-flash-live-preview"
    assert setup["systemInstruction"] == {"parts": [{"text": "Greet Ada warmly."}]}
    generation = setup["generationConfig"]
    assert generation["maxOutputTokens"] == 900
    assert generation["speechConfig"] == {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
        "languageCode": "fr-FR",
    }
    detection = setup["realtimeInputConfig"]["automaticActivityDetection"]
    assert detection["silenceDurationMs"] == 700
    declarations = setup["tools"][0]["functionDeclarations"]
    assert [d["name"] for d in declarations] == ["end_call"]
    assert "the caller says goodbye" in declarations[0]["description"]
    assert setup["inputAudioTranscription"] == {}


def test_gemini_semantic_vad_and_no_transcription() -> None:
    setup = _gemini_setup(
        realtime_settings={
            "turn_detection": "semantic_vad",
            "eagerness": "low",
            "transcription_model": None,
        }
    )
    detection = setup["realtimeInputConfig"]["automaticActivityDetection"]
    assert detection == {"disabled": False, "endOfSpeechSensitivity": "END_SENSITIVITY_LOW"}
    assert "inputAudioTranscription" not in setup
    assert "tools" not in setup


def test_maintain_context_puts_the_callers_earlier_conversation_in_the_instructions() -> None:
    previous = [
        ChatMessage("system", "an old prompt"),
        ChatMessage("user", "I ordered a cake for Friday."),
        ChatMessage("assistant", "Noted: one cake, Friday."),
    ]

    def instructions(maintain: bool) -> str | None:
        document = AssistantIn(
            name="Desk",
            mode="realtime",
            maintain_context=maintain,
            llm_settings={"system_prompt": "You run a bakery."},
        ).model_dump(mode="json")
        config = CallConfig.from_settings(document)
        return realtime_options(config, document, "pcmu", (), previous).instructions

    assert instructions(True) == (
        "You run a bakery.\n\n"
        "Your earlier conversation with this caller, for context:\n"
        "Caller: I ordered a cake for Friday.\n"
        "You: Noted: one cake, Friday."
    )
    assert instructions(False) == "You run a bakery."


def test_llm_settings_temperature_and_top_p_reach_the_gemini_setup() -> None:
    generation = _gemini_setup(llm_settings={"temperature": 1.3, "top_p": 0.8})["generationConfig"]
    assert (generation["temperature"], generation["topP"]) == (1.3, 0.8)
    # Penalties are refused by Gemini's current models: named, never sent.
    assert "presencePenalty" not in generation
    assert "frequencyPenalty" not in generation


def test_openai_realtime_takes_no_sampling_settings() -> None:
    session = _session(llm_settings={"temperature": 1.3, "top_p": 0.8})
    assert "temperature" not in session  # the GA session has none: named by /validate


def test_stt_settings_keyterms_and_keywords_reach_openais_transcription_prompt() -> None:
    session = _session(
        stt_settings={
            "keyterms": ["Acme", "sourdough"],
            "keywords": [
                {"keyword": "rye", "intensifier": 2},
                {"keyword": "um", "intensifier": -1},
            ],
        }
    )
    transcription = session["audio"]["input"]["transcription"]
    assert transcription["prompt"] == "Acme, sourdough, rye"
    assert "prompt" not in _session()["audio"]["input"]["transcription"]


def test_stt_settings_audio_denoising_turns_on_openais_noise_reduction() -> None:
    phone = _session("pcmu", stt_settings={"audio_denoising": True})
    browser = _session("pcm24", stt_settings={"audio_denoising": True})
    assert phone["audio"]["input"]["noise_reduction"] == {"type": "near_field"}
    assert browser["audio"]["input"]["noise_reduction"] == {"type": "far_field"}
    assert "noise_reduction" not in _session()["audio"]["input"]
