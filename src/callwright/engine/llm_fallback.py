"""A call's LLMs as one: the primary, then each fallback, for one request.

``open_answer`` asks each LLM in turn until one starts answering: its stream is read
up to the first text or tool call. The next one is tried when an LLM raises a
``ProviderError``, misses the first-token deadline (the last one gets a longer
deadline: nothing is left to fall back to), or ends its stream with no answer at all
(an empty body, a 200 that was not a stream, usage alone). A stream that ends empty
is a failure, not a silent success: the caller would hear nothing.

The turn's timing names the LLM that answered (``TurnTiming.llm_provider``, the name
the registry gave it: ``openai:gpt-4o-mini``) and every LLM that failed before it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

from callwright.clock import Clock
from callwright.engine.deadlines import within
from callwright.engine.events import LlmError, TurnTiming
from callwright.providers.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from callwright.providers.protocols import LLM, LLMEvent, LLMRequest, TextDelta, ToolCall

__all__ = ["LAST_PROVIDER_TIMEOUT_S", "open_answer"]

logger = logging.getLogger(__name__)

LAST_PROVIDER_TIMEOUT_S = 30.0
"""The first-token deadline of the last LLM (when longer than the session's own)."""


def _is_answer(event: LLMEvent) -> bool:
    """Text the caller will hear, or a tool call: usage and blank text are not."""
    if isinstance(event, TextDelta):
        return bool(event.text.strip())
    return isinstance(event, ToolCall)


async def _read_to_answer(events: AsyncIterator[LLMEvent], provider: str) -> list[LLMEvent]:
    """The stream's events up to and including its first answer."""
    head: list[LLMEvent] = []
    async for event in events:
        head.append(event)
        if _is_answer(event):
            return head
    raise ProviderUnavailable(provider, "the stream ended without an answer (no text, no tool)")


async def open_answer(
    llms: Sequence[LLM], request: LLMRequest, clock: Clock, timeout_s: float, timing: TurnTiming
) -> tuple[list[LLMEvent], AsyncGenerator[LLMEvent, None]]:
    """The events read so far (ending with the first answer) and the rest of the stream
    of the first LLM that answers; raises the last ``ProviderError`` when none does."""
    failures: list[ProviderError] = []
    for index, llm in enumerate(llms):
        events = llm.stream(request)
        last = index == len(llms) - 1
        deadline = max(timeout_s, LAST_PROVIDER_TIMEOUT_S) if last else timeout_s
        try:
            head = await within(clock, deadline, _read_to_answer(events, llm.name))
        except TimeoutError:
            error: ProviderError = ProviderTimeout(
                llm.name, f"no first token within {deadline:.1f} s"
            )
        except ProviderError as exc:
            error = exc
        else:
            timing.llm_provider = llm.name
            timing.llm_first_token_at = clock.now()
            return head, events
        logger.warning("LLM %s failed the turn: %s", llm.name, error)
        timing.llm_errors.append(LlmError(llm.name, error.message))
        failures.append(error)
        await events.aclose()
    raise failures[-1] if failures else ProviderError("llm", "no provider configured")
