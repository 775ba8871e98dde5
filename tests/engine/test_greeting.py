"""A greeting with no wait: a static first message is synthesised once per assistant,
voice and text, and later calls send it from the cache as soon as they start."""

from __future__ import annotations

from typing import Any

from callwright.runtime.speech_cache import GreetingCache
from tests.engine.harness import Call, make_call, run_call
from tests.engine.test_conversation import hang_up_after

GREETING = "Thanks for calling Acme, how can I help?"


async def _greeted(cache: GreetingCache, assistant_id: int = 7, **settings: Any) -> Call:
    settings.setdefault("llm_settings", {"welcome_message": GREETING})
    call = make_call(speech_cache=cache, assistant_id=assistant_id, **settings)
    return await run_call(call, hang_up_after(("silence", 5)))


async def test_the_second_call_of_an_assistant_sends_its_greeting_without_calling_the_tts() -> None:
    cache = GreetingCache()
    first = await _greeted(cache)
    second = await _greeted(cache)

    assert [text for text, _ in first.tts.requests] == [GREETING]
    assert second.tts.requests == []
    # The first call waited for the voice; the second sends at once, the same audio.
    assert first.transport.sent[0].at >= first.tts.first_audio_s
    assert second.transport.sent[0].at == 0.0
    assert b"".join(s.pcm16 for s in second.transport.sent) == b"".join(
        s.pcm16 for s in first.transport.sent
    )
    assert second.transcript == [("assistant", GREETING, False)]
    assert len(cache) == 1


async def test_a_changed_voice_or_text_or_another_assistant_is_synthesised_again() -> None:
    cache = GreetingCache()
    await _greeted(cache)
    other_voice = await _greeted(cache, tts_settings={"voice_id": "adam"})
    other_text = await _greeted(cache, llm_settings={"welcome_message": "Hello there."})
    other_assistant = await _greeted(cache, assistant_id=8)

    assert [text for text, _ in other_voice.tts.requests] == [GREETING]
    assert [text for text, _ in other_text.tts.requests] == ["Hello there."]
    assert [text for text, _ in other_assistant.tts.requests] == [GREETING]
    assert len(cache) == 4


async def test_a_greeting_rendered_from_the_call_variables_is_not_kept() -> None:
    cache = GreetingCache()
    for name in ("Ada", "Ada"):
        call = make_call(
            speech_cache=cache,
            assistant_id=7,
            dynamic_welcome_message="Hello {{name}}.",
            variables={"name": name},
        )
        await run_call(call, hang_up_after(("silence", 4)))
        assert [text for text, _ in call.tts.requests] == ["Hello Ada."]
    assert len(cache) == 0


def test_the_greeting_cache_is_a_bounded_lru() -> None:
    cache = GreetingCache(max_bytes=400, max_entries=3)
    for key in ("a", "b", "c"):
        cache.put(key, (b"x" * 50, b"y" * 50))
    assert cache.get("a") == (b"x" * 50, b"y" * 50)  # "a" is now the most recent
    cache.put("d", (b"z" * 100,))  # over max_entries: the least recently used goes
    assert cache.get("b") is None
    assert [cache.get(key) is not None for key in ("a", "c", "d")] == [True, True, True]
    assert cache.size_bytes == 300

    cache.put("e", (b"w" * 101,))  # over a quarter of max_bytes: not kept
    assert cache.get("e") is None
    cache.put("f", (b"v" * 100,))
    cache.put("g", (b"u" * 100,))  # each put pushes out the least recently used
    assert len(cache) == 3
    assert [cache.get(key) is None for key in ("a", "c")] == [True, True]

    roomy = GreetingCache(max_bytes=400, max_entries=100)
    for key in "hijkl":
        roomy.put(key, (b"t" * 100,))
    assert roomy.size_bytes == 400  # bounded by bytes too
    assert roomy.get("h") is None
