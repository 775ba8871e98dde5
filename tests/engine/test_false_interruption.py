"""A false interruption resumes (issue 17): a barge-in whose speech gives no words —
a noise, or a backchannel that cut in before its words were transcribed — within
false_interruption_timeout of the caller falling quiet, and the assistant says the
rest of what it was saying; what the caller heard stays recorded as heard."""

from __future__ import annotations

from typing import Any

import pytest

from callwright.engine.events import AssistantMessage, Interruption, UserMessage
from callwright.engine.turns import WORD_WAIT_S
from tests.engine.harness import Call, make_call, run_call
from tests.engine.test_interruptions_and_endings import LONG_REPLY, interrupting_caller

BARGE_IN_BY_TIME = {"interruption_threshold": 3, "min_speaking_time": 0.2}


async def _cut_in(
    utterances: tuple[str, ...],
    replies: list[str],
    speak_s: float = 0.5,
    words_per_second: float = 3.0,
    **interruption: Any,
) -> Call:
    call = make_call(
        interruption_settings={**BARGE_IN_BY_TIME, **interruption},
        utterances=utterances,
        replies=replies,
    )
    call.stt.words_per_second = words_per_second
    return await run_call(call, interrupting_caller(after_s=2.0, speak_s=speak_s))


def _said(call: Call) -> list[tuple[str, bool]]:
    return [(m.text, m.interrupted) for m in call.of(AssistantMessage)]


async def test_false_interruption_timeout_resumes_the_assistant_after_a_noise() -> None:
    # The second sound gives the transcriber no words.
    call = await _cut_in(("When are you open?",), [LONG_REPLY], false_interruption_timeout=1.0)
    (interruption,) = call.of(Interruption)
    (heard, cut), (rest, whole) = _said(call)
    assert (cut, whole) == (True, False)
    assert heard == interruption.heard
    # Nothing twice, nothing left out: the rest starts where the caller stopped hearing.
    assert f"{heard} {rest}" == LONG_REPLY
    # 0.2 s of speech meets the time test; no word comes in the next WORD_WAIT_S, so the
    # barge-in is taken then, after the caller fell quiet (0.5 s); the rest follows a
    # second after the caller fell quiet.
    fell_quiet = interruption.at - (0.2 + WORD_WAIT_S - 0.5)
    resumed = [s.at for s in call.transport.sent if s.at > interruption.at]
    assert resumed[0] == pytest.approx(fell_quiet + 1.0, abs=0.15)
    assert len(call.llm.requests) == 1
    history = [m.content for m in call.session.history if m.role == "assistant"]
    assert history == [heard, rest]


async def test_without_false_interruption_timeout_a_noise_leaves_silence() -> None:
    call = await _cut_in(("When are you open?",), [LONG_REPLY])
    assert len(call.of(Interruption)) == 1
    ((_, cut),) = _said(call)
    assert cut


async def test_a_backchannel_that_cut_in_before_its_words_resumes_the_assistant() -> None:
    # A transcriber with no interim words: the barge-in held for them is taken when the
    # wait is up, before "Mhmm." is transcribed (its final); it is kept as an aside,
    # not answered, and the assistant goes on.
    call = await _cut_in(
        ("When are you open?", "Mhmm."),
        [LONG_REPLY, "Unused."],
        words_per_second=0.5,
        false_interruption_timeout=1.0,
    )
    assert len(call.of(Interruption)) == 1
    (heard, cut), (rest, whole) = _said(call)
    assert (cut, whole) == (True, False)
    assert f"{heard} {rest}" == LONG_REPLY
    assert [(u.text, u.aside) for u in call.of(UserMessage)] == [
        ("When are you open?", False),
        ("Mhmm.", True),
    ]
    assert len(call.llm.requests) == 1


async def test_a_real_interruption_is_answered_not_resumed() -> None:
    call = await _cut_in(
        ("When are you open?", "What about Sunday?"),
        [LONG_REPLY, "Closed on Sunday."],
        speak_s=1.0,
        false_interruption_timeout=1.0,
    )
    (heard, cut), answer = _said(call)
    assert cut
    assert LONG_REPLY.startswith(heard)
    assert answer == ("Closed on Sunday.", False)
    assert call.llm.requests[1].messages[-1].content == "What about Sunday?"
