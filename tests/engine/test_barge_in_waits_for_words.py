"""A barge-in called for by time alone waits for the caller's first word (issue 17): a
drawn-out "mhmm" outlasts min_speaking_time before the transcriber reports it, and must
not stop the assistant; an interrupt word or real words stop it as soon as they are
transcribed; speech that gives no word within WORD_WAIT_S stops it then."""

from __future__ import annotations

import pytest

from callwright.engine.config import InterruptionConfig
from callwright.engine.events import Interruption, UserMessage
from callwright.engine.turns import WORD_WAIT_S, BargeInPolicy
from tests.engine.harness import Call, make_call, run_call
from tests.engine.test_interruptions_and_endings import LONG_REPLY, interrupting_caller

# The time test is met after 0.2 s of speech; the scripted transcriber reports the
# first word after 1/3 s (three words a second): the word comes after the time test.
BY_TIME_FIRST = {"interruption_threshold": 3, "min_speaking_time": 0.2}


async def _talked_over(
    said: str | None, speak_s: float, turn_detection: str = "silence"
) -> tuple[Call, float]:
    """The caller asks, then says ``said`` (None: a sound that gives no words) over the
    long reply; returns the call and when the caller started talking over it."""
    utterances = ("When are you open?",) if said is None else ("When are you open?", said)
    call = make_call(
        interruption_settings=BY_TIME_FIRST,
        stt_settings={"turn_detection": turn_detection},
        utterances=utterances,
        replies=[LONG_REPLY, "Closed on Sunday."],
    )
    started: list[float] = []
    await run_call(call, interrupting_caller(after_s=1.0, speak_s=speak_s, talk_over_at=started))
    return call, started[0]


async def test_a_backchannel_transcribed_after_the_time_threshold_does_not_interrupt() -> None:
    call, _ = await _talked_over("Mhmm.", speak_s=0.6)
    assert call.of(Interruption) == []
    assert call.transport.cleared_at == []
    assert call.transcript[1] == ("assistant", LONG_REPLY, False)
    # Kept, as an aside: not a turn, not answered.
    assert [(u.text, u.aside) for u in call.of(UserMessage)][1:] == [("Mhmm.", True)]
    assert len(call.llm.requests) == 1


async def test_an_interrupt_word_transcribed_after_the_time_threshold_interrupts_at_once() -> None:
    call, started = await _talked_over("Wait, stop.", speak_s=0.7)
    (interruption,) = call.of(Interruption)
    # When "Wait," is transcribed, not when the time test was met nor the wait was up.
    assert interruption.at - started == pytest.approx(1 / 3, abs=0.05)


async def test_words_that_are_no_backchannel_interrupt_as_soon_as_transcribed() -> None:
    call, started = await _talked_over("What about Sunday?", speak_s=1.0)
    (interruption,) = call.of(Interruption)
    assert interruption.at - started == pytest.approx(1 / 3, abs=0.05)
    assert call.transcript[-2:] == [
        ("user", "What about Sunday?", False),
        ("assistant", "Closed on Sunday.", False),
    ]


async def test_speech_with_no_word_in_the_wait_interrupts_when_the_wait_is_up() -> None:
    call, started = await _talked_over(None, speak_s=1.2)
    (interruption,) = call.of(Interruption)
    # Still speaking, no word transcribed: the time test (0.2 s) plus the wait.
    assert interruption.at - started == pytest.approx(0.2 + WORD_WAIT_S, abs=0.05)


async def test_a_final_after_the_caller_fell_quiet_settles_the_held_barge_in() -> None:
    # 0.3 s of speech: the time test is met, no interim word comes; with "smart" the
    # final is asked for 0.2 s into the silence and is in 0.1 s later, within the wait.
    kept_on, _ = await _talked_over("Mhmm.", speak_s=0.3, turn_detection="smart")
    assert kept_on.of(Interruption) == []
    assert [(u.text, u.aside) for u in kept_on.of(UserMessage)][1:] == [("Mhmm.", True)]
    stopped, started = await _talked_over("Sunday?", speak_s=0.3, turn_detection="smart")
    (interruption,) = stopped.of(Interruption)
    assert interruption.at - started == pytest.approx(0.3 + 0.2 + 0.1, abs=0.05)
    # The words that made it a barge-in are the caller's turn, answered, after what the
    # caller heard of the reply they cut (in the record and in the model's history).
    heard = stopped.transcript[1][1]
    assert stopped.transcript[1:] == [
        ("assistant", heard, True),
        ("user", "Sunday?", False),
        ("assistant", "Closed on Sunday.", False),
    ]
    assert [m.content for m in stopped.llm.requests[1].messages][-2:] == [heard, "Sunday?"]


def test_the_policy_holds_a_time_barge_in_until_the_words_or_the_wait() -> None:
    config = InterruptionConfig(
        min_words=3,
        min_speaking_s=0.5,
        cooldown_s=2,
        acknowledgement_phrases=("mhmm", "yeah"),
        interruption_phrases=("stop",),
    )
    policy = BargeInPolicy(config, word_wait_s=0.4)
    assert not policy.should_interrupt(now=10.5, speaking_s=0.5, words=0)
    assert policy.held_until == pytest.approx(10.9)
    # A backchannel comes; its final then empties the interim text: still no barge-in.
    assert not policy.transcribed("Mhmm")
    assert not policy.should_interrupt(now=10.7, speaking_s=0.7, words=0, text="")
    assert not policy.waited_out(10.9)  # words came: the wait ends without a barge-in
    assert policy.held_until is None
    # Nothing transcribed by the end of the wait: a barge-in.
    assert not policy.should_interrupt(now=20.5, speaking_s=0.5, words=0)
    assert not policy.waited_out(20.8)  # not yet
    assert policy.waited_out(20.9)
    # Without a wait (the realtime engine), the time test interrupts at once.
    assert BargeInPolicy(config).should_interrupt(now=30.5, speaking_s=0.5, words=0)
    # Held, words that are no backchannel interrupt at once, below the word count.
    held = BargeInPolicy(config, word_wait_s=0.4)
    assert not held.should_interrupt(now=40.5, speaking_s=0.5, words=0)
    assert held.transcribed("Yeah but")
    held.record(40.6)
    assert held.held_until is None
