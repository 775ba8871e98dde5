"""An LLM-played caller for test runs: a persona with a goal, one line a turn.

The model sees the conversation from the caller's side (the assistant's lines as the
other party's, its own as its own) and answers with its next line, or ``[HANG UP]``
once the goal is met or the call is going nowhere. After ``max_turns`` lines the
caller hangs up whatever the model says. A line is bounded (``MAX_LINE_TOKENS``, then
500 characters), so a rambling model cannot talk for minutes. The caller's LLMs are
tried in order, like the analysis's; when none answers, the caller hangs up and the
failure is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from callwright.providers.errors import ProviderError
from callwright.providers.protocols import LLM, ChatMessage, LLMRequest, TextDelta

__all__ = ["HANG_UP", "MAX_LINE_TOKENS", "LlmCaller"]

HANG_UP = "[HANG UP]"
_MAX_LINE_CHARS = 500
# A line is one or two short sentences: a model that rambles stops here rather than
# generating (and the caller's voice speaking) up to its context window.
MAX_LINE_TOKENS = 80
_SPEAKER = re.compile(r"^\s*(caller|user|me)\s*:\s*", re.IGNORECASE)

_INSTRUCTIONS = (
    "You are role-playing a person phoning a company's AI phone assistant, to test it.\n"
    "Who you are: {persona}\n"
    "What you want from this call: {goal}\n\n"
    "Say only your next line, as a person would say it on the phone: one or two short "
    "sentences, no stage directions, no quotes, no speaker label. When your goal is met, "
    f"or the call cannot go anywhere, answer exactly {HANG_UP}"
)


class LlmCaller:
    """``simulate``'s ``Improviser`` played by ``llms``. ``error`` holds why the caller
    hung up early when no model answered."""

    def __init__(self, llms: Sequence[LLM], *, persona: str, goal: str, max_turns: int) -> None:
        self._llms = llms
        self._system = _INSTRUCTIONS.format(persona=persona, goal=goal)
        self._max_turns = max_turns
        self.lines_said = 0
        self.error: str | None = None
        self._done = False

    def _messages(self, transcript: Sequence[Mapping[str, Any]]) -> tuple[ChatMessage, ...]:
        messages = [ChatMessage("system", self._system)]
        for line in transcript:
            text = line.get("text")
            if not text:
                continue
            # The assistant is the other party: the "user" of the caller's model.
            if line.get("role") == "assistant":
                messages.append(ChatMessage("user", str(text)))
            else:
                messages.append(ChatMessage("assistant", str(text)))
        if len(messages) == 1 or messages[-1].role == "assistant":
            messages.append(ChatMessage("user", "(The assistant is waiting for you.)"))
        return tuple(messages)

    async def next_line(self, transcript: Sequence[Mapping[str, Any]]) -> str | None:
        if self._done or self.lines_said >= self._max_turns:
            return None
        request = LLMRequest(
            messages=self._messages(transcript), temperature=0.7, max_tokens=MAX_LINE_TOKENS
        )
        failures = []
        for llm in self._llms:
            parts: list[str] = []
            try:
                async for event in llm.stream(request):
                    if isinstance(event, TextDelta):
                        parts.append(event.text)
            except ProviderError as exc:
                failures.append(str(exc))
                continue
            line = _SPEAKER.sub("", "".join(parts).strip()).strip().strip('"')
            marker = line.casefold().find(HANG_UP.casefold())
            if marker >= 0:
                # A goodbye and the marker: say the goodbye, then hang up.
                self._done = True
                line = line[:marker].strip()
            if not line:
                return None
            self.lines_said += 1
            return line[:_MAX_LINE_CHARS]
        self.error = "the caller's model did not answer: " + ("; ".join(failures) or "no model")
        return None
