"""A failed reply is a sentence, not silence.

When every LLM of the call fails a reply (an error, no first token in time, an empty
answer, or a failure after some sentences were spoken), the call goes on: what was
already said stays said, the caller hears ``error_message``, and the caller's next
turn asks the LLMs again. ``ReplyFailures`` counts failed replies in a row: after
``max_error_messages`` of them the next one ends the call with ``LLM_FAILED``, after a
goodbye (``end_call_message``, else ``ERROR_GOODBYE``). An answered reply resets the
count, as caller speech resets the idle reprompts.

After a mid-stream failure the apology is said too rather than ending the turn
quietly: the caller heard half an answer and would otherwise wait for the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from callwright.engine.config import ERROR_GOODBYE, CallConfig
from callwright.providers.errors import ProviderError

__all__ = ["AfterFailure", "ReplyFailures", "ReplyOutcome", "guarded"]


@dataclass(slots=True)
class ReplyOutcome:
    """How one LLM reply ended: ``error`` when it failed, ``answered`` when it ran to
    its end; neither when it was cut short (a barge-in cancels it)."""

    error: ProviderError | None = None
    answered: bool = False


async def guarded(
    sentences: AsyncGenerator[str, None], outcome: ReplyOutcome
) -> AsyncGenerator[str, None]:
    """Re-yield ``sentences``; a ``ProviderError`` ends them early, kept in ``outcome``,
    instead of taking the call down."""
    try:
        async with contextlib.aclosing(sentences):
            async for sentence in sentences:
                yield sentence
    except ProviderError as error:
        outcome.error = error
        return
    outcome.answered = True


@dataclass(frozen=True, slots=True)
class AfterFailure:
    """What to say after a failed reply (None: nothing) and whether to hang up then."""

    message: str | None
    error: ProviderError
    ends_call: bool


class ReplyFailures:
    """Failed replies in a row, and what each one calls for."""

    def __init__(self, *, error_message: str | None, max_error_messages: int, goodbye: str):
        self._error_message = error_message
        self._max_error_messages = max_error_messages
        self._goodbye = goodbye
        self.in_a_row = 0

    @classmethod
    def of(cls, config: CallConfig) -> ReplyFailures:
        """The call's settings: error_message, max_error_messages, end_call_message."""
        return cls(
            error_message=config.error_message,
            max_error_messages=config.max_error_messages,
            goodbye=config.end_call_message or ERROR_GOODBYE,
        )

    def settle(self, outcome: ReplyOutcome) -> AfterFailure | None:
        """Count a finished reply; for a failed one, what the session does next."""
        if outcome.error is None:
            if outcome.answered:
                self.in_a_row = 0
            return None
        self.in_a_row += 1
        if self.in_a_row > self._max_error_messages:
            return AfterFailure(self._goodbye, outcome.error, ends_call=True)
        return AfterFailure(self._error_message, outcome.error, ends_call=False)
