"""``filler_words_enabled`` with no words of its own (what seed 002's ``filler_words: ""``
and seed 004's ``filler_words: true`` import as) says a built-in filler in the call's
language, instead of nothing."""

from __future__ import annotations

from callwright.engine.fillers import DEFAULT_FILLER_WORDS
from tests.engine.harness import make_call, run_call
from tests.engine.test_conversation import hang_up_after


async def _spoken(**settings: object) -> list[str]:
    call = make_call(
        utterances=("Is it in stock?",),
        replies=["Yes, it is."],
        llm_first_token_s=2.5,
        **settings,
    )
    await run_call(call, hang_up_after(("say", 0.6), ("silence", 10)))
    return [text for text, _ in call.tts.requests]


async def test_filler_words_enabled_without_words_says_a_default_filler() -> None:
    spoken = await _spoken(filler_words_enabled=True, filler_words=[])
    assert len(spoken) == 2
    assert spoken[0] in DEFAULT_FILLER_WORDS["en"]
    assert spoken[1] == "Yes, it is."


async def test_default_filler_words_follow_the_calls_language() -> None:
    spoken = await _spoken(
        filler_words_enabled=True, stt_settings={"language": "es-ES", "model": "nova-2"}
    )
    assert spoken[0] in DEFAULT_FILLER_WORDS["es"]


async def test_a_language_without_its_own_list_falls_back_to_english() -> None:
    spoken = await _spoken(filler_words_enabled=True, stt_settings={"language": "fi"})
    assert spoken[0] in DEFAULT_FILLER_WORDS["en"]


async def test_filler_words_disabled_says_none() -> None:
    assert await _spoken(filler_words_enabled=False) == ["Yes, it is."]


def test_no_default_list_is_a_copy_of_the_english_one() -> None:
    # A copy-paste slip would make a language speak another's fillers.
    english = set(DEFAULT_FILLER_WORDS["en"])
    for language, words in DEFAULT_FILLER_WORDS.items():
        assert words, language
        assert language == "en" or set(words) != english, language
