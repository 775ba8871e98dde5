"""Backchannels never interrupt; interrupt words always do (issue 17): the
acknowledgement and interruption phrases of interruption_settings, per language."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import InterruptionConfig
from callwright.engine.events import Interruption
from callwright.engine.turns import BargeInPolicy
from tests.engine.harness import Call, make_call, run_call
from tests.engine.test_interruptions_and_endings import LONG_REPLY, interrupting_caller


async def _talked_over(said: str, *, speak_s: float = 1.2, **settings: Any) -> Call:
    """The caller asks, then says ``said`` one second into the long reply."""
    call = make_call(
        utterances=("When are you open?", said),
        replies=[LONG_REPLY, "Sure."],
        **settings,
    )
    return await run_call(call, interrupting_caller(after_s=1.0, speak_s=speak_s))


async def test_acknowledgement_phrases_never_interrupt_even_past_the_thresholds() -> None:
    # Three words and 1.2 s of speech: past both thresholds, but only backchannels.
    call = await _talked_over(
        "Yeah, okay, right.",
        interruption_settings={"interruption_threshold": 2, "min_speaking_time": 0.4},
    )
    assert call.of(Interruption) == []
    assert call.transcript[1] == ("assistant", LONG_REPLY, False)
    assert call.transport.cleared_at == []


async def test_acknowledgement_phrases_setting_replaces_the_language_list() -> None:
    thresholds = {"interruption_threshold": 2, "min_speaking_time": 0.4}
    own = {**thresholds, "acknowledgement_phrases": ["roger that", "copy"]}
    kept_on = await _talked_over("Roger that, copy.", interruption_settings=own)
    assert kept_on.of(Interruption) == []
    # The list replaces the default one: "yeah okay" is no backchannel any more.
    cut_off = await _talked_over("Yeah, okay, right.", interruption_settings=own)
    assert len(cut_off.of(Interruption)) == 1


async def test_the_default_backchannels_follow_the_transcriber_language() -> None:
    thresholds = {"interruption_threshold": 2, "min_speaking_time": 0.4}
    spanish = await _talked_over(
        "Vale, sí, claro.",
        interruption_settings=thresholds,
        stt_settings={"language": "es-ES"},
    )
    assert spanish.of(Interruption) == []
    english = await _talked_over("Vale, sí, claro.", interruption_settings=thresholds)
    assert len(english.of(Interruption)) == 1


async def test_interruption_phrases_interrupt_below_the_threshold() -> None:
    # Neither two words nor 0.7 s reach 5 words / 5 s: only the interrupt word stops it.
    call = await _talked_over(
        "Wait, stop.",
        speak_s=0.7,
        interruption_settings={"interruption_threshold": 5, "min_speaking_time": 5},
    )
    (interruption,) = call.of(Interruption)
    assert call.transport.cleared_at == [pytest.approx(interruption.at)]
    role, heard, interrupted = call.transcript[1]
    assert (role, interrupted) == ("assistant", True)
    assert LONG_REPLY.startswith(heard)
    # The caller speaks from 2.4 s; "Wait," is transcribed a third of a second later
    # (3 words a second), and the assistant stops then.
    assert interruption.at == pytest.approx(2.4 + 1 / 3, abs=0.05)


async def test_interruption_phrases_setting_replaces_the_language_list() -> None:
    thresholds = {"interruption_threshold": 5, "min_speaking_time": 5}
    own = {**thresholds, "interruption_phrases": ["banana"]}
    stopped = await _talked_over("Banana split.", speak_s=0.7, interruption_settings=own)
    assert len(stopped.of(Interruption)) == 1
    # "wait" is no interrupt word any more: two words stay below the threshold.
    went_on = await _talked_over("Wait, stop.", speak_s=0.7, interruption_settings=own)
    assert went_on.of(Interruption) == []


def test_phrases_are_whole_words_and_an_interrupt_word_beats_a_backchannel() -> None:
    config = InterruptionConfig(
        min_words=3,
        min_speaking_s=0.5,
        cooldown_s=2,
        acknowledgement_phrases=("okay", "uh-huh", "i see"),
        interruption_phrases=("no", "hold on"),
    )

    def interrupts(text: str, speaking_s: float = 1.0) -> bool:
        policy = BargeInPolicy(config)
        words = len(text.split())
        return policy.should_interrupt(now=10, speaking_s=speaking_s, words=words, text=text)

    assert not interrupts("Uh huh, I see. Okay.")  # "Uh huh" is "uh-huh"
    assert interrupts("Okay, hold on.", speaking_s=0.1)
    assert interrupts("No.", speaking_s=0.1)
    assert not interrupts("I know", speaking_s=0.1)  # "no" is not in "know"
    assert interrupts("I know", speaking_s=0.6)  # but the thresholds still act
    assert interrupts("", speaking_s=0.6)  # no words yet: the thresholds decide
    cooling = BargeInPolicy(config)
    cooling.record(9.5)
    assert not cooling.should_interrupt(now=10, speaking_s=0.1, words=1, text="No.")


def test_a_phrase_without_a_word_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as refused:
        AssistantIn(name="x", interruption_settings={"interruption_phrases": ["stop", "?!"]})
    (error,) = refused.value.errors()
    assert error["loc"] == ("interruption_settings", "interruption_phrases")
    assert "'?!'" in error["msg"]
