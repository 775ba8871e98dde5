"""Short caller speech that does not interrupt the assistant is kept (issue 17): it is
in the transcript as it is said, and the LLM gets it with the caller's next turn."""

from __future__ import annotations

from callwright.engine.events import AssistantMessage, Interruption, UserMessage
from callwright.providers.fakes import speech
from callwright.runtime.recorder import CallRecorder
from callwright.transports.loopback import LoopbackTransport
from tests.engine.harness import make_call, run_call
from tests.engine.test_interruptions_and_endings import LONG_REPLY


async def caller(transport: LoopbackTransport) -> None:
    """Asks, says two words a second into the reply, then asks again after it."""
    await transport.say(speech(0.6))
    await transport.silence(1.8)
    await transport.say(speech(0.7))  # "Sunday too." over the reply
    await transport.silence(10)  # the reply ends (about 8 s long)
    await transport.say(speech(0.7))
    await transport.silence(4)
    await transport.hang_up_caller()


async def test_short_speech_over_the_assistant_is_kept_and_given_with_the_next_turn() -> None:
    call = make_call(
        interruption_settings={"interruption_threshold": 3, "min_speaking_time": 5},
        utterances=("When are you open?", "Sunday too.", "And holidays?"),
        replies=[LONG_REPLY, "Holidays follow Sundays."],
    )
    await run_call(call, caller)

    assert call.of(Interruption) == []
    users = call.of(UserMessage)
    assert [(u.text, u.aside) for u in users] == [
        ("When are you open?", False),
        ("Sunday too.", True),
        ("And holidays?", False),
    ]
    # Not answered on its own: one request per turn, and the aside in the second.
    assert len(call.llm.requests) == 2
    second = [(m.role, m.content) for m in call.llm.requests[1].messages]
    assert second[-3:] == [
        ("assistant", LONG_REPLY),
        ("user", "Sunday too."),
        ("user", "And holidays?"),
    ]
    assert [m.text for m in call.of(AssistantMessage)] == [LONG_REPLY, "Holidays follow Sundays."]

    recorder = CallRecorder(started_at=0.0)
    for event in call.events:
        recorder(event)
    assert [(m["role"], m["text"]) for m in recorder.messages] == [
        ("user", "When are you open?"),
        ("user", "Sunday too."),
        ("assistant", LONG_REPLY),
        ("user", "And holidays?"),
        ("assistant", "Holidays follow Sundays."),
    ]


def test_a_continued_turn_replaces_the_turn_it_continues_not_an_aside() -> None:
    recorder = CallRecorder(started_at=0.0)
    recorder(UserMessage("A table for", 1.0))
    recorder(UserMessage("Mhmm.", 1.2, aside=True))
    recorder(UserMessage("A table for four", 2.5, continues=True))
    assert [(m["text"], m["seconds_from_start"]) for m in recorder.messages] == [
        ("A table for four", 1.0),
        ("Mhmm.", 1.2),
    ]
