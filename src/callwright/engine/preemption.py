"""Pre-emptive generation: the LLM request of a turn started before the turn is taken.

When the end-of-turn policy finds the caller probably done (``TurnAction.PREPARE``),
the request their turn would make — the history, their asides, their words so far —
is sent at once, and its stream opened up to the first answer (text or a tool call)
in a task of the call's. Nothing is spoken and no tool runs: that happens only if the
turn is then taken with the same words, when the answer continues from the opened
stream instead of asking again (the model's first-token time is saved; the caller's
words are compared without case and punctuation, which a final's formatting adds). If the caller
goes on, or the turn's final words differ, the request is dropped and counted as
wasted (``TurnTiming.preemptions_wasted`` of the turn eventually taken).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import TurnTiming
from callwright.engine.lifecycle import Spawn
from callwright.engine.llm_fallback import open_answer
from callwright.engine.phrases import words_of
from callwright.engine.replies import OpenedAnswer, build_request
from callwright.providers.errors import ProviderError
from callwright.providers.protocols import LLM, ChatMessage, LLMEvent, LLMRequest, ToolSpec

__all__ = ["EarlyAnswer", "Preemptor"]

logger = logging.getLogger(__name__)


class ToolsOnOffer(Protocol):
    """What offers the model its tools (the session's ``Answerer``)."""

    @property
    def tool_specs(self) -> tuple[ToolSpec, ...]: ...


@dataclass(slots=True)
class EarlyAnswer:
    """One request sent early (``messages``: the history it was sent with, ending with
    the caller's words): its stream once open (or its error), and the milestones it
    reached (the timing of the turn that uses it takes them over)."""

    messages: tuple[ChatMessage, ...]
    opened: asyncio.Future[OpenedAnswer]
    timing: TurnTiming = field(default_factory=lambda: TurnTiming(0))
    task: asyncio.Task[None] | None = None
    turn: TurnTiming | None = None  # the timing of the turn that uses it

    awaited: bool = False

    def __await__(self) -> Generator[Any, None, OpenedAnswer]:
        """Awaited by the turn's answer (``llm_reply``'s ``opened``): the stream."""
        self.awaited = True
        return self._stream().__await__()

    async def _stream(self) -> OpenedAnswer:
        try:
            return await self.opened
        finally:
            self._report()

    def _report(self) -> None:
        """The early request's milestones, as the turn's own."""
        early, timing = self.timing, self.turn
        if timing is not None:
            timing.llm_request_at = early.llm_request_at
            timing.llm_first_token_at = early.llm_first_token_at
            timing.llm_provider = early.llm_provider
            timing.llm_errors.extend(early.llm_errors)
            timing.preempted = True


class Preemptor:
    """At most one early request per call: ``start`` sends one (dropping the one
    before), ``take`` hands it over for the turn taken with the same words, ``drop``
    abandons it. ``wasted`` counts the requests dropped since the last turn."""

    def __init__(
        self,
        config: CallConfig,
        llms: Sequence[LLM],
        clock: Clock,
        spawn: Spawn,
        first_token_timeout_s: float,
        tools: ToolsOnOffer,
    ) -> None:
        self._config = config
        self._tools = tools
        self._llms = llms
        self._clock = clock
        self._spawn = spawn
        self._timeout_s = first_token_timeout_s
        self._pending: EarlyAnswer | None = None
        # The last one handed to a turn: closed if that turn's answer never read it
        # (withdrawn before it started).
        self._handed: EarlyAnswer | None = None
        self.wasted = 0
        self.used = 0

    @property
    def pending(self) -> EarlyAnswer | None:
        return self._pending

    def start(self, history: Sequence[ChatMessage], asides: Sequence[str], text: str) -> None:
        """Send the request of a turn ``text`` would make now (``history``, then the
        caller's ``asides`` and ``text`` as user messages, as the session adds them)."""
        messages = [
            *history,
            *(ChatMessage("user", aside) for aside in asides),
            ChatMessage("user", text),
        ]
        self._send(build_request(self._config, messages, self._tools.tool_specs))

    def _send(self, request: LLMRequest) -> None:
        self.drop()
        self._close_unread()
        loop = asyncio.get_running_loop()
        early = EarlyAnswer(request.messages, loop.create_future())
        early.timing.llm_request_at = self._clock.now()
        early.task = self._spawn(self._open(early, request))
        self._pending = early

    async def _open(self, early: EarlyAnswer, request: LLMRequest) -> None:
        try:
            opened = await open_answer(
                self._llms, request, self._clock, self._timeout_s, early.timing
            )
        except ProviderError as exc:
            # Given to the turn if it uses this answer: the same failure a request
            # sent then would have met (engine.faults settles it).
            early.opened.set_exception(exc)
            early.opened.exception()  # retrieved: not logged as never seen if dropped
            return
        if early.opened.cancelled():
            await opened[1].aclose()
            return
        early.opened.set_result(opened)

    def take(self, history: Sequence[ChatMessage], timing: TurnTiming) -> EarlyAnswer | None:
        """The early answer for a turn whose request carries ``history``: the pending
        one if it was asked with this history and the same words from the caller (case
        and punctuation aside: interims often lack what the final's formatting adds),
        else it is dropped, and None. It reports to the turn's ``timing``."""
        early = self._pending
        if early is None:
            return None
        if not _same_request(early.messages, history):
            self.drop()
            return None
        self._close_unread()
        self._pending = None
        self.used += 1
        early.turn = timing
        self._handed = early
        return early

    def drop(self) -> None:
        """The caller went on (or the words changed): the early request is wasted."""
        early, self._pending = self._pending, None
        if early is None:
            return
        self.wasted += 1
        self._abandon(early)

    def _close_unread(self) -> None:
        handed, self._handed = self._handed, None
        if handed is not None and not handed.awaited:
            self._abandon(handed)

    def _abandon(self, early: EarlyAnswer) -> None:
        if early.task is not None and not early.task.done():
            early.task.cancel()
        if early.opened.done():
            if not early.opened.cancelled() and early.opened.exception() is None:
                _, events = early.opened.result()
                self._spawn(_close(events))
        else:
            early.opened.cancel()

    def settle(self, timing: TurnTiming) -> None:
        """A turn is taken: it reports the requests wasted while it was spoken."""
        timing.preemptions_wasted += self.wasted
        self.wasted = 0


async def _close(events: AsyncGenerator[LLMEvent, None]) -> None:
    """Close an abandoned stream; whatever its closing raises is no concern of the call."""
    try:
        await events.aclose()
    except Exception:  # a stream nobody reads must not fail the call
        logger.debug("closing an abandoned early LLM stream failed", exc_info=True)


def _same_request(sent: Sequence[ChatMessage], history: Sequence[ChatMessage]) -> bool:
    """Whether ``sent`` asked what ``history`` asks: the same messages, the caller's
    last one in the same words."""
    if len(sent) != len(history) or not sent:
        return False
    if tuple(sent[:-1]) != tuple(history[:-1]):
        return False
    asked, said = sent[-1], history[-1]
    return (
        asked.role == said.role == "user"
        and words_of(asked.content or "") == words_of(said.content or "")
        and bool(words_of(said.content or ""))
    )
