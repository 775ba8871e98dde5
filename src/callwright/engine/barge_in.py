"""Caller speech over the assistant, settled: the ``BargeInPolicy`` asked as the caller
speaks and as their words are transcribed, a barge-in held for the words waited out on
the call's clock, the reply cut, and a possible false interruption watched.

The policy decides and keeps its state; this puts it to work in one call: it owns the
one timer a held barge-in needs (a task of the call's TaskGroup), because the words
may come, or fail to come, after the caller has fallen quiet and no voice-activity
frame asks the policy any more. With ``false_interruption_timeout`` it owns the
``Resumption`` too, and with it the rule for a turn taken just after a barge-in that
may be false: acknowledgements only are an aside, anything else a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from callwright.clock import Clock
from callwright.engine.config import InterruptionConfig
from callwright.engine.lifecycle import Spawn
from callwright.engine.resumption import CallerSpeech, Resumption
from callwright.engine.turns import WORD_WAIT_S, BargeInPolicy

__all__ = ["BargeIns"]


class _Speaker(Protocol):
    @property
    def interruptible(self) -> bool: ...

    @property
    def replying(self) -> bool: ...

    @property
    def current(self) -> asyncio.Task[None] | None: ...

    def interrupt(self, now: float) -> tuple[str, ...]: ...

    def resume(self, unsaid: tuple[str, ...]) -> None: ...


class BargeIns:
    """Cuts the speaker's reply when the interruption settings say the caller's speech
    interrupts it (``speaking``, ``transcribed``), or when a barge-in held for the words
    (``WORD_WAIT_S``) gets none in time; after each, with a
    ``false_interruption_timeout``, a ``Resumption`` watches whether it was a false one
    (``active`` says whether the call goes on; ``aside`` keeps the words it drops)."""

    def __init__(
        self,
        interruption: InterruptionConfig,
        hearing: CallerSpeech,
        speaker: _Speaker,
        clock: Clock,
        spawn: Spawn,
        *,
        active: Callable[[], bool],
        aside: Callable[[str, float], None],
    ) -> None:
        # A barge-in on time alone waits a moment for the words (BargeInPolicy).
        self._policy = BargeInPolicy(interruption, word_wait_s=WORD_WAIT_S)
        self._speaker = speaker
        self._clock = clock
        self._spawn = spawn
        # false_interruption_timeout: the assistant resumes after a barge-in that was
        # no turn (the caller's speech gave no words).
        timeout = interruption.false_interruption_timeout_s
        self._resumption = (
            Resumption(
                timeout, hearing, speaker, self._policy, clock, spawn, active=active, aside=aside
            )
            if timeout is not None
            else None
        )
        self._word_wait: asyncio.Task[None] | None = None

    def aside_after_barge_in(self, text: str) -> bool:
        """Whether the caller's turn ``text`` is an aside: just after a barge-in that
        may be false, a turn of acknowledgements only is one (the assistant is about to
        resume). Any other turn ends the watch for a false interruption."""
        resumption = self._resumption
        if resumption is None or not resumption.watching:
            return False
        if self._policy.is_backchannel(text):
            return True
        resumption.stop()
        return False

    def speaking(self, now: float, speaking_s: float, words: int, text: str) -> None:
        """Caller speech while the assistant speaks (each voice-activity frame, each
        interim while they speak): a barge-in if the policy says so; one held for the
        words is settled by them or when its wait is up."""
        if not self._speaker.interruptible:
            return
        policy = self._policy
        if policy.should_interrupt(now=now, speaking_s=speaking_s, words=words, text=text):
            self._interrupt(now)
        elif policy.held_until is not None and (self._word_wait is None or self._word_wait.done()):
            self._word_wait = self._spawn(self._interrupt_unless_words())

    async def transcribed(self, text: str, now: float) -> bool:
        """Words for a held barge-in: they interrupt unless they are a backchannel.
        Returns once the cut reply is recorded: the words may be taken as a turn at
        once (a final), and the history must hold what was heard before them."""
        if not (self._speaker.interruptible and self._policy.transcribed(text)):
            return False
        cut = self._speaker.current
        self._interrupt(now)
        if cut is not None:
            await asyncio.wait((cut,))
        return True

    async def _interrupt_unless_words(self) -> None:
        """A barge-in held for the caller's words: when the wait is up with no word
        transcribed, it interrupts anyway (speech the transcriber gives no interim
        words for; a noise is taken back by the resumption)."""
        policy = self._policy
        while (until := policy.held_until) is not None:
            await self._clock.sleep(max(0.0, until - self._clock.now()))
            now = self._clock.now()
            if policy.waited_out(now) and self._speaker.interruptible:
                self._interrupt(now)

    def _interrupt(self, now: float) -> None:
        self._policy.record(now)
        if self._word_wait is not None and self._word_wait is not asyncio.current_task():
            self._word_wait.cancel()
        self._word_wait = None
        unsaid = self._speaker.interrupt(now)
        if self._resumption is not None:
            self._resumption.after_barge_in(unsaid)
