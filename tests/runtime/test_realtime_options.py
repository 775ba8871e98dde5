"""A realtime assistant's settings reach the model's ``session.update``: each field
that acts in realtime mode, from the stored assistant to the wire."""

from __future__ import annotations

from typing import Any

from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.builtin_tools import builtin_tool_specs
from callwright.engine.config import CallConfig
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
