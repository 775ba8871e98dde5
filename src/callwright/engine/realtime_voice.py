"""The assistant's side of a realtime call: the model's answers played to the caller
and accounted for (decision 018).

One answer at a time: ``start`` asks the model for one (``Respond``), its audio goes to
the transport as it arrives with a mark after each chunk, and ``playback.Playback``
follows the far end's play cursor. The answer's words (the model's transcript of its
own speech) are laid on the audio chunk they came with, so that a cut-short answer
keeps the words the caller heard. Cutting an answer short (a barge-in, or new words
replacing it) cancels the response, clears the far end's buffer and truncates the
model's item to the milliseconds the caller heard, so its memory matches the call's.

The answer in progress is a task that ends when the model is done and the far end
has played it: what ``Lifecycle`` waits for before a call closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from callwright.audio.codec import mulaw_decode
from callwright.audio.resample import Resampler
from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.deadlines import cancel_and_wait
from callwright.engine.events import (
    AssistantMessage,
    EndReason,
    EventSink,
    Interruption,
    TurnTiming,
)
from callwright.engine.lifecycle import Spawn
from callwright.engine.playback import Playback
from callwright.engine.speaking import AssistantListener
from callwright.providers.realtime.protocol import (
    CancelResponse,
    RealtimeAudio,
    RealtimeConnection,
    Respond,
    Truncate,
    sample_rate_of,
)
from callwright.transports.protocol import Transport

__all__ = ["RealtimeVoice", "say_exactly"]

logger = logging.getLogger(__name__)

# The longest wait for a cancelled response's end before the next is asked for.
_SETTLE_S = 2.0


def say_exactly(text: str) -> str:
    """The instructions that have the model say fixed text in the call's voice."""
    return f'Say exactly the following, word for word, and nothing else: "{text}"'


@dataclass(eq=False)
class _Answer:
    """One response of the model's, as the caller hears it."""

    timing: TurnTiming
    interruptible: bool
    resampler: Resampler | None
    playback: Playback = field(default_factory=Playback)
    item_id: str | None = None
    pending_words: str = ""  # transcript not yet laid on a chunk
    intended: str = ""
    sent_s: float = 0.0  # audio of ``item_id`` sent
    starts_at: float | None = None  # when the far end starts playing it
    cut_at: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)  # the model is done
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @property
    def playing(self) -> bool:
        return self.cut_at is None and (self.task is None or not self.task.done())

    def heard_ms(self, now: float) -> int:
        if self.starts_at is None:
            return 0
        return int(1000 * min(self.sent_s, max(0.0, now - self.starts_at)))


class RealtimeVoice:
    """Plays the model's answers, one at a time, and knows what was heard of each."""

    def __init__(
        self,
        config: CallConfig,
        audio: RealtimeAudio,
        transport: Transport,
        clock: Clock,
        emit: EventSink,
        *,
        spawn: Spawn,
        listener: AssistantListener,
        label: str,
    ) -> None:
        self._config = config
        self._audio = audio
        self._transport = transport
        self._clock = clock
        self._emit = emit
        self._spawn = spawn
        self._listener = listener
        self._label = label
        self._connection: RealtimeConnection | None = None
        self._answer: _Answer | None = None
        self._outstanding = 0  # responses asked for whose response.done has not come
        self._settled = asyncio.Event()  # set while none is outstanding
        self._settled.set()
        self._marks = itertools.count(1)
        self._awaiting_confirmation: dict[str, TurnTiming] = {}
        self._unwanted: set[str] = set()  # answers the model began that nobody hears
        self.on_answered: Callable[[], None] | None = None  # a response ended (tools)

    def attach(self, connection: RealtimeConnection) -> None:
        self._connection = connection

    # -- what Lifecycle asks of the speaking side (lifecycle.Replies) ------------------

    @property
    def current(self) -> asyncio.Task[None] | None:
        return self._answer.task if self._answer is not None else None

    @property
    def replying(self) -> bool:
        """Whether an answer is being generated or played."""
        return self._answer is not None and self._answer.playing

    @property
    def interruptible(self) -> bool:
        return self.replying and self._answer is not None and self._answer.interruptible

    @property
    def outstanding(self) -> int:
        return self._outstanding

    def say(self, text: str) -> None:
        self.start(TurnTiming(0), say_exactly(text))

    def say_last(self, text: str) -> None:
        self.start(TurnTiming(0), say_exactly(text), interruptible=False)

    def stop(self) -> None:
        if self.replying:
            self._spawn(self._cut(self._clock.now()))

    # -- answers ------------------------------------------------------------------------

    def start(
        self, timing: TurnTiming, instructions: str | None = None, *, interruptible: bool = True
    ) -> None:
        """Ask the model for an answer now, cutting off the one in progress."""
        if self._connection is None:
            return
        previous = self._answer
        resampler = None
        if self._audio == "pcm24":
            resampler = Resampler(sample_rate_of("pcm24"), self._transport.sample_rate)
        answer = self._answer = _Answer(timing, interruptible, resampler)
        self._outstanding += 1
        self._settled.clear()
        answer.task = self._spawn(self._run(answer, previous, instructions))

    async def _run(
        self, answer: _Answer, previous: _Answer | None, instructions: str | None
    ) -> None:
        assert self._connection is not None
        try:
            if previous is not None and previous.playing:
                await self._cut_answer(previous, self._clock.now())
            if answer.cut_at is not None:  # replaced before it was asked for
                self._outstanding = max(0, self._outstanding - 1)
                if not self._outstanding:
                    self._settled.set()
                return
            answer.timing.llm_request_at = self._clock.now()
            answer.timing.llm_provider = self._label
            await self._connection.send(Respond(instructions))
            await answer.done.wait()
            if answer.resampler is not None and answer.cut_at is None and answer.item_id:
                # The resampler's last few milliseconds, held back for its filter.
                tail = answer.resampler.process(b"", last=True)
                if tail:
                    await self._transport.send_audio(tail)
                    answer.playback.sent(
                        self._clock.now(), len(tail) / 2 / self._transport.sample_rate
                    )
            while (
                answer.cut_at is None
                and (left := answer.playback.remaining_s(self._clock.now())) > 0
            ):
                # Played out, unless cut short first.
                played = asyncio.ensure_future(self._clock.sleep(left))
                cut = asyncio.ensure_future(answer.cut.wait())
                try:
                    await asyncio.wait({played, cut}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    await cancel_and_wait(played, cut)
        finally:
            self._record(answer)

    def interrupt(self, now: float) -> None:
        """The caller barged in at ``now``."""
        answer = self._barged_in(now)
        if answer is not None:
            self._spawn(self._cut_answer(answer, now))

    async def interrupt_and_settle(self, now: float) -> None:
        """The caller barged in at ``now`` with a turn that needs speech next: the
        answer is cut (cancelled, truncated) and its response has ended (a vendor takes
        no new response before the cancelled one is done) when this returns."""
        answer = self._barged_in(now)
        if answer is not None:
            await self._cut_answer(answer, now)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SETTLE_S):
                await self._settled.wait()

    def _barged_in(self, now: float) -> _Answer | None:
        answer = self._answer
        if answer is None or not answer.playing:
            return None
        answer.playback.interrupt(now)
        self._emit(Interruption(now, _words(answer.playback.heard_text(now))))
        return answer

    async def _cut(self, now: float) -> None:
        if self._answer is not None:
            await self._cut_answer(self._answer, now)

    async def _cut_answer(self, answer: _Answer, now: float) -> None:
        if not answer.playing:
            return
        answer.cut_at = now
        answer.cut.set()
        answer.playback.interrupt(now)
        generating = not answer.done.is_set()
        answer.done.set()
        assert self._connection is not None
        if generating:
            await self._connection.send(CancelResponse())
        heard_ms = answer.heard_ms(now)
        if answer.item_id is not None and heard_ms < int(1000 * answer.sent_s):
            # The model forgets what the caller never heard.
            await self._connection.send(Truncate(answer.item_id, heard_ms))
        await self._transport.clear_audio()

    # -- the model's events for the answer in progress ---------------------------------

    def _live(self) -> _Answer | None:
        """The answer audio belongs to: the newest, once every older response ended."""
        answer = self._answer
        if answer is None or answer.cut_at is not None or self._outstanding != 1:
            return None
        return answer

    def unwanted(self, item_id: str | None) -> None:
        """The model began the answer ``item_id`` by itself and the session does not
        want it: its audio, words and end are ignored (None: nothing began)."""
        if item_id is not None:
            self._unwanted.add(item_id)

    def words(self, item_id: str, text: str) -> None:
        answer = self._live()
        if answer is None or item_id in self._unwanted:
            return
        answer.timing.llm_first_token_at = answer.timing.llm_first_token_at or self._clock.now()
        answer.item_id = answer.item_id or item_id
        answer.pending_words += text
        answer.intended += text

    async def audio(self, item_id: str, audio: bytes) -> None:
        answer = self._live()
        if answer is None or not audio or item_id in self._unwanted:
            return
        now = self._clock.now()
        timing = answer.timing
        timing.llm_first_token_at = timing.llm_first_token_at or now
        timing.tts_first_audio_at = timing.tts_first_audio_at or now
        timing.tts_provider = self._label
        if answer.item_id != item_id:
            answer.item_id, answer.sent_s, answer.starts_at = item_id, 0.0, None
        if answer.resampler is not None:
            pcm16 = answer.resampler.process(audio)
        else:
            pcm16 = mulaw_decode(audio)
        mark = f"r{next(self._marks)}"
        words, answer.pending_words = answer.pending_words.strip(), ""
        answer.playback.begin(words, mark)
        if answer.starts_at is None:
            answer.starts_at = now + answer.playback.remaining_s(now)
        await self._transport.send_audio(pcm16)
        timing.first_frame_out_at = timing.first_frame_out_at or now
        seconds = len(pcm16) / 2 / self._transport.sample_rate
        answer.playback.sent(now, seconds)
        answer.sent_s += (
            len(audio) / (1 if self._audio == "pcmu" else 2) / sample_rate_of(self._audio)
        )
        answer.playback.complete()
        await self._transport.mark(mark)
        timing.marks.append(mark)
        if len(timing.marks) == 1:
            self._awaiting_confirmation[mark] = timing

    def response_done(
        self, input_tokens: int, output_tokens: int, item_id: str | None = None
    ) -> None:
        if item_id is not None and item_id in self._unwanted:
            self._unwanted.discard(item_id)  # never asked for, never counted
            return
        self._outstanding = max(0, self._outstanding - 1)
        if not self._outstanding:
            self._settled.set()
        answer = self._answer
        if answer is None or self._outstanding:
            return  # an older, cancelled response
        answer.timing.prompt_tokens += input_tokens
        answer.timing.completion_tokens += output_tokens
        answer.done.set()
        if self.on_answered is not None:
            self.on_answered()

    def on_mark(self, name: str) -> None:
        answer = self._answer
        if answer is not None and answer.playback.confirm(name):
            self._listener.assistant_active(self._clock.now())
        timing = self._awaiting_confirmation.pop(name, None)
        if timing is not None:
            timing.playback_confirmed_at = self._clock.now()

    def _record(self, answer: _Answer) -> None:
        now = self._clock.now()
        intended = _words(answer.intended)
        cut = answer.cut_at is not None
        heard = _words(answer.playback.heard_text(answer.cut_at)) if answer.cut_at else intended
        self._listener.assistant_active(now)
        if intended:
            self._emit(AssistantMessage(heard, intended, cut and heard != intended, now))
        self._emit(answer.timing)
        phrase = next((p for p in self._config.end_call_phrases if p in heard.lower()), None)
        if phrase and not cut:
            self._listener.end(EndReason.ASSISTANT_SAID_END_CALL_PHRASE, phrase)


def _words(text: str) -> str:
    """Transcript deltas joined as one line of words."""
    return " ".join(text.split())
