"""One assistant reply from the LLM, as a stream of sentences for TTS.

``llm_reply`` builds the request from the conversation and llm_settings, has the
call's LLMs answer it (``llm_fallback.open_answer``: the primary, else each fallback),
chunks the text into sentences as tokens arrive, says a filler word if the first
sentence is late, and runs tool calls: built-in ones through ``ToolHooks``, custom
ones through the tool runner, feeding the results back to the model for another round.
When no LLM answers, or the one answering fails mid-reply, its ``ProviderError``
propagates out of the stream; the session turns it into a sentence (``engine.faults``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from callwright.clock import Clock
from callwright.engine.builtin_tools import (
    BUILTIN_TOOL_NAMES,
    END_CALL,
    SEARCH_KNOWLEDGE,
    SEND_DTMF,
    TRANSFER_CALL,
)
from callwright.engine.config import CallConfig
from callwright.engine.deadlines import cancel_and_wait
from callwright.engine.events import (
    EventSink,
    KnowledgeUsed,
    Passage,
    ToolAnswered,
    ToolCalled,
    TurnTiming,
)
from callwright.engine.llm_fallback import open_answer
from callwright.engine.sentences import SentenceChunker
from callwright.engine.tools import ToolExecutor
from callwright.providers.protocols import (
    LLM,
    ChatMessage,
    LLMEvent,
    LLMRequest,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "KNOWLEDGE_PREAMBLE",
    "OpenedAnswer",
    "ReplyStream",
    "Retriever",
    "ToolHooks",
    "ToolRunner",
    "build_request",
    "builtin_answer",
    "llm_reply",
    "runner_for",
]

logger = logging.getLogger(__name__)

ReplyStream = AsyncGenerator[str, None]
# The first round's LLM stream, opened before the turn was taken (pre-emptive
# generation, ``engine.preemption``): the events read up to the first answer and the
# rest of the stream.
OpenedAnswer = tuple[list[LLMEvent], AsyncGenerator[LLMEvent, None]]
# Runs custom tool calls; returns (tool_call_id, result text) pairs.
ToolRunner = Callable[[Sequence[ToolCall]], Awaitable[list[tuple[str, str]]]]
# Knowledge-base passages for a user turn's text (rag_settings; domain.knowledge).
Retriever = Callable[[str], Awaitable[Sequence[Passage]]]
KNOWLEDGE_PREAMBLE = (
    "Passages from the knowledge base that may help with the caller's last message. "
    "Use them if they are relevant; do not mention them otherwise.\n\n"
)
_MAX_TOOL_ROUNDS = 4


@dataclass
class ToolHooks:
    """What the built-in tools do to the call, and the custom tools on offer:
    ``send_dtmf`` plays keypad tones into the call, ``search_knowledge`` is the call's
    knowledge retriever."""

    specs: tuple[ToolSpec, ...] = ()
    end_call: Callable[[], None] | None = None
    transfer: Callable[[str], None] | None = None
    send_dtmf: Callable[[str], Awaitable[None]] | None = None
    search_knowledge: Retriever | None = None
    run_custom: ToolRunner | None = None
    emit: EventSink | None = None
    now: Callable[[], float] = field(default=lambda: 0.0)
    calls: list[ToolCall] = field(default_factory=list)


def build_request(
    config: CallConfig, history: Sequence[ChatMessage], tools: tuple[ToolSpec, ...]
) -> LLMRequest:
    """Every llm_settings value, on every turn."""
    llm = config.llm
    return LLMRequest(
        messages=tuple(history),
        model=llm.model,
        tools=tools,
        temperature=llm.temperature,
        max_tokens=llm.max_tokens,
        top_p=llm.top_p,
        frequency_penalty=llm.frequency_penalty,
        presence_penalty=llm.presence_penalty,
        stop=llm.stop,
        extra=llm.extra,
    )


async def _with_filler(
    sentences: AsyncIterator[str],
    fillers: tuple[str, ...],
    clock: Clock,
    after_s: float,
    counter: itertools.count[int],
) -> AsyncIterator[str]:
    """Say a filler word when the first sentence is later than ``after_s``."""
    first = asyncio.ensure_future(anext(sentences, None))
    try:
        if fillers:
            timer = asyncio.ensure_future(clock.sleep(after_s))
            try:
                done, _ = await asyncio.wait({first, timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait(timer)
            if first not in done:
                yield fillers[next(counter) % len(fillers)]
        sentence = await asyncio.shield(first)
    finally:
        await cancel_and_wait(first)
    if sentence is None:
        return
    yield sentence
    async for sentence in sentences:
        yield sentence


async def llm_reply(
    config: CallConfig,
    llms: Sequence[LLM],
    history: list[ChatMessage],
    clock: Clock,
    timing: TurnTiming,
    hooks: ToolHooks,
    *,
    first_token_timeout_s: float,
    filler_after_s: float,
    filler_counter: itertools.count[int],
    retrieve: Retriever | None = None,
    query: str | None = None,
    opened: Awaitable[OpenedAnswer] | None = None,
) -> AsyncGenerator[str, None]:
    """The reply's sentences; with ``opened``, the first round is that stream (asked
    for before the turn was taken, with the same request) instead of a new request."""
    sentences = _rounds(
        config, llms, history, clock, timing, hooks, first_token_timeout_s, retrieve, query, opened
    )
    async with contextlib.aclosing(sentences):
        async for sentence in _with_filler(
            sentences, config.filler_words, clock, filler_after_s, filler_counter
        ):
            yield sentence


async def _rounds(
    config: CallConfig,
    llms: Sequence[LLM],
    history: list[ChatMessage],
    clock: Clock,
    timing: TurnTiming,
    hooks: ToolHooks,
    first_token_timeout_s: float,
    retrieve: Retriever | None = None,
    query: str | None = None,
    opened: Awaitable[OpenedAnswer] | None = None,
) -> AsyncGenerator[str, None]:
    # Passages for the caller's turn (``query``) go just before its message, for this
    # turn only (tool rounds included); the history keeps the conversation itself.
    knowledge: ChatMessage | None = None
    anchor = next(
        (i for i in range(len(history) - 1, -1, -1) if history[i].role == "user"), len(history)
    )
    if retrieve is not None and query:
        knowledge = await _retrieve(retrieve, query, clock, hooks)
    for _ in range(_MAX_TOOL_ROUNDS):
        messages = history
        if knowledge is not None:
            messages = [*history[:anchor], knowledge, *history[anchor:]]
        if opened is not None:
            head, events = await opened
            opened = None
        else:
            request = build_request(config, messages, hooks.specs)
            timing.llm_request_at = timing.llm_request_at or clock.now()
            head, events = await open_answer(llms, request, clock, first_token_timeout_s, timing)
        # Eager: the first sentence goes to the TTS at its final token, not one later.
        chunker = SentenceChunker(eager=True)
        calls: list[ToolCall] = []

        async with contextlib.aclosing(events):
            pending = collections.deque(head)
            while True:
                event = pending.popleft() if pending else await anext(events, None)
                if event is None:
                    break
                if isinstance(event, TextDelta):
                    for sentence in chunker.push(event.text):
                        timing.first_sentence_at = timing.first_sentence_at or clock.now()
                        yield sentence
                elif isinstance(event, ToolCall):
                    calls.append(event)
                elif isinstance(event, Usage):
                    timing.prompt_tokens += event.prompt_tokens
                    timing.completion_tokens += event.completion_tokens
        rest = chunker.flush()
        if rest:
            timing.first_sentence_at = timing.first_sentence_at or clock.now()
            yield rest
        if not calls or not await _run_tools(calls, history, hooks):
            return


async def _retrieve(
    retrieve: Retriever, query: str, clock: Clock, hooks: ToolHooks
) -> ChatMessage | None:
    """The turn's passages as one system message (None without any); reported as a
    ``KnowledgeUsed`` event. A failing retriever costs the turn its passages, not more."""
    started = clock.now()
    try:
        passages = tuple(await retrieve(query))
    except Exception:
        logger.warning("knowledge retrieval failed; answering without passages", exc_info=True)
        passages = ()
    if hooks.emit is not None:
        hooks.emit(KnowledgeUsed(query, passages, clock.now(), clock.now() - started))
    if not passages:
        return None
    return ChatMessage("system", KNOWLEDGE_PREAMBLE + "\n\n".join(p.text for p in passages))


async def _run_tools(calls: list[ToolCall], history: list[ChatMessage], hooks: ToolHooks) -> bool:
    """Run the model's tool calls; True when the model should be asked again."""
    hooks.calls.extend(calls)
    if hooks.emit is not None:
        for call in calls:
            hooks.emit(ToolCalled(call.id, call.name, call.arguments, hooks.now()))
    offered = {spec.name for spec in hooks.specs}
    for call in calls:
        if call.name == END_CALL and END_CALL in offered and hooks.end_call is not None:
            hooks.end_call()
            return False
        if call.name == TRANSFER_CALL and TRANSFER_CALL in offered and hooks.transfer:
            hooks.transfer(_argument(call, "destination"))
            return False
    # Answered here: the built-ins that act and report back, and those not on offer.
    answers = [(call, await builtin_answer(call, hooks, offered)) for call in calls]
    inline = [(call, answer) for call, answer in answers if answer is not None]
    custom = [call for call, answer in answers if answer is None]
    if hooks.run_custom is None:
        custom = []  # no custom tools on this call: nothing to run them with
    if not inline and not custom:
        return False
    history.append(
        ChatMessage("assistant", None, tool_calls=tuple(call for call, _ in inline) + tuple(custom))
    )
    results = [(call.id, answer) for call, answer in inline]
    if custom and hooks.run_custom is not None:
        results += await hooks.run_custom(custom)
    for call_id, result in results:
        history.append(ChatMessage("tool", result, tool_call_id=call_id))
        if hooks.emit is not None:
            hooks.emit(ToolAnswered(call_id, result, hooks.now()))
    return True


async def builtin_answer(call: ToolCall, hooks: ToolHooks, offered: set[str]) -> str | None:
    """The result of a built-in tool call that reports back to the model (None for a
    custom tool's call). A built-in the call does not offer is refused, never run."""
    if call.name not in BUILTIN_TOOL_NAMES:
        return None
    if call.name not in offered:
        return f"the tool {call.name!r} is not enabled on this call"
    if call.name == SEND_DTMF and hooks.send_dtmf is not None:
        digits = _argument(call, "digits")
        try:
            await hooks.send_dtmf(digits)
        except ValueError as exc:
            return f"no keys pressed: {exc}"
        return f"pressed {digits}"
    if call.name == SEARCH_KNOWLEDGE and hooks.search_knowledge is not None:
        query = _argument(call, "query")
        started = hooks.now()
        try:
            passages = tuple(await hooks.search_knowledge(query))
        except Exception:
            logger.warning("knowledge search failed", exc_info=True)
            return "the knowledge base could not be searched"
        if hooks.emit is not None:
            hooks.emit(KnowledgeUsed(query, passages, hooks.now(), hooks.now() - started))
        if not passages:
            return "nothing in the knowledge base matches"
        return "\n\n".join(passage.text for passage in passages)
    return f"the tool {call.name!r} cannot act on this call"


def _argument(call: ToolCall, name: str) -> str:
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        return ""
    value = arguments.get(name, "") if isinstance(arguments, dict) else ""
    return str(value)


def runner_for(executor: ToolExecutor) -> ToolRunner:
    """Custom tool calls run as signed webhooks by ``executor``."""

    async def run(calls: Sequence[ToolCall]) -> list[tuple[str, str]]:
        return [(result.tool_call_id, result.result) for result in await executor.execute(calls)]

    return run
