"""The opening, the LLM request, turn-taking and timings: SPEC §3 rows, one test each,
named after the setting it proves."""

from __future__ import annotations

import pytest

from callwright.engine.events import EndReason, TranscriptPartial
from callwright.providers.fakes import speech
from callwright.providers.tts.elevenlabs import ElevenLabsOptions
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import make_call, run_call


def hang_up_after(*steps: tuple[str, float]):  # type: ignore[no-untyped-def]
    """A caller: ("say", seconds) or ("silence", seconds), then hang up."""

    async def caller(transport: LoopbackTransport) -> None:
        for kind, seconds in steps:
            if kind == "say":
                await transport.say(speech(seconds))
            else:
                await transport.silence(seconds)
        await transport.hang_up_caller()

    return caller


async def test_welcome_message_is_spoken_first() -> None:
    call = make_call(llm_settings={"welcome_message": "Thanks for calling Acme."})
    await run_call(call, hang_up_after(("silence", 4)))
    assert call.tts.requests[0][0] == "Thanks for calling Acme."
    assert call.transcript == [("assistant", "Thanks for calling Acme.", False)]
    assert call.llm.requests == []


async def test_dynamic_welcome_message_is_templated_with_call_variables() -> None:
    call = make_call(
        llm_settings={"welcome_message": "Hello."},
        dynamic_welcome_message=(
            "Hello {{customer.name}}, calling about {{topic | default: 'your order'}}?"
        ),
        variables={"customer": {"name": "Ada"}},
    )
    await run_call(call, hang_up_after(("silence", 5)))
    assert call.transcript[0][1] == "Hello Ada, calling about your order?"


async def test_first_message_mode_assistant_waits_for_user() -> None:
    call = make_call(
        first_message_mode="assistant-waits-for-user",
        llm_settings={"welcome_message": "Never said."},
        utterances=("Hi there.",),
        replies=["Hello! How can I help?"],
    )
    await run_call(call, hang_up_after(("silence", 2), ("say", 0.8), ("silence", 5)))
    assert call.transcript[0] == ("user", "Hi there.", False)
    assert all(text != "Never said." for text, _ in call.tts.requests)


async def test_first_message_mode_model_generated() -> None:
    call = make_call(
        first_message_mode="assistant-speaks-first-with-model-generated-message",
        llm_settings={"system_prompt": "You are Acme's receptionist."},
        replies=["Good morning, Acme, how may I help?"],
    )
    await run_call(call, hang_up_after(("silence", 5)))
    (request,) = call.llm.requests
    assert [m.role for m in request.messages] == ["system"]
    assert call.transcript == [("assistant", "Good morning, Acme, how may I help?", False)]


async def test_llm_settings_are_sent_on_every_turn() -> None:
    call = make_call(
        llm_provider_config={"model": "gpt-4.1-mini", "custom_config": {"seed": 7}},
        llm_settings={
            "temperature": 1.3,
            "max_tokens": 77,
            "top_p": 0.9,
            "frequency_penalty": 0.4,
            "presence_penalty": -0.2,
            "stop_sequences": ["END"],
            "system_prompt": "Be {{tone}}.",
        },
        variables={"tone": "brief"},
        utterances=("One.", "Two."),
        replies=["First answer.", "Second answer."],
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 4), ("say", 0.6), ("silence", 4)))
    assert len(call.llm.requests) == 2
    for request in call.llm.requests:
        assert (request.model, request.temperature, request.max_tokens, request.top_p) == (
            "gpt-4.1-mini",
            1.3,
            77,
            0.9,
        )
        assert (request.frequency_penalty, request.presence_penalty) == (0.4, -0.2)
        assert request.stop == ("END",)
        assert request.extra == {"seed": 7}
        assert request.messages[0].content == "Be brief."
    second = call.llm.requests[1].messages
    assert [(m.role, m.content) for m in second[1:]] == [
        ("user", "One."),
        ("assistant", "First answer."),
        ("user", "Two."),
    ]


@pytest.mark.parametrize("silence_threshold_ms", [300, 900])
async def test_stt_endpointing_silence_threshold_decides_the_end_of_turn(
    silence_threshold_ms: int,
) -> None:
    call = make_call(
        stt_settings={
            "endpointing": {"silence_threshold": silence_threshold_ms, "min_silence_duration": 200},
            "vad_turnoff": 200,
        },
        utterances=("Book a table.",),
        replies=["Sure."],
    )
    await run_call(call, hang_up_after(("say", 1.0), ("silence", 4)))
    (timing,) = call.timings
    assert timing.user_stopped_at is not None
    assert timing.end_of_turn_at is not None
    waited = timing.end_of_turn_at - timing.user_stopped_at
    assert waited == pytest.approx(silence_threshold_ms / 1000, abs=0.04)


async def test_a_pause_shorter_than_the_threshold_does_not_end_the_turn() -> None:
    call = make_call(
        stt_settings={
            "endpointing": {"silence_threshold": 1200, "min_silence_duration": 1200},
            "vad_turnoff": 300,
        },
        utterances=("I would like to book a table for two.",),
        replies=["Certainly."],
    )
    await run_call(
        call, hang_up_after(("say", 0.8), ("silence", 0.6), ("say", 0.8), ("silence", 4))
    )
    assert [row for row in call.transcript if row[0] == "user"] == [
        ("user", "I would like to book a table for two.", False)
    ]
    assert len(call.llm.requests) == 1


async def test_utterance_end_ms_commits_interim_text_when_no_final_arrives() -> None:
    call = make_call(
        stt_settings={"utterance_end_ms": 1500},
        utterances=("Cancel my order please.",),
        replies=["Done."],
    )
    call.stt.final_latency_s = 60  # the transcriber never finalises in time
    await run_call(call, hang_up_after(("say", 1.4), ("silence", 5)))
    (user,) = [row for row in call.transcript if row[0] == "user"]
    assert user[1] == "Cancel my order please."[: len(user[1])]
    (timing,) = call.timings
    # Finalisation is asked for after min_silence_duration (0.5 s); then 1.5 s of waiting.
    assert timing.end_of_turn_at - timing.user_stopped_at == pytest.approx(2.0, abs=0.05)


async def test_stt_settings_reach_the_transcriber_and_tts_settings_the_synthesiser() -> None:
    call = make_call(
        stt_settings={
            "model": "nova-3",
            "language": "de-DE",
            "keyterms": ["Acme"],
            "keywords": [{"keyword": "Zürich", "intensifier": 2}],
        },
        tts_settings={"voice_id": "joe", "stability": 0.2, "provider_config": {"speed": 1.1}},
        llm_settings={"welcome_message": "Hallo."},
    )
    await run_call(call, hang_up_after(("silence", 3)))
    (options,) = call.stt.opened_with
    assert (options.model, options.language, options.keyterms) == ("nova-3", "de-DE", ("Acme",))
    assert options.keywords == (("Zürich", 2.0),)
    _, tts_options = call.tts.requests[0]
    assert isinstance(tts_options.vendor, ElevenLabsOptions)  # the default voice's own
    assert (tts_options.voice_id, tts_options.vendor.stability, tts_options.extra) == (
        "joe",
        0.2,
        {"speed": 1.1},
    )


async def test_interim_transcripts_are_reported_while_the_caller_speaks() -> None:
    call = make_call(utterances=("one two three four five six",), replies=["Ok."])
    await run_call(call, hang_up_after(("say", 2.0), ("silence", 4)))
    partials = [event.text for event in call.of(TranscriptPartial)]
    assert partials[:3] == ["one", "one two", "one two three"]


async def test_turn_timings_are_recorded_in_order() -> None:
    call = make_call(utterances=("Hi.",), replies=["Hello there. How are you today?"])
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 6)))
    (timing,) = call.timings
    stages = [
        timing.user_stopped_at,
        timing.end_of_turn_at,
        timing.llm_request_at,
        timing.llm_first_token_at,
        timing.first_sentence_at,
        timing.tts_request_at,
        timing.tts_first_audio_at,
        timing.first_frame_out_at,
        timing.playback_confirmed_at,
    ]
    assert None not in stages
    assert stages == sorted(stages)  # type: ignore[type-var]
    assert timing.llm_provider == "scripted-llm"
    assert timing.llm_first_token_at - timing.llm_request_at == pytest.approx(0.2, abs=0.02)


async def test_caller_hang_up_ends_the_call_and_the_hook_runs() -> None:
    call = make_call()
    await run_call(call, hang_up_after(("silence", 1)))
    assert call.end.reason is EndReason.CUSTOMER_ENDED_CALL
    assert call.ended_hook == [EndReason.CUSTOMER_ENDED_CALL]
    assert call.transport.hung_up is None  # the caller hung up: nothing to hang up


async def test_a_dropped_connection_ends_the_call_with_its_reason() -> None:
    call = make_call()

    async def caller(transport: LoopbackTransport) -> None:
        await transport.silence(1)
        await transport.drop()

    await run_call(call, caller)
    assert call.end.reason is EndReason.TRANSPORT_DROPPED


async def test_a_failing_component_still_ends_the_call_with_a_reason() -> None:
    call = make_call(utterances=("Hello?",), replies=["Hi."])

    async def broken(text, options):  # type: ignore[no-untyped-def]
        raise RuntimeError("synthesiser exploded")
        yield b""  # pragma: no cover

    call.tts.synthesize = broken  # type: ignore[method-assign]
    await run_call(call, hang_up_after(("say", 0.5), ("silence", 5)))
    assert call.end.reason is EndReason.PIPELINE_ERROR
    assert "synthesiser exploded" in (call.end.detail or "")
    assert call.transport.hung_up == "pipeline-error"


@pytest.mark.parametrize("maintain_context", [True, False])
async def test_maintain_context_starts_from_the_previous_conversation(
    maintain_context: bool,
) -> None:
    from callwright.providers.protocols import ChatMessage

    earlier = (ChatMessage("user", "My name is Ada."), ChatMessage("assistant", "Hi Ada."))
    call = make_call(
        maintain_context=maintain_context,
        previous_conversation=earlier,
        utterances=("What is my name?",),
        replies=["Ada."],
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 4)))
    contents = [m.content for m in call.llm.requests[0].messages]
    assert ("My name is Ada." in contents) is maintain_context
    assert contents[-1] == "What is my name?"


async def test_a_transcriber_that_cannot_start_ends_the_call_with_a_reason() -> None:
    from callwright.providers.errors import ProviderAuthError

    call = make_call()

    async def refuse(options):  # type: ignore[no-untyped-def]
        raise ProviderAuthError("deepgram", "invalid API key")

    call.stt.open_stream = refuse  # type: ignore[method-assign]
    await run_call(call, hang_up_after(("silence", 1)))
    assert call.end.reason is EndReason.PIPELINE_ERROR
    assert "invalid API key" in (call.end.detail or "")
    assert call.transport.hung_up == "pipeline-error"
