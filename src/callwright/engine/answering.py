"""The LLM's answers. Each caller turn (or, for a model-generated opener, the call's
start) becomes one reply for the speaker: the request with the history so far, the
passages retrieved for the turn, and the tools the model is offered (``ToolHooks``).
A reply no LLM could give is settled by ``engine.faults``."""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import EventSink, TurnTiming
from callwright.engine.faults import ReplyOutcome, guarded
from callwright.engine.replies import OpenedAnswer, Retriever, ToolHooks, ToolRunner, llm_reply
from callwright.engine.speaking import Speaker
from callwright.providers.protocols import LLM, ChatMessage, ToolSpec

__all__ = ["Answerer"]


class Answerer:
    """``start`` answers a turn. ``end_call``, ``transfer`` and ``send_dtmf`` are what
    the built-in tools do to the call; ``retrieve`` serves both the per-turn passages
    and the ``search_knowledge`` tool."""

    def __init__(
        self,
        config: CallConfig,
        llms: Sequence[LLM],
        history: list[ChatMessage],
        speaker: Speaker,
        clock: Clock,
        sink: EventSink,
        *,
        tool_specs: tuple[ToolSpec, ...],
        end_call: Callable[[], None],
        transfer: Callable[[str], None],
        send_dtmf: Callable[[str], Awaitable[None]],
        run_custom_tools: ToolRunner | None,
        retrieve: Retriever | None,
        first_token_timeout_s: float,
        filler_after_s: float,
    ) -> None:
        self._config = config
        self._llms = llms
        self._history = history
        self._speaker = speaker
        self._clock = clock
        self._retrieve = retrieve
        self._first_token_timeout_s = first_token_timeout_s
        self._filler_after_s = filler_after_s
        self._fillers = itertools.count()
        self._tool_specs = tool_specs
        # A turn's hooks also gather its tool calls: made anew for every answer.
        self._hooks = functools.partial(
            ToolHooks,
            specs=tool_specs,
            end_call=end_call,
            transfer=transfer,
            send_dtmf=send_dtmf,
            search_knowledge=retrieve,
            run_custom=run_custom_tools,
            emit=sink,
            now=clock.now,
        )

    @property
    def tool_specs(self) -> tuple[ToolSpec, ...]:
        """The tools offered to the model on every request."""
        return self._tool_specs

    @property
    def retrieves(self) -> bool:
        """Whether each turn's request carries passages retrieved for it."""
        return self._retrieve is not None

    def start(
        self,
        timing: TurnTiming,
        query: str | None = None,
        opened: Awaitable[OpenedAnswer] | None = None,
    ) -> None:
        """The LLM's reply, played by the speaker. The answer to a caller's turn
        (``query``) is withdrawn if they go on before hearing any of it. With
        ``opened``, its first round is that stream, asked for before the turn was
        taken (``engine.preemption``)."""
        outcome = ReplyOutcome()
        answer = guarded(self._answer(timing, query, opened), outcome)
        self._speaker.start(answer, timing, outcome=outcome, withdrawable=query is not None)

    def _answer(
        self, timing: TurnTiming, query: str | None, opened: Awaitable[OpenedAnswer] | None
    ) -> AsyncGenerator[str, None]:
        return llm_reply(
            self._config,
            self._llms,
            self._history,
            self._clock,
            timing,
            self._hooks(),
            first_token_timeout_s=self._first_token_timeout_s,
            filler_after_s=self._filler_after_s,
            filler_counter=self._fillers,
            # Retrieval answers a caller's turn (not the model-generated opener).
            retrieve=self._retrieve if query else None,
            query=query,
            opened=opened,
        )
