"""The smart end-of-turn policy decision by decision, the word rules per language,
and the setting that selects it."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from callwright.domain.assistants.schemas import AssistantIn
from callwright.engine.config import CallConfig, EndpointingConfig
from callwright.engine.preemption import _same_request
from callwright.engine.smart_turn import (
    STRATEGIES,
    SmartEndOfTurn,
    SmartTurnOptions,
    end_of_turn_policy,
)
from callwright.engine.smart_turn_words import (
    ENDED,
    FINISHED,
    LEANS_UNFINISHED,
    UNFINISHED,
    UNKNOWN,
    words_done,
)
from callwright.engine.turns import (
    CallerState,
    CallerTurn,
    HearsAudio,
    SilenceEndOfTurn,
    TurnAction,
)
from callwright.providers.protocols import ChatMessage

ENDPOINTING = EndpointingConfig(
    vad_turnoff_s=0.5, min_silence_s=0.5, silence_threshold_s=0.5, utterance_end_s=1.0
)


@pytest.mark.parametrize(
    ("text", "language", "done"),
    [
        ("I'd like to book a table for", "en-US", UNFINISHED),
        ("I'd like to book a table for.", "en-US", UNFINISHED),  # whisper's full stop
        ("and", "en-US", UNFINISHED),
        ("so I was thinking um", "en-US", UNFINISHED),
        ("my number is five five", "en-US", UNFINISHED),
        ("my number is 5 5 5 1 2 3 4 5 6 7", "en-US", UNKNOWN),  # ten digits: whole
        ("the code is J O H", "en-US", UNFINISHED),
        ("eggs, milk,", "en-US", UNFINISHED),
        ("What time do you open?", "en-US", FINISHED),
        ("what time do you open", "en-US", ENDED),
        ("Can you book me a table? For four people", "en-US", UNKNOWN),
        ("Yes.", "en-US", FINISHED),
        ("thank you", "en-US", FINISHED),
        ("I want a large pizza.", "en-US", ENDED),
        ("", "en-US", UNKNOWN),
        ("Quiero reservar una mesa para", "es-ES", UNFINISHED),
        ("Je voudrais une table pour", "fr-FR", UNFINISHED),
        ("Ich möchte einen Tisch für", "de-DE", UNFINISHED),
        ("Ich möchte einen Tisch für vier Personen.", "de-DE", ENDED),
        # Spelled letters: "A" and "I" are letters beside another one, not an article.
        ("The order number is A B", "en-US", UNFINISHED),
        ("the code is B A", "en-US", UNFINISHED),
        ("I'd like a table for four and a", "en-US", UNFINISHED),  # the article
        ("I think I", "en-US", UNKNOWN),  # "I" alone is no spelling
        # An address with its number and no street type yet leans unfinished.
        ("My address is twelve", "en-US", LEANS_UNFINISHED),
        ("I live at 12 Baker", "en-US", LEANS_UNFINISHED),
        ("My address is twelve Baker Street, London.", "en-US", ENDED),
        ("I live at 12 Baker Street", "en-US", UNKNOWN),
        ("I live 5 minutes away", "en-US", UNKNOWN),  # no address given
        # A number in figures short of a phone number, after "number" or "code".
        ("my phone number is 555", "en-US", LEANS_UNFINISHED),
        ("the code is 4471", "en-US", LEANS_UNFINISHED),
        ("my number is 5551234567", "en-US", UNKNOWN),  # ten digits: whole
        ("a table for 4", "en-US", UNKNOWN),  # a number, but not one being read out
        ("My address is twelve?", "en-US", FINISHED),
    ],
)
def test_the_words_say_whether_the_caller_is_done(text: str, language: str, done: float) -> None:
    assert words_done(text, language) == done


def _paused(*finals: str, interim: str = "", final_at: float | None = None) -> CallerTurn:
    turn = CallerTurn(state=CallerState.PAUSED)
    turn.finals.extend(finals)
    turn.interim = interim
    turn.last_final_at = final_at
    return turn


class PendingModel:
    """An audio model whose answer the test gives."""

    name = "pending"

    def __init__(self) -> None:
        self.answers: list[asyncio.Future[float]] = []

    def predict(self, pcm16: bytes, sample_rate: int) -> asyncio.Future[float]:
        answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.answers.append(answer)
        return answer


def test_the_pause_is_judged_from_0_2_s_of_silence() -> None:
    policy = SmartEndOfTurn(ENDPOINTING, "en-US")
    assert isinstance(policy, HearsAudio)
    assert policy.turnoff_s == 0.2
    turn = _paused(interim="What time do you open?")
    assert policy.decide(1.0, 0.1, turn) is TurnAction.WAIT
    # At 0.2 s: the final is asked for and the answer may be prepared.
    assert policy.decide(1.1, 0.2, turn) == TurnAction.FINALISE | TurnAction.PREPARE
    turn.heard_final("What time do you open?", 1.2)
    assert policy.decide(1.2, 0.3, turn) is TurnAction.COMMIT


def test_a_final_from_before_the_caller_went_on_does_not_end_the_turn() -> None:
    policy = SmartEndOfTurn(ENDPOINTING, "en-US")
    turn = _paused("What time do you open?", interim="on Sunday", final_at=0.5)
    assert TurnAction.FINALISE in policy.decide(2.0, 0.2, turn)
    assert policy.decide(2.4, 0.6, turn) is TurnAction.WAIT  # this pause's final is not in
    turn.heard_final("on Sunday?", 2.5)
    assert policy.decide(2.5, 0.7, turn) is TurnAction.COMMIT


async def test_while_the_model_thinks_the_short_wait_is_not_taken() -> None:
    model = PendingModel()
    policy = SmartEndOfTurn(ENDPOINTING, "en-US", model)
    policy.heard(b"\x01\x00" * 512, 16_000)
    turn = _paused(interim="That works for me.")
    assert policy.decide(1.0, 0.2, turn) is TurnAction.FINALISE  # no PREPARE yet
    turn.heard_final("That works for me.", 1.05)
    assert policy.decide(1.1, 0.3, turn) is TurnAction.WAIT
    assert policy.last_wait_s == ENDPOINTING.silence_threshold_s
    (answer,) = model.answers
    answer.set_result(0.9)
    assert policy.decide(1.15, 0.35, turn) is TurnAction.COMMIT


async def test_words_leaning_unfinished_are_not_outvoted_by_the_models_done() -> None:
    # The cut-off the conversation benchmark found: the model hears a voice stopping
    # after "twelve" (0.95), the words an address still missing its street.
    model = PendingModel()
    policy = SmartEndOfTurn(ENDPOINTING, "en-US", model)
    policy.heard(b"\x01\x00" * 512, 16_000)
    turn = _paused(interim="My address is twelve")
    assert policy.decide(1.0, 0.2, turn) is TurnAction.FINALISE  # nothing prepared
    turn.heard_final("My address is twelve", 1.05)
    (answer,) = model.answers
    answer.set_result(0.95)
    # Not taken after the short wait nor after silence_threshold: after utterance_end.
    for silence_s in (0.3, 0.5, 0.9):
        assert policy.decide(0.8 + silence_s, silence_s, turn) is TurnAction.WAIT
    assert policy.last_done == LEANS_UNFINISHED
    assert policy.last_wait_s == ENDPOINTING.utterance_end_s
    assert policy.decide(1.8, 1.0, turn) is TurnAction.COMMIT
    # The model may make such words less done, not more.
    doubting = SmartEndOfTurn(ENDPOINTING, "en-US", model)
    doubting.heard(b"\x01\x00" * 512, 16_000)
    doubting.decide(2.0, 0.2, _paused(interim="My address is twelve"))
    model.answers[-1].set_result(0.05)
    done, certain = doubting.done(_paused(interim="My address is twelve"))
    assert certain
    assert done == pytest.approx((LEANS_UNFINISHED + 0.05) / 2)


async def test_a_question_or_a_short_answer_does_not_wait_for_the_model() -> None:
    model = PendingModel()
    policy = SmartEndOfTurn(ENDPOINTING, "en-US", model)
    policy.heard(b"\x01\x00" * 512, 16_000)
    turn = _paused(interim="Yes.")
    assert policy.decide(1.0, 0.2, turn) == TurnAction.FINALISE | TurnAction.PREPARE
    turn.heard_final("Yes.", 1.05)
    assert policy.decide(1.1, 0.3, turn) is TurnAction.COMMIT
    assert model.answers[0].cancelled()  # taken before it answered: withdrawn


async def test_a_model_that_fails_leaves_the_words_to_decide() -> None:
    model = PendingModel()
    policy = SmartEndOfTurn(ENDPOINTING, "en-US", model)
    policy.heard(b"\x01\x00" * 512, 16_000)
    turn = _paused(interim="That works for me.")
    policy.decide(1.0, 0.2, turn)
    model.answers[0].set_exception(RuntimeError("overloaded"))
    await asyncio.sleep(0)  # its done callback logs (and retrieves) the failure
    turn.heard_final("That works for me.", 1.05)
    assert policy.decide(1.1, 0.3, turn) is TurnAction.COMMIT


async def test_speech_withdraws_the_question_to_the_model() -> None:
    model = PendingModel()
    policy = SmartEndOfTurn(ENDPOINTING, "en-US", model)
    policy.heard(b"\x01\x00" * 512, 16_000)
    policy.decide(1.0, 0.2, _paused(interim="I think"))
    policy.speech_started(1.1)
    assert model.answers[0].cancelled()


def test_the_audio_window_keeps_the_last_8_s() -> None:
    policy = SmartEndOfTurn(ENDPOINTING, "en-US", options=SmartTurnOptions(window_s=1.0))
    for _ in range(200):  # 6.4 s of 32 ms frames at 8 kHz
        policy.heard(b"\x00\x00" * 256, 8_000)
    assert 2 * 8_000 <= len(policy._audio) <= 4 * 2 * 8_000


def test_turn_detection_is_silence_unless_smart_is_chosen() -> None:
    default = AssistantIn(name="a").model_dump(mode="json")
    assert CallConfig.from_settings(default).endpointing.turn_detection == "silence"
    smart = AssistantIn(name="a", stt_settings={"turn_detection": "smart"}).model_dump(mode="json")
    assert CallConfig.from_settings(smart).endpointing.turn_detection == "smart"
    with pytest.raises(ValidationError, match="turn_detection"):
        AssistantIn(name="a", stt_settings={"turn_detection": "semantic"})


def test_each_strategy_is_built_by_name() -> None:
    model = PendingModel()
    built = {name: end_of_turn_policy(name, ENDPOINTING, "en-US", model) for name in STRATEGIES}
    assert isinstance(built["silence"], SilenceEndOfTurn)
    signals = {
        name: (policy.options.text, policy.options.audio)
        for name, policy in built.items()
        if isinstance(policy, SmartEndOfTurn)
    }
    assert signals == {
        "smart": (True, True),
        "smart-words": (True, False),
        "smart-audio": (False, True),
    }


def test_an_early_request_matches_the_final_words_whatever_their_formatting() -> None:
    system = ChatMessage("system", "Be brief.")
    sent = (system, ChatMessage("user", "what time do you open on saturday"))
    assert _same_request(sent, [system, ChatMessage("user", "What time do you open on Saturday?")])
    assert not _same_request(sent, [system, ChatMessage("user", "What time do you open?")])
    assert not _same_request(sent, [ChatMessage("system", "Other."), sent[1]])
    assert not _same_request(sent, [system, ChatMessage("assistant", sent[1].content)])
