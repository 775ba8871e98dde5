"""The assistant's side of a call: one reply at a time, spoken and accounted for.

A reply is a stream of sentences (the LLM's, or fixed text). While the LLM keeps
streaming into a bounded queue, each sentence goes to the voice, its audio to the
transport, and a mark after it; ``Playback`` follows the far end's play cursor, so
that what the caller actually heard is known when the reply ends or is cut short
(a barge-in cancels the reply task, which is how speech stops within a frame). What
was heard is what the history keeps for the next turn.

A static greeting's audio is kept between calls in the runtime's ``SpeechCache``: the
second call of an assistant sends it as soon as the call starts, with no synthesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
from collections.abc import AsyncGenerator
from typing import Protocol

from callwright.audio.resample import Resampler
from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import (
    AssistantMessage,
    EndReason,
    EventSink,
    Interruption,
    TurnTiming,
)
from callwright.engine.faults import ReplyFailures, ReplyOutcome
from callwright.engine.lifecycle import Farewell, Spawn
from callwright.engine.playback import Playback
from callwright.engine.tts_fallback import FallbackTTS
from callwright.providers.protocols import ChatMessage
from callwright.transports.protocol import Transport

__all__ = ["AssistantListener", "Speaker", "SpeechCache", "spoken"]

logger = logging.getLogger(__name__)

_QUEUED_SENTENCES = 32


async def spoken(*texts: str) -> AsyncGenerator[str, None]:
    """Fixed text as a reply's sentences."""
    for text in texts:
        yield text


class SpeechCache(Protocol):
    """Synthesised audio kept between calls (in-process, bounded; the runtime's): the
    chunks sent to the transport for one text in one voice, under a key that names the
    assistant, the voice and its settings, the transport's rate and the text."""

    def get(self, key: str) -> tuple[bytes, ...] | None: ...

    def put(self, key: str, chunks: tuple[bytes, ...]) -> None: ...


class AssistantListener(Protocol):
    """What the speaker tells the rest of the session."""

    def assistant_active(self, now: float) -> None:
        """The assistant spoke, or the far end confirmed it heard: the call is not idle."""
        ...

    def end(
        self, reason: EndReason, detail: str | None = None, *, farewell: Farewell | None = None
    ) -> None:
        """End the call (the session's one way to)."""
        ...


class Speaker:
    """Speaks the assistant's replies, one at a time, and knows what was heard.

    ``start`` replaces the reply in progress (it is cancelled; the new one waits until
    it has wound down); ``interrupt`` is a barge-in; ``stop`` cancels the reply unless
    it is the task asking. Failed LLM replies are settled here (``engine.faults``):
    error_message is said, or the call ends after too many in a row.
    """

    def __init__(
        self,
        config: CallConfig,
        tts: FallbackTTS,
        transport: Transport,
        clock: Clock,
        emit: EventSink,
        history: list[ChatMessage],
        *,
        spawn: Spawn,
        listener: AssistantListener,
        cache: SpeechCache | None = None,
    ) -> None:
        self._config = config
        self._cache = cache
        self._tts = tts
        self._transport = transport
        self._clock = clock
        self._emit = emit
        self._history = history
        self._spawn = spawn
        self._listener = listener
        self._failures = ReplyFailures.of(config)
        self._reply: asyncio.Task[None] | None = None
        self._interruptible = True
        # The reply answers a caller's turn: withdrawn if they go on before hearing it.
        self._withdrawable = False
        self._playback: Playback | None = None
        # The reply's sentences so far (the LLM's, as they came), for a resumption.
        self._sentences: list[str] = []
        self._marks = itertools.count(1)
        # The first mark of each turn, until the far end echoes it: playback confirmed.
        self._awaiting_confirmation: dict[str, TurnTiming] = {}

    @property
    def current(self) -> asyncio.Task[None] | None:
        """The reply task in progress (or the last one)."""
        return self._reply

    @property
    def replying(self) -> bool:
        return self._reply is not None and not self._reply.done()

    @property
    def interruptible(self) -> bool:
        """Whether a reply is in progress that caller speech may cut short (a goodbye
        may not)."""
        return self._interruptible and self._reply is not None and not self._reply.done()

    # -- starting and stopping --------------------------------------------------------

    def start(
        self,
        sentences: AsyncGenerator[str, None],
        timing: TurnTiming,
        *,
        interruptible: bool = True,
        outcome: ReplyOutcome | None = None,
        cached: bool = False,
        withdrawable: bool = False,
    ) -> None:
        """Speak ``sentences`` now, cutting off the reply in progress. With
        ``outcome``, a reply that no LLM could give is settled when it has ended; with
        ``cached``, its audio is taken from (or kept in) the speech cache; a
        ``withdrawable`` one (an answer to the caller) is ``withdraw``-n if the caller
        speaks before hearing any of it."""
        previous = self._reply
        if previous is not None and not previous.done():
            previous.cancel()
        self._interruptible = interruptible
        self._withdrawable = withdrawable
        playback = self._playback = Playback()
        written: list[str] = []
        self._sentences = written
        speaking = self._speak(
            sentences, timing, previous, playback, written, outcome=outcome, cached=cached
        )
        self._reply = self._spawn(speaking)

    def say(self, text: str) -> None:
        self.start(spoken(text), TurnTiming(0))

    def greet(self, text: str, *, static: bool) -> None:
        """The first message. A ``static`` one (the same on every call, not rendered
        from the call's variables) is synthesised once and then sent from the cache."""
        self.start(spoken(text), TurnTiming(0), cached=static and self._cache is not None)

    def say_last(self, text: str) -> None:
        """The call's last words: not interruptible."""
        self.start(spoken(text), TurnTiming(0), interruptible=False)

    def stop(self) -> None:
        """Cancel the reply in progress, unless it is the task asking (a reply that
        ends the call ends on its own)."""
        reply = self._reply
        if reply is not None and not reply.done() and reply is not asyncio.current_task():
            reply.cancel()

    def withdraw(self, now: float, speech_started_at: float) -> bool:
        """The caller started speaking at ``speech_started_at``: if the reply in
        progress answers them and none of its audio had reached them by then, it is
        withdrawn at once (nothing was heard, so no interruption threshold applies) and
        leaves no message. True if it was."""
        reply, playback = self._reply, self._playback
        if (
            reply is None
            or reply.done()
            or not self._interruptible
            or not self._withdrawable
            or playback is None
            or playback.playing_by(speech_started_at)
        ):
            return False
        playback.withdraw(now)
        self._interruptible = False
        reply.cancel()
        if playback.any_audio:  # sent, but not yet played: the far end must drop it
            self._spawn(self._transport.clear_audio())
        return True

    def interrupt(self, now: float) -> tuple[str, ...]:
        """The caller barged in at ``now``: the reply stops, the far end's buffer is
        cleared, and only what was heard until now counts. Returns what was left
        unsaid: the rest of the sentence being played and the sentences after it (as
        far as the LLM had written them)."""
        assert self._reply is not None
        playback = self._playback
        heard = ""
        unsaid: tuple[str, ...] = ()
        if playback is not None:
            # What was heard is decided now: the marks a clear makes the far end echo
            # back (Twilio returns every pending one) must not count as played.
            playback.interrupt(now)
            heard = playback.heard_text(now)
            unsaid = (*playback.unheard(now), *self._sentences[playback.begun :])
        self._emit(Interruption(now, heard))
        self._interruptible = False
        self._reply.cancel()
        self._spawn(self._transport.clear_audio())
        return unsaid

    def resume(self, unsaid: tuple[str, ...]) -> None:
        """Say what a false interruption left unsaid (a new reply)."""
        self.start(spoken(*unsaid), TurnTiming(0))

    def on_mark(self, name: str) -> None:
        """The far end played up to the mark ``name``."""
        if self._playback is not None and self._playback.confirm(name):
            self._listener.assistant_active(self._clock.now())
        timing = self._awaiting_confirmation.pop(name, None)
        if timing is not None:
            timing.playback_confirmed_at = self._clock.now()

    # -- one reply --------------------------------------------------------------------

    async def _speak(
        self,
        sentences: AsyncGenerator[str, None],
        timing: TurnTiming,
        previous: asyncio.Task[None] | None,
        playback: Playback,
        written: list[str],
        *,
        outcome: ReplyOutcome | None = None,
        apology_for: str | None = None,
        cached: bool = False,
    ) -> None:
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        # The LLM keeps streaming into the queue while TTS speaks earlier sentences.
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=_QUEUED_SENTENCES)

        async def produce() -> None:
            # aclosing: a cancellation that lands in put() must still close the LLM stream.
            async with contextlib.aclosing(sentences):
                async for sentence in sentences:
                    written.append(sentence)
                    await queue.put(sentence)
            await queue.put(None)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                while (sentence := await queue.get()) is not None:
                    await self._speak_sentence(sentence, playback, timing, cached=cached)
                while (remaining := playback.remaining_s(self._clock.now())) > 0:
                    await self._clock.sleep(remaining)
        finally:
            self._record(playback, timing, apology_for)
        if outcome is not None:
            await self._settle(outcome)

    async def _settle(self, outcome: ReplyOutcome) -> None:
        """After a reply no LLM could give: error_message, and the caller's next turn
        tries again; or, after too many in a row, the goodbye and the end."""
        after = self._failures.settle(outcome)
        if after is None:
            return
        error = str(after.error)
        logger.warning("no LLM answered (%d in a row): %s", self._failures.in_a_row, error)
        if after.ends_call:
            self._listener.end(EndReason.LLM_FAILED, error, farewell=Farewell(after.message))
        elif after.message:
            apology = self._playback = Playback()
            self._withdrawable = False
            self._sentences = []
            await self._speak(
                spoken(after.message), TurnTiming(0), None, apology, [], apology_for=error
            )

    async def _speak_sentence(
        self, sentence: str, playback: Playback, timing: TurnTiming, *, cached: bool = False
    ) -> None:
        mark = f"m{next(self._marks)}"
        playback.begin(sentence, mark)
        key = self._cache_key(sentence) if cached else None
        chunks = self._cache.get(key) if self._cache is not None and key is not None else None
        if chunks is not None:
            for chunk in chunks:
                await self._send(chunk, playback, timing)
        else:
            sent = await self._synthesize(sentence, playback, timing, keep=key is not None)
            if sent is not None and self._cache is not None and key is not None:
                self._cache.put(key, sent)
        playback.complete()
        await self._transport.mark(mark)
        timing.marks.append(mark)
        if len(timing.marks) == 1:
            self._awaiting_confirmation[mark] = timing

    async def _synthesize(
        self, sentence: str, playback: Playback, timing: TurnTiming, *, keep: bool
    ) -> tuple[bytes, ...] | None:
        """Synthesise ``sentence`` and send its audio; with ``keep``, return the chunks
        sent (None if another voice took over midway: they are not one voice's)."""
        tts, rate = self._tts, self._transport.sample_rate
        voice = tts.name
        to_transport = Resampler(tts.sample_rate, rate)
        sent: list[bytes] = []
        timing.tts_request_at = timing.tts_request_at or self._clock.now()
        # aclosing: a barge-in landing in _send must stop the synthesiser at once.
        async with contextlib.aclosing(tts.synthesize(sentence, self._config.tts)) as audio_stream:
            async for audio in audio_stream:
                if timing.tts_first_audio_at is None:
                    timing.tts_first_audio_at = self._clock.now()
                    timing.tts_provider = tts.name
                chunk = to_transport.process(audio)
                await self._send(chunk, playback, timing)
                if keep and chunk:
                    sent.append(chunk)
        rest = to_transport.process(b"", last=True)
        await self._send(rest, playback, timing)
        if not keep or tts.name != voice:
            return None
        return (*sent, rest) if rest else tuple(sent)

    def _cache_key(self, text: str) -> str:
        """The speech cache's key: any change to the voice or the text is a new key."""
        options = dataclasses.asdict(self._config.tts)
        return json.dumps(
            [
                self._config.assistant_id,
                self._tts.name,
                self._transport.sample_rate,
                options,
                text,
            ],
            sort_keys=True,
            default=str,
        )

    async def _send(self, pcm16: bytes, playback: Playback, timing: TurnTiming) -> None:
        if not pcm16:
            return
        now = self._clock.now()
        await self._transport.send_audio(pcm16)
        timing.first_frame_out_at = timing.first_frame_out_at or now
        playback.sent(now, len(pcm16) / 2 / self._transport.sample_rate)

    def _record(self, playback: Playback, timing: TurnTiming, apology_for: str | None) -> None:
        """The reply has ended (or was cut short): what was heard joins the history;
        an end-call phrase heard in full ends the call."""
        now = self._clock.now()
        intended = playback.intended_text()
        heard = playback.heard_text(now)
        interrupted = heard != intended
        self._listener.assistant_active(now)
        if intended and not playback.withdrawn:
            self._emit(AssistantMessage(heard, intended, interrupted, now, apology_for))
            if heard:
                self._history.append(ChatMessage("assistant", heard))
        self._emit(timing)
        phrase = next((p for p in self._config.end_call_phrases if p in heard.lower()), None)
        if phrase and not interrupted:
            self._listener.end(EndReason.ASSISTANT_SAID_END_CALL_PHRASE, phrase)
