"""A false interruption taken back: the assistant says the rest of what it was saying.

A barge-in stops the reply at once (``engine.speaking``), before anyone knows what the
caller's speech holds. With ``interruption_settings.false_interruption_timeout``, a
``Resumption`` watches what follows: once the caller has been quiet that long, if their
speech gave no words (a cough, a door) or only acknowledgement phrases (a "mhmm" that
cut in before it was transcribed: after the barge-in's wait for words), and nothing
else has started, the speaker says what
was left unsaid. Real words make it a turn like any other, answered by the LLM.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from callwright.clock import Clock
from callwright.engine.lifecycle import Spawn
from callwright.engine.turns import BargeInPolicy

__all__ = ["CallerSpeech", "Resumption"]

# How often the window is looked at while the caller still speaks.
_POLL_S = 0.05


class CallerSpeech(Protocol):
    """What the resumption reads of the caller's speech (``engine.hearing``)."""

    def quiet_for(self, now: float) -> float: ...

    def words_in_progress(self) -> str: ...

    def drop_turn(self) -> str: ...


class _Speaking(Protocol):
    @property
    def replying(self) -> bool: ...

    def resume(self, unsaid: tuple[str, ...]) -> None: ...


class Resumption:
    """Takes back a false interruption ``timeout_s`` after the caller fell quiet.

    ``after_barge_in`` starts watching (a new barge-in replaces the watch); while it
    watches (``watching``), the session treats a committed turn of acknowledgements
    as an aside, and ``stop`` ends it for a real turn. ``active`` says whether the
    call still goes on; ``aside`` keeps words dropped with the false interruption.
    """

    def __init__(
        self,
        timeout_s: float,
        hearing: CallerSpeech,
        speaking: _Speaking,
        barge_in: BargeInPolicy,
        clock: Clock,
        spawn: Spawn,
        *,
        active: Callable[[], bool],
        aside: Callable[[str, float], None],
    ) -> None:
        self._timeout_s = timeout_s
        self._hearing = hearing
        self._speaking = speaking
        self._barge_in = barge_in
        self._clock = clock
        self._spawn = spawn
        self._active = active
        self._aside = aside
        self._watch: asyncio.Task[None] | None = None

    @property
    def watching(self) -> bool:
        return self._watch is not None and not self._watch.done()

    def after_barge_in(self, unsaid: tuple[str, ...]) -> None:
        """A barge-in left ``unsaid`` unsaid: watch whether it was a false one."""
        self.stop()
        if unsaid:
            self._watch = self._spawn(self._resume_if_false(unsaid))

    def stop(self) -> None:
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
        self._watch = None

    async def _resume_if_false(self, unsaid: tuple[str, ...]) -> None:
        hearing, timeout_s = self._hearing, self._timeout_s
        while (quiet := hearing.quiet_for(self._clock.now())) < timeout_s:
            await self._clock.sleep(timeout_s - quiet if quiet > 0 else _POLL_S)
        said = hearing.words_in_progress()
        if (
            self._speaking.replying
            or not self._active()
            or (said and not self._barge_in.is_backchannel(said))
        ):
            return
        if dropped := hearing.drop_turn():
            self._aside(dropped, self._clock.now())
        self._speaking.resume(unsaid)
