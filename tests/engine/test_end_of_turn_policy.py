"""The EndOfTurnPolicy seam: the session asks the policy when the caller's turn is
over, whatever the policy is; and the default, silence-based policy, decision by
decision."""

from __future__ import annotations

from callwright.engine.config import EndpointingConfig
from callwright.engine.events import UserMessage
from callwright.engine.turns import (
    CallerState,
    CallerTurn,
    SilenceEndOfTurn,
    TurnAction,
)
from tests.engine.harness import make_call, run_call
from tests.engine.test_conversation import hang_up_after

FRAGMENTS = ("I would like to order", "a large pizza please.")
# A 1.5 s pause mid-sentence: three times what the default policy waits.
PAUSING_CALLER = hang_up_after(("say", 0.8), ("silence", 1.5), ("say", 1.0), ("silence", 6))


class UntilTheSentenceEnds:
    """Takes the turn only once its last final ends a sentence, however long the
    caller pauses in between (a stand-in for a model that reads the words)."""

    def __init__(self) -> None:
        self.final_requested = False
        self.started = 0
        self.committed: list[str] = []

    def speech_started(self, now: float) -> None:
        self.started += 1
        self.final_requested = False

    def decide(self, now: float, silence_s: float, turn: CallerTurn) -> TurnAction:
        if silence_s < 0.3:
            return TurnAction.WAIT
        action = TurnAction.WAIT
        if not self.final_requested:
            self.final_requested = True
            action = TurnAction.FINALISE
        if turn.finals and turn.finals[-1].endswith((".", "?", "!")):
            self.committed.append(" ".join(turn.finals))
            action |= TurnAction.COMMIT
        return action


async def test_a_policy_plugged_in_decides_when_the_turn_is_over() -> None:
    policy = UntilTheSentenceEnds()
    call = make_call(
        end_of_turn=policy,
        utterances=FRAGMENTS,
        replies=["One large pizza, coming up."],
    )
    # A 1.5 s pause mid-sentence: three times what the default policy waits.
    await run_call(
        call, hang_up_after(("say", 0.8), ("silence", 1.5), ("say", 1.0), ("silence", 6))
    )
    assert [m.text for m in call.of(UserMessage)] == [" ".join(FRAGMENTS)]
    assert policy.started == 2
    assert policy.committed == [" ".join(FRAGMENTS)]
    (request,) = call.llm.requests
    assert request.messages[-1].content == " ".join(FRAGMENTS)
    assert call.transcript[-1] == ("assistant", "One large pizza, coming up.", False)


async def test_the_default_policy_takes_the_same_pause_as_the_end_of_a_turn() -> None:
    call = make_call(utterances=FRAGMENTS, replies=["Sure.", "One large pizza, coming up."])
    await run_call(
        call, hang_up_after(("say", 0.8), ("silence", 1.5), ("say", 1.0), ("silence", 6))
    )
    assert [m.text for m in call.of(UserMessage)] == list(FRAGMENTS)


# -- SilenceEndOfTurn -----------------------------------------------------------------


def _turn(*finals: str, interim: str = "") -> CallerTurn:
    turn = CallerTurn(state=CallerState.PAUSED)
    for text in finals:
        turn.heard_final(text, 0.0)
    if interim:
        turn.heard_interim(interim)
    return turn


def _policy(
    min_silence_s: float = 0.3, silence_threshold_s: float = 0.5, utterance_end_s: float = 1.0
) -> SilenceEndOfTurn:
    return SilenceEndOfTurn(
        EndpointingConfig(
            vad_turnoff_s=0.5,
            min_silence_s=min_silence_s,
            silence_threshold_s=silence_threshold_s,
            utterance_end_s=utterance_end_s,
        )
    )


def test_silence_policy_asks_for_the_final_once_then_takes_the_turn_when_it_is_in() -> None:
    policy = _policy()
    policy.speech_started(0.0)
    assert policy.decide(1.2, 0.2, _turn()) is TurnAction.WAIT
    assert policy.decide(1.3, 0.3, _turn()) is TurnAction.FINALISE
    assert policy.decide(1.4, 0.4, _turn()) is TurnAction.WAIT  # asked once
    assert policy.decide(1.5, 0.5, _turn()) is TurnAction.WAIT  # no words yet
    assert policy.decide(1.6, 0.6, _turn("Hello.")) is TurnAction.COMMIT


def test_silence_policy_can_finalise_and_commit_on_the_same_frame() -> None:
    policy = _policy(min_silence_s=0.5, silence_threshold_s=0.5)
    policy.speech_started(0.0)
    action = policy.decide(1.5, 0.5, _turn("Hello."))
    assert action == TurnAction.FINALISE | TurnAction.COMMIT


def test_silence_policy_takes_the_interim_text_when_the_final_is_overdue() -> None:
    policy = _policy(utterance_end_s=1.0)
    policy.speech_started(0.0)
    assert policy.decide(1.25, 0.3, _turn(interim="Hello")) is TurnAction.FINALISE
    assert policy.decide(2.0, 1.05, _turn(interim="Hello")) is TurnAction.WAIT
    assert policy.decide(2.25, 1.3, _turn(interim="Hello")) is TurnAction.COMMIT


def test_silence_policy_asks_again_after_the_caller_resumes() -> None:
    policy = _policy()
    policy.speech_started(0.0)
    assert policy.decide(1.3, 0.3, _turn()) is TurnAction.FINALISE
    policy.speech_started(1.5)
    assert policy.decide(2.3, 0.3, _turn()) is TurnAction.FINALISE
