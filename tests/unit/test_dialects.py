"""The three dialects of the Assistant resource: shapes, round trips and import errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from callwright.domain.assistants.dialects import DIALECTS, Dialect, details, envelope, vapi
from callwright.domain.assistants.schemas import AssistantIn, AssistantResponse
from callwright.domain.secrets import mask_secrets
from callwright.errors import ValidationFailed

CREATED = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
UPDATED = datetime(2026, 5, 2, 8, 30, 15, 250000, tzinfo=UTC)
LLM_KEY = "sk-ant-1234567890abcdef"
TTS_KEY = "el-abcdef1234567890"
REALTIME_KEY = "AIzaSy-realtime-0123456789"

# Every field a dialect shares carries a non-default value here.
RICH: dict[str, Any] = {
    "name": "Sales Bot",
    "description": "Handles inbound sales",
    "llm_provider": "anthropic",
    "llm_provider_config": {"api_key": LLM_KEY, "model": "claude-sonnet-4"},
    "llm_settings": {
        "temperature": 0.9,
        "max_tokens": 321,
        "system_prompt": "Be brief.",
        "welcome_message": "Hi there!",
    },
    "tts_settings": {
        "provider": "cartesia",
        "voice_id": "EXAVITQu4vr4xnSDxMaL",
        "model_id": "eleven_turbo_v2",
        "latency": 3,
        "stability": 0.2,
        "similarity_boost": 0.9,
        "style": 0.4,
        "use_speaker_boost": False,
        "provider_config": {"api_key": TTS_KEY},
    },
    "stt_settings": {
        "model": "whisper-1",
        "language": "de-DE",
        "endpointing": {"silence_threshold": 300},
        "utterance_end_ms": 1500,
    },
    "end_call_message": "Goodbye!",
    "idle_message": "Hello?",
    "max_idle_messages": 4,
    "idle_timeout": 12,
    "tools_settings": {"end_call": {"enabled": True}},
    "first_message_mode": "assistant-waits-for-user",
    "voicemail_message": "Call me back.",
    "end_call_phrases": ["bye", "that's all"],
    "max_duration_seconds": 600,
    "metadata": {"team": "sales", "tier": 2},
    "filler_words_enabled": True,
    "filler_words": ["um", "let me see"],
    "dynamic_welcome_message": "Hello {{name}}",
    "maintain_context": True,
    "mode": "pipeline",
    "end_call_trigger_phrase": "end it",
    "end_call_url": "https://example.com/hook",
    "tool_ids": [5, 9],
    "realtime_settings": {
        "provider": "gemini",
        "model": "gemini-3.1-flash-live-preview",
        "voice": "Kore",
        "api_key": REALTIME_KEY,
    },
}
# The nullable shared fields at null (and reprompts off), where defaults are not null.
NULLS: dict[str, Any] = {
    "name": "Quiet",
    "llm_provider": None,
    "llm_provider_config": {"model": None},
    "llm_settings": {"system_prompt": None},
    "tts_settings": {"voice_id": None},
    "stt_settings": {"model": None, "language": None},
    "idle_message": None,
    "idle_timeout": None,
    "max_idle_messages": 0,
    "max_duration_seconds": None,
    "realtime_settings": {"model": None, "voice": None},
}

SHARED: dict[str, tuple[str, ...]] = {
    "vapi": (
        "name",
        "llm_settings.welcome_message",
        "first_message_mode",
        "llm_provider",
        "llm_provider_config.model",
        "llm_settings.temperature",
        "llm_settings.max_tokens",
        "llm_settings.system_prompt",
        "tts_settings.provider",
        "tts_settings.voice_id",
        "stt_settings.model",
        "stt_settings.language",
        "voicemail_message",
        "end_call_message",
        "end_call_phrases",
        "metadata",
        "max_duration_seconds",
    ),
    "envelope": (
        "name",
        "llm_settings.system_prompt",
        "llm_settings.welcome_message",
        "llm_provider",
        "llm_provider_config.model",
        "llm_settings.max_tokens",
        "llm_settings.temperature",
        "tts_settings.provider",
        "tts_settings.voice_id",
        "tts_settings.stability",
        "tts_settings.similarity_boost",
        "tts_settings.model_id",
        "stt_settings.language",
        "stt_settings.model",
        "stt_settings.utterance_end_ms",
        "stt_settings.endpointing.silence_threshold",
        "maintain_context",
        "max_duration_seconds",
        "idle_timeout",
        "idle_message",
        "end_call_message",
        "filler_words_enabled",
        "filler_words",
        "dynamic_welcome_message",
        "tool_ids",
    ),
    "details": (
        "name",
        "description",
        "llm_settings.system_prompt",
        "mode",
        "tts_settings.provider",
        "tts_settings.voice_id",
        "tts_settings.model_id",
        "tts_settings.stability",
        "tts_settings.similarity_boost",
        "tts_settings.style",
        "tts_settings.use_speaker_boost",
        "tts_settings.latency",
        "llm_settings.welcome_message",
        "first_message_mode",
        "filler_words_enabled",
        "idle_timeout",
        "max_idle_messages",
        "tools_settings.end_call.enabled",
        "end_call_trigger_phrase",
        "end_call_message",
        "end_call_url",
        "tool_ids",
    ),
}
# Realtime mode shares the speech-to-speech model instead of the TTS settings.
REALTIME_SHARED = (
    "name",
    "mode",
    "realtime_settings.provider",
    "realtime_settings.model",
    "realtime_settings.voice",
    "llm_settings.system_prompt",
    "idle_timeout",
    "max_idle_messages",
)


def at(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for key in path.split("."):
        value = value[key]
    return value


def public_of(fields: dict[str, Any]) -> dict[str, Any]:
    """What ``StoredAssistant.public()`` returns: the canonical dump, masked, with ids."""
    body = mask_secrets(AssistantIn.model_validate(fields).model_dump(mode="json"))
    body.update(id=42, organization_id=7, user_id=3, created_at=CREATED, updated_at=UPDATED)
    AssistantResponse.model_validate(body)
    return body


def round_trip(dialect: Dialect, fields: dict[str, Any]) -> tuple[AssistantIn, dict[str, Any]]:
    canonical = dialect.to_canonical(dialect.render(public_of(fields)))
    return AssistantIn.model_validate(canonical), canonical


def field_errors(info: pytest.ExceptionInfo[ValidationFailed]) -> list[str]:
    return [detail["field"] for detail in info.value.details]


def test_registry_holds_the_three_dialects() -> None:
    assert sorted(DIALECTS) == ["details", "envelope", "vapi"]
    assert all(dialect.name == key for key, dialect in DIALECTS.items())


@pytest.mark.parametrize("name", sorted(SHARED))
def test_rich_fixture_differs_from_defaults_on_every_shared_field(name: str) -> None:
    original = AssistantIn.model_validate(RICH).model_dump()
    default = AssistantIn(name="x").model_dump()
    # "mode" is pipeline here; the realtime round trip covers the other value.
    shared = [path for path in SHARED[name] if path != "mode"]
    same = [path for path in shared if at(original, path) == at(default, path)]
    assert same == []


@pytest.mark.parametrize("name", sorted(SHARED))
@pytest.mark.parametrize(
    "fields", [RICH, NULLS, {"name": "Defaults"}], ids=["rich", "nulls", "defaults"]
)
def test_export_then_import_keeps_every_shared_field(name: str, fields: dict[str, Any]) -> None:
    original = AssistantIn.model_validate(fields).model_dump()
    imported, _ = round_trip(DIALECTS[name], fields)
    for path in SHARED[name]:
        assert at(imported.model_dump(), path) == at(original, path), path


@pytest.mark.parametrize("fields", [RICH, NULLS], ids=["rich", "nulls"])
def test_details_realtime_round_trip_keeps_the_realtime_model(fields: dict[str, Any]) -> None:
    realtime = {**fields, "mode": "realtime"}
    original = AssistantIn.model_validate(realtime).model_dump()
    imported, canonical = round_trip(DIALECTS["details"], realtime)
    for path in REALTIME_SHARED:
        assert at(imported.model_dump(), path) == at(original, path), path
    # The pipeline's chat model and voice are not what assistant_llm_config says.
    assert "llm_provider" not in canonical
    assert "llm_provider_config" not in canonical
    assert "tts_settings" not in canonical


@pytest.mark.parametrize("name", ["envelope", "details"])
def test_import_accepts_the_data_object_alone(name: str) -> None:
    dialect = DIALECTS[name]
    rendered = dialect.render(public_of(RICH))
    assert dialect.to_canonical(rendered["data"]) == dialect.to_canonical(rendered)


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_rendered_shapes_validate_against_their_models_in_field_order(name: str) -> None:
    dialect = DIALECTS[name]
    publics = [public_of(RICH), public_of(NULLS), public_of({**RICH, "mode": "realtime"})]
    for public in publics:
        rendered = dialect.render(public)
        dialect.one_model.model_validate(rendered)
        one = rendered if name == "vapi" else rendered["data"]
        data_model = (
            vapi.VapiAssistant
            if name == "vapi"
            else dialect.one_model.model_fields["data"].annotation
        )
        assert isinstance(data_model, type)
        assert list(one) == list(data_model.model_fields)
    dialect.list_model.model_validate(dialect.render_list(publics))


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_models_produce_json_schemas(name: str) -> None:
    dialect = DIALECTS[name]
    for model in (dialect.one_model, dialect.list_model):
        for mode in ("validation", "serialization"):
            assert model.model_json_schema(mode=mode)


def test_render_list_shapes() -> None:
    publics = [public_of(RICH), public_of(NULLS)]
    assert [item["name"] for item in vapi.render_list(publics)] == ["Sales Bot", "Quiet"]
    assert envelope.render_list(publics)["success"] is True
    assert len(envelope.render_list(publics)["data"]) == 2
    listed = details.render_list([])
    assert listed == {"success": True, "message": details.LIST_MESSAGE, "data": []}


def test_vapi_render_matches_the_seed_mappings() -> None:
    rendered = vapi.render(public_of(RICH))
    assert rendered["id"] == "42"
    assert rendered["orgId"] == "7"
    assert rendered["createdAt"] == "2026-05-01T10:00:00Z"
    assert rendered["updatedAt"] == "2026-05-02T08:30:15.250000Z"
    assert rendered["voice"] == {"provider": "cartesia", "voiceId": "EXAVITQu4vr4xnSDxMaL"}
    # The default voice is ElevenLabs, which Vapi calls "11labs".
    assert vapi.render(public_of({"name": "x"}))["voice"]["provider"] == "11labs"
    assert vapi.to_canonical({"name": "x", "voice": {"provider": "11labs"}})["tts_settings"] == {
        "provider": "elevenlabs"
    }
    assert rendered["model"]["messages"] == [{"role": "system", "content": "Be brief."}]
    assert rendered["transcriber"] == {
        "provider": "whisper",
        "model": "whisper-1",
        "language": "de-DE",
    }


def test_naive_timestamps_are_treated_as_utc() -> None:
    public = public_of(RICH)
    public["created_at"] = datetime(2026, 1, 2, 3, 4, 5)
    public["updated_at"] = "2026-01-02T03:04:05+02:00"
    rendered = envelope.render(public)["data"]
    assert rendered["created_at"] == "2026-01-02T03:04:05Z"
    assert rendered["updated_at"] == "2026-01-02T01:04:05Z"


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("nova-3", "deepgram"),
        ("whisper-1", "whisper"),
        ("gpt-4o-mini-transcribe", "whisper"),
        ("universal-streaming", "assemblyai"),
        ("assemblyai-best", "assemblyai"),
        ("best", "assemblyai"),
        ("nano", "assemblyai"),
        ("enhanced", "deepgram"),
        (None, "deepgram"),
    ],
)
def test_transcriber_provider_is_derived_from_the_model(model: str | None, provider: str) -> None:
    public = public_of({"name": "x", "stt_settings": {"model": model}})
    assert vapi.render(public)["transcriber"]["provider"] == provider
    assert envelope.render(public)["data"]["transcription"]["provider"] == provider


@pytest.mark.parametrize(
    ("transcriber", "model"),
    [
        ({"provider": "whisper"}, "whisper-1"),
        ({"provider": "whisper", "model": None}, "whisper-1"),
        ({"provider": "assemblyai"}, "universal-streaming"),
        ({"provider": "assembly-ai", "model": "best"}, "best"),
        ({"provider": "deepgram", "model": "nova-3"}, "nova-3"),
    ],
)
def test_vapi_transcriber_import_picks_the_model(transcriber: dict[str, Any], model: str) -> None:
    canonical = vapi.to_canonical({"name": "x", "transcriber": transcriber})
    assert canonical["stt_settings"]["model"] == model


def test_imports_hold_only_the_fields_sent() -> None:
    assert vapi.to_canonical({"name": "x", "id": "asst_1", "orgId": "o"}) == {"name": "x"}
    assert envelope.to_canonical({"success": True, "data": {"name": "x", "id": "1"}}) == {
        "name": "x"
    }
    assert details.to_canonical({"assistant_name": "x", "assistant_id": "9"}) == {"name": "x"}


def test_vapi_seed_example_imports() -> None:
    seed = {
        "id": "asst_123",
        "orgId": "org_abc",
        "createdAt": "2024-01-01T10:00:00Z",
        "updatedAt": "2024-01-02T12:00:00Z",
        "name": "Enrollment Assistant",
        "firstMessage": "Hi, I'm here to help with your enrollment questions.",
        "firstMessageMode": "assistant-speaks-first",
        "model": {"provider": "openai", "model": "gpt-4o", "temperature": 0.7},
        "voice": {"provider": "openai", "voiceId": "alloy"},
        "maxDurationSeconds": 1800,
    }
    settings = AssistantIn.model_validate(vapi.to_canonical(seed))
    assert settings.llm_provider_config.model == "gpt-4o"
    assert settings.tts_settings.provider == "openai"
    assert settings.tts_settings.voice_id == "alloy"
    assert settings.llm_settings.welcome_message == seed["firstMessage"]


SEED_004_DATA: dict[str, Any] = {
    "assistant_id": "550e8400-e29b-41d4-a716-446655440000",
    "assistant_name": "Gemini Assistant",
    "assistant_description": "Realtime voice assistant",
    "assistant_prompt": "You are a helpful assistant.",
    "assistant_llm_mode": "realtime",
    "assistant_llm_config": {
        "provider": "gemini",
        "model": "gemini-3.1-flash-live-preview",
        "voice": "Puck",
        "api_key": "Using System provided API Key",
    },
    "assistant_tts_model": None,
    "assistant_tts_config": None,
    "assistant_start_instruction": None,
    "assistant_interaction_config": {
        "speaks_first": True,
        "filler_words": False,
        "silence_reprompts": False,
        "silence_reprompt_interval": 10.0,
        "silence_max_reprompts": 2,
    },
    "assistant_end_call_enabled": False,
    "assistant_end_call_trigger_phrase": None,
    "assistant_end_call_agent_message": None,
    "assistant_end_call_url": None,
    "tool_ids": [],
    "assistant_created_at": "2026-03-30T10:00:00.000000",
    "assistant_updated_at": "2026-03-30T10:00:00.000000",
}


def test_details_seed_example_imports_as_realtime_settings() -> None:
    canonical = details.to_canonical({"success": True, "message": "ok", "data": SEED_004_DATA})
    assert canonical["realtime_settings"] == {
        "provider": "gemini",
        "model": "gemini-3.1-flash-live-preview",
        "voice": "Puck",
    }  # and no key: the placeholder is not one
    assert "llm_provider_config" not in canonical
    assert "tts_settings" not in canonical
    assert "first_message_mode" not in canonical
    assert (canonical["idle_timeout"], canonical["max_idle_messages"]) == (10, 0)


def test_details_seed_example_round_trips() -> None:
    """Import → export gives the seed's example back: ids and timestamps are the
    server's, and reprompts switched off store no count (``silence_max_reprompts``)."""
    settings = AssistantIn.model_validate(details.to_canonical(SEED_004_DATA))
    exported = details.render_data(public_of(settings.model_dump(mode="json")))
    ignored = {"assistant_id", "assistant_created_at", "assistant_updated_at"}
    expected = {k: v for k, v in SEED_004_DATA.items() if k not in ignored}
    expected["assistant_interaction_config"] = {
        **SEED_004_DATA["assistant_interaction_config"],
        "silence_max_reprompts": 0,
    }
    assert {k: v for k, v in exported.items() if k not in ignored} == expected
    # Exported again and imported again: nothing moves.
    again = AssistantIn.model_validate(details.to_canonical(exported))
    assert again.model_dump() == settings.model_dump()


def test_masked_secrets_are_dropped_and_real_ones_kept() -> None:
    rendered = details.render(public_of({**RICH, "mode": "realtime"}))
    masked = rendered["data"]["assistant_llm_config"]["api_key"]
    assert masked != REALTIME_KEY
    assert masked.endswith(REALTIME_KEY[-4:])
    assert "api_key" not in details.to_canonical(rendered)["realtime_settings"]
    rendered["data"]["assistant_llm_config"]["api_key"] = REALTIME_KEY
    assert details.to_canonical(rendered)["realtime_settings"]["api_key"] == REALTIME_KEY

    pipeline = details.render(public_of(RICH))
    assert pipeline["data"]["assistant_tts_config"]["api_key"] == "el-…7890"
    # No empty provider_config either: a PATCH would replace the stored one with it.
    assert "provider_config" not in details.to_canonical(pipeline)["tts_settings"]

    pipeline["data"]["assistant_tts_config"]["api_key"] = TTS_KEY
    imported = details.to_canonical(pipeline)
    assert imported["tts_settings"]["provider_config"] == {"api_key": TTS_KEY}

    metadata = {"crm_api_key": "********", "team": "sales"}
    assert vapi.to_canonical({"name": "x", "metadata": metadata})["metadata"] == {"team": "sales"}


def test_details_silence_reprompts_off_imports_zero_reprompts() -> None:
    public = public_of({"name": "x", "idle_timeout": None, "max_idle_messages": 3})
    interaction = details.render(public)["data"]["assistant_interaction_config"]
    assert interaction["silence_reprompts"] is False
    assert interaction["silence_reprompt_interval"] == 0.0
    canonical = details.to_canonical(details.render(public))
    assert (canonical["idle_timeout"], canonical["max_idle_messages"]) == (None, 0)


def test_details_speaks_first_keeps_a_model_generated_opener() -> None:
    mode = "assistant-speaks-first-with-model-generated-message"
    rendered = details.render(public_of({"name": "x", "first_message_mode": mode}))
    assert rendered["data"]["assistant_interaction_config"]["speaks_first"] is True
    assert "first_message_mode" not in details.to_canonical(rendered)


def test_envelope_dynamic_welcome_switch() -> None:
    disabled = {"name": "x", "dynamic_welcome_enabled": False, "dynamic_welcome_message": "Hi"}
    assert envelope.to_canonical(disabled)["dynamic_welcome_message"] is None
    with pytest.raises(ValidationFailed) as info:
        envelope.to_canonical({"name": "x", "dynamic_welcome_enabled": True})
    assert field_errors(info) == ["dynamic_welcome_message"]


def test_envelope_filler_words_are_comma_joined() -> None:
    rendered = envelope.render(public_of(RICH))
    assert rendered["data"]["filler_words"] == "um, let me see"
    canonical = envelope.to_canonical({"name": "x", "filler_words": " uh,, hmm ,"})
    assert canonical["filler_words"] == ["uh", "hmm"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "voice": {"provider": "edmo"}}, "voice.provider"),
        ({"name": "x", "voice": {"provider": "polly"}}, "voice.provider"),
        ({"name": "x", "model": {"temperature": 5}}, "model.temperature"),
        ({"name": "x", "model": {"maxTokens": "many"}}, "model.maxTokens"),
        ({"name": "x", "model": {"provider": "mistral"}}, "model.provider"),
        ({"name": "x", "model": "gpt-4o"}, "model"),
        (
            {"name": "x", "model": {"messages": [{"role": "system", "content": 5}]}},
            "model.messages[0].content",
        ),
        ({"name": "x", "endCallPhrases": ["ok", ""]}, "endCallPhrases[1]"),
        ({"name": "x", "firstMessageMode": "shout"}, "firstMessageMode"),
        ({"name": "x", "maxDurationSeconds": 5}, "maxDurationSeconds"),
        ({"name": "x", "transcriber": {"provider": "gladia"}}, "transcriber.provider"),
        (
            {"name": "x", "transcriber": {"provider": "assemblyai", "model": "nova-2"}},
            "transcriber.model",
        ),
        ({"name": "x", "transcriber": {"language": "not a language"}}, "transcriber.language"),
        ({"firstMessage": "hi"}, "name"),
    ],
)
def test_vapi_bad_values_name_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        vapi.to_canonical(payload)
    assert field_errors(info) == [field]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"selected_tools": ["66aa2b3c4d5e6f7a8b9c0d11"]}, "selected_tools[0]"),
        ({"selected_tools": ["3", 4]}, "selected_tools[1]"),
        ({"selected_tools": "3"}, "selected_tools"),
        ({"silence_timeout": 0}, "silence_timeout"),
        ({"maximum_duration": 10**6}, "maximum_duration"),
        ({"voice": {"provider": "polly"}}, "voice.provider"),
        ({"voice": {"stability": 1.5}}, "voice.stability"),
        ({"voice": {"language": "?"}}, "voice.language"),
        ({"transcription": {"provider": "azure"}}, "transcription.provider"),
        (
            {"transcription": {"deepgram": {"endpointing": -1}}},
            "transcription.deepgram.endpointing",
        ),
        (
            {"transcription": {"provider": "whisper", "deepgram": {"model": "nova-2"}}},
            "transcription.deepgram.model",
        ),
        ({"filler_words": ["um"]}, "filler_words"),
        ({"maintain_context": "sometimes"}, "maintain_context"),
        ({"ai_provider": "mistral"}, "ai_provider"),
    ],
)
def test_envelope_bad_values_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        envelope.to_canonical({"success": True, "data": {"name": "x", **data}})
    assert field_errors(info) == [field]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"tool_ids": ["550e8400-e29b-41d4-a716-446655440000"]}, "tool_ids[0]"),
        ({"assistant_llm_mode": "hybrid"}, "assistant_llm_mode"),
        ({"assistant_tts_model": "polly"}, "assistant_tts_model"),
        ({"assistant_tts_config": {"stability": 2}}, "assistant_tts_config.stability"),
        ({"assistant_tts_config": []}, "assistant_tts_config"),
        ({"assistant_llm_config": {"provider": "mistral"}}, "assistant_llm_config.provider"),
        ({"assistant_end_call_url": "ftp://x"}, "assistant_end_call_url"),
        (
            {"assistant_interaction_config": {"silence_reprompt_interval": 10.5}},
            "assistant_interaction_config.silence_reprompt_interval",
        ),
        (
            {"assistant_interaction_config": {"silence_reprompt_interval": "10"}},
            "assistant_interaction_config.silence_reprompt_interval",
        ),
        (
            {
                "assistant_interaction_config": {
                    "silence_reprompts": True,
                    "silence_reprompt_interval": 0,
                }
            },
            "assistant_interaction_config.silence_reprompt_interval",
        ),
        (
            {
                "assistant_interaction_config": {
                    "silence_reprompts": True,
                    "silence_max_reprompts": 0,
                }
            },
            "assistant_interaction_config.silence_max_reprompts",
        ),
        (
            {"assistant_interaction_config": {"silence_max_reprompts": -1}},
            "assistant_interaction_config.silence_max_reprompts",
        ),
        (
            {"assistant_interaction_config": {"speaks_first": "yes"}},
            "assistant_interaction_config.speaks_first",
        ),
        (
            {"assistant_interaction_config": {"filler_words": "maybe"}},
            "assistant_interaction_config.filler_words",
        ),
        ({"assistant_name": None}, "assistant_name"),
    ],
)
def test_details_bad_values_name_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        details.to_canonical({"assistant_name": "x", **data})
    assert field_errors(info) == [field]


@pytest.mark.parametrize("name", ["envelope", "details"])
def test_a_list_is_not_one_assistant(name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        DIALECTS[name].to_canonical({"success": True, "data": []})
    assert field_errors(info) == ["data"]
