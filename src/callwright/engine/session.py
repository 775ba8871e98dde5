"""One conversation: caller audio in, assistant speech out, every setting acting.

``CallSession.run`` owns one TaskGroup for the whole call:

- ``_receive``: transport events; caller audio → 16 kHz → VAD frames (turn-taking,
  barge-in) and the STT stream (through the noise suppressor with
  ``audio_denoising``); marks, DTMF, answering machine, hang-up;
- ``_transcripts``: interim words (barge-in by word count) and finals (the turn);
- ``_watch_duration`` / ``_watch_idle``: max_duration_seconds and idle reprompts;
- one reply task at a time (``_reply``): LLM → sentences → TTS → transport, with
  marks per sentence; barge-in cancels it, which is how speech stops within a frame.

Provider faults do not end the call: the LLMs, voices and transcribers are each used
as one provider that happens to be several (``llm_fallback``, ``tts_fallback``,
``stt_fallback``), and a reply no LLM could give becomes error_message (``faults``).

Nothing here blocks: provider calls are async, audio work is per-frame numpy.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from callwright.audio.denoise import NoiseSuppressor
from callwright.audio.framing import FrameSplitter
from callwright.audio.resample import Resampler
from callwright.clock import Clock
from callwright.engine.config import CallConfig
from callwright.engine.events import (
    AssistantMessage,
    CallEnded,
    EndReason,
    EventSink,
    IdleReprompt,
    Interruption,
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    TranscriptPartial,
    TurnTiming,
    UserMessage,
)
from callwright.engine.failover import failover_events
from callwright.engine.faults import ReplyFailures, ReplyOutcome, guarded
from callwright.engine.playback import Playback
from callwright.engine.replies import (
    Retriever,
    ToolHooks,
    ToolRunner,
    builtin_tool_specs,
    llm_reply,
)
from callwright.engine.stt_fallback import FallbackSTT, FallbackSTTStream
from callwright.engine.tts_fallback import FallbackTTS
from callwright.engine.turns import BargeInPolicy, SpeechDetector
from callwright.providers.errors import ProviderError
from callwright.providers.protocols import (
    LLM,
    STT,
    TTS,
    VAD,
    ChatMessage,
    ToolSpec,
)
from callwright.transports.protocol import (
    AnsweringMachine,
    AudioReceived,
    CallerHungUp,
    DtmfReceived,
    PlaybackMarked,
    Transport,
)

__all__ = ["CallSession", "EndCallHook", "SessionProviders"]

logger = logging.getLogger(__name__)

EndCallHook = Callable[[EndReason], Awaitable[None]]
_DTMF_QUIET_S = 1.5


@dataclass(frozen=True, slots=True)
class SessionProviders:
    """The providers one call uses; ``llms`` is the primary then the fallbacks, and the
    transcriber and the voice have theirs (the offline ones, behind a cloud vendor)."""

    llms: Sequence[LLM]
    stt: STT
    tts: TTS
    vad: VAD
    stt_fallbacks: Sequence[STT] = ()
    tts_fallbacks: Sequence[TTS] = ()


class _CallOver(Exception):
    """Raised inside the TaskGroup to cancel every task once the call has ended."""


class CallSession:
    def __init__(
        self,
        config: CallConfig,
        providers: SessionProviders,
        transport: Transport,
        clock: Clock,
        sink: EventSink,
        *,
        first_token_timeout_s: float = 3.0,
        first_audio_timeout_s: float = 5.0,
        filler_after_s: float = 1.2,
        on_end: EndCallHook | None = None,
        custom_tools: tuple[ToolSpec, ...] = (),
        run_custom_tools: ToolRunner | None = None,
        previous_conversation: Sequence[ChatMessage] = (),
        retrieve: Retriever | None = None,
    ) -> None:
        self.config = config
        self._retrieve = retrieve  # rag_settings: passages for each user turn
        self._providers = providers
        self._transport = transport
        self._clock = clock
        self._emit = sink
        self._first_token_timeout_s = first_token_timeout_s
        self._filler_after_s = filler_after_s
        self._on_end = on_end
        self._tool_specs = builtin_tool_specs(config) + custom_tools
        self._run_custom_tools = run_custom_tools
        self._fillers = itertools.count()

        self.history: list[ChatMessage] = []
        if config.llm.system_prompt:
            self.history.append(ChatMessage("system", config.llm.system_prompt))
        if config.maintain_context:
            # The same caller's earlier call(s), as the runtime found them.
            self.history.extend(m for m in previous_conversation if m.role != "system")
        self.end_reason: EndReason | None = None
        self._end_detail: str | None = None
        self._ended = asyncio.Event()
        self._group: asyncio.TaskGroup | None = None
        # Each kind as one provider that happens to be several (the offline ones last).
        failed_over = failover_events(sink, clock)
        voices = (providers.tts, *providers.tts_fallbacks)
        self._tts = FallbackTTS(voices, clock, first_audio_timeout_s, failed_over)
        self._stt = FallbackSTT((providers.stt, *providers.stt_fallbacks), failed_over)
        self._failures = ReplyFailures.of(config)
        self._stt_stream: FallbackSTTStream | None = None
        self._discard_utterance: Callable[[], None] | None = None

        vad = providers.vad
        self._vad_frame_s = vad.frame_samples / vad.sample_rate
        self._to_vad = Resampler(transport.sample_rate, vad.sample_rate)
        self._vad_frames = FrameSplitter(vad.frame_samples * 2)
        self._to_stt = Resampler(vad.sample_rate, self._stt.sample_rate)
        # stt_settings.audio_denoising: only the transcriber hears the cleaned audio.
        # The VAD keeps the raw audio: turn-taking and barge-in must not wait the
        # suppressor's 16 ms, nor lose a quiet first syllable to a noise estimate that
        # has not yet seen a pause (Silero is trained on noisy speech anyway).
        self._denoise = NoiseSuppressor(vad.sample_rate) if config.audio_denoising else None
        self._detector = SpeechDetector(turnoff_s=config.endpointing.vad_turnoff_s)
        self._barge_in = BargeInPolicy(config.interruption)

        # The caller's turn in progress.
        self._turn_text: list[str] = []
        self._interim = ""
        self._interim_words = 0
        self._finalise_requested = False
        self._finalise_requested_at = 0.0
        self._pending_stt_final_at: float | None = None
        self._speech_since_commit = False

        # The assistant's turn in progress.
        self._reply: asyncio.Task[None] | None = None
        self._reply_interruptible = True
        self._playback: Playback | None = None
        self._turns = itertools.count(1)
        self._marks = itertools.count(1)
        self._last_activity = clock.now()
        self._idle_count = 0
        self._dtmf: list[str] = []
        self._dtmf_task: asyncio.Task[None] | None = None
        self._closing = False
        self._awaiting_confirmation: dict[str, TurnTiming] = {}

    # -- lifecycle --------------------------------------------------------------------

    async def run(self) -> EndReason:
        """Hold the conversation until it ends; returns why it ended. Whatever fails,
        the call ends with a reason, a hang-up and a ``CallEnded`` event."""
        try:
            await self._converse()
        except* ProviderError as errors:
            error = _first_leaf(errors)
            logger.error("call failed in a provider: %s", error)
            self._set_ended(EndReason.PIPELINE_ERROR, str(error))
        except* Exception as errors:
            # A bug must still end the call with a reason, never leave it hanging.
            error = _first_leaf(errors)
            logger.exception("call failed", exc_info=error)
            self._set_ended(EndReason.PIPELINE_ERROR, f"{type(error).__name__}: {error}")
        reason = self.end_reason or EndReason.PIPELINE_ERROR
        if reason not in (EndReason.CUSTOMER_ENDED_CALL, EndReason.TRANSPORT_DROPPED):
            try:
                await self._transport.hang_up(reason.value)
            except Exception:  # the line may already be gone; the call is over anyway
                logger.warning("hang-up failed", exc_info=True)
        self._emit(CallEnded(reason, self._clock.now(), self._end_detail))
        if self._on_end is not None:
            try:
                await self._on_end(reason)
            except Exception:
                logger.warning("the end-of-call hook failed", exc_info=True)
        return reason

    async def _converse(self) -> None:
        self._stt_stream = await self._stt.open_stream(self.config.stt)
        # A transcriber that re-reads its whole utterance (whisper) is told, per silent
        # frame, to forget the silence between turns; streaming vendors have no such
        # method. Looked up once, not per frame.
        self._discard_utterance = getattr(self._stt_stream, "discard_utterance", None)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self._receive())
                group.create_task(self._transcripts())
                group.create_task(self._watch_idle())
                if self.config.max_duration_s:
                    group.create_task(self._watch_duration(self.config.max_duration_s))
                self._open()
                await self._ended.wait()
                raise _CallOver
        except* _CallOver:
            self._group = None  # the call is over: nothing may be spawned any more
        finally:
            await self._stt_stream.aclose()

    def _set_ended(self, reason: EndReason, detail: str | None = None) -> None:
        if self.end_reason is None:
            self.end_reason = reason
            self._end_detail = detail
        self._ended.set()

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        assert self._group is not None
        return self._group.create_task(work)  # type: ignore[arg-type]

    # -- the opening ------------------------------------------------------------------

    def _open(self) -> None:
        mode = self.config.first_message_mode
        if mode == "assistant-speaks-first" and self.config.first_message:
            self._start_reply(self._say([self.config.first_message]), TurnTiming(0))
        elif mode == "assistant-speaks-first-with-model-generated-message":
            self._start_answer(TurnTiming(0))

    # -- caller audio -----------------------------------------------------------------

    async def _receive(self) -> None:
        async for event in self._transport.events():
            if isinstance(event, AudioReceived):
                await self._on_audio(event.pcm16)
            elif isinstance(event, PlaybackMarked):
                self._on_mark(event.name)
            elif isinstance(event, DtmfReceived):
                self._on_dtmf(event.digit)
            elif isinstance(event, AnsweringMachine):
                self._on_answering_machine(event)
            elif isinstance(event, CallerHungUp):
                self._set_ended(EndReason.CUSTOMER_ENDED_CALL, event.reason)
                return
        self._set_ended(EndReason.TRANSPORT_DROPPED, "the connection closed")

    async def _on_audio(self, pcm16: bytes) -> None:
        assert self._stt_stream is not None
        at_vad_rate = self._to_vad.process(pcm16)
        for_stt = at_vad_rate if self._denoise is None else self._denoise.process(at_vad_rate)
        await self._stt_stream.push_audio(self._to_stt.process(for_stt))
        for frame in self._vad_frames.push(at_vad_rate):
            self._on_vad_frame(await self._providers.vad.probability(frame))

    def _on_vad_frame(self, probability: float) -> None:
        now = self._clock.now()
        change = self._detector.update(probability, now, self._vad_frame_s)
        if change == "started":
            self._emit(SpeechStarted(now))
            self._speech_since_commit = True
            self._finalise_requested = False
            self._touch(now)
        elif change == "stopped":
            self._emit(SpeechStopped(now))
        if self._detector.speaking:
            self._touch(now)
            self._consider_barge_in(
                now, speaking_s=self._speech_duration(now), words=self._interim_words
            )
            return
        if not self._speech_since_commit:
            self._discard_silence()
        self._consider_end_of_turn(now)

    def _discard_silence(self) -> None:
        if self._discard_utterance is not None:
            self._discard_utterance()

    def _consider_end_of_turn(self, now: float) -> None:
        if not self._speech_since_commit:
            return
        endpointing = self.config.endpointing
        silence = self._detector.silence_s(now)
        if silence >= endpointing.min_silence_s and not self._finalise_requested:
            self._finalise_requested = True
            self._finalise_requested_at = now
            assert self._stt_stream is not None
            self._spawn(self._stt_stream.end_utterance())
        if silence < endpointing.silence_threshold_s:
            return
        final_overdue = (
            self._finalise_requested
            and now - self._finalise_requested_at >= endpointing.utterance_end_s
        )
        if self._turn_text or (final_overdue and self._interim):
            self._commit_turn(now)

    # -- transcripts ------------------------------------------------------------------

    async def _transcripts(self) -> None:
        assert self._stt_stream is not None
        async for transcript in self._stt_stream.transcripts():
            now = self._clock.now()
            if not transcript.text.strip():
                continue
            if not transcript.is_final:
                self._interim = transcript.text
                self._interim_words = len(transcript.text.split())
                self._emit(TranscriptPartial(transcript.text, now))
                if self._detector.speaking:
                    self._consider_barge_in(
                        now,
                        speaking_s=self._speech_duration(now),
                        words=len(transcript.text.split()),
                    )
                continue
            self._emit(TranscriptFinal(transcript.text, now))
            if self._reply is not None and not self._reply.done():
                # Caller speech that did not interrupt (a backchannel): not a turn.
                self._interim, self._interim_words = "", 0
                self._speech_since_commit = False
                continue
            self._turn_text.append(transcript.text.strip())
            self._interim, self._interim_words = "", 0
            self._pending_stt_final_at = now
            self._consider_end_of_turn(now)

    def _commit_turn(self, now: float) -> None:
        text = " ".join(self._turn_text) or self._interim
        self._turn_text, self._interim, self._interim_words = [], "", 0
        self._speech_since_commit = False
        self._finalise_requested = False
        timing = TurnTiming(
            next(self._turns),
            user_stopped_at=self._detector.last_speech_at,
            end_of_turn_at=now,
            stt_final_at=self._pending_stt_final_at,
            stt_provider=self._stt_stream.provider if self._stt_stream else None,
        )
        self._pending_stt_final_at = None
        self._take_user_turn(text, timing)

    def _take_user_turn(self, text: str, timing: TurnTiming) -> None:
        now = self._clock.now()
        self._emit(UserMessage(text, now))
        self.history.append(ChatMessage("user", text))
        self._idle_count = 0
        trigger = self.config.end_call_trigger_phrase
        if trigger and trigger in text.lower():
            self._finish(EndReason.CUSTOMER_SAID_END_CALL_PHRASE, self.config.end_call_message)
            return
        self._start_answer(timing, query=text)

    # -- barge-in ---------------------------------------------------------------------

    def _speech_duration(self, now: float) -> float:
        """Seconds of the current speech segment, not counting the silence hangover."""
        started = self._detector.speech_started_at
        if started is None:
            return 0.0
        return (self._detector.last_speech_at or now) - started

    def _consider_barge_in(self, now: float, *, speaking_s: float, words: int) -> None:
        reply = self._reply
        if reply is None or reply.done() or not self._reply_interruptible:
            return
        if not self._barge_in.should_interrupt(now=now, speaking_s=speaking_s, words=words):
            return
        self._barge_in.record(now)
        if self._playback is not None:
            # What was heard is decided now: the marks a clear makes the far end echo
            # back (Twilio returns every pending one) must not count as played.
            self._playback.interrupt(now)
        heard = self._playback.heard_text(now) if self._playback else ""
        self._emit(Interruption(now, heard))
        reply.cancel()
        self._spawn(self._transport.clear_audio())

    # -- speaking ---------------------------------------------------------------------

    def _start_answer(self, timing: TurnTiming, query: str | None = None) -> None:
        """The LLM's reply; a failure of every LLM is settled when it has ended."""
        outcome = ReplyOutcome()
        answer = guarded(self._answer(timing, query=query), outcome)
        self._start_reply(answer, timing, outcome=outcome)

    def _start_reply(
        self,
        sentences: AsyncGenerator[str, None],
        timing: TurnTiming,
        *,
        interruptible: bool = True,
        outcome: ReplyOutcome | None = None,
    ) -> None:
        previous = self._reply
        if previous is not None and not previous.done():
            previous.cancel()
        self._reply_interruptible = interruptible
        self._reply = self._spawn(self._speak(sentences, timing, previous, outcome=outcome))

    async def _speak(
        self,
        sentences: AsyncGenerator[str, None],
        timing: TurnTiming,
        previous: asyncio.Task[None] | None,
        *,
        outcome: ReplyOutcome | None = None,
        apology_for: str | None = None,
    ) -> None:
        if previous is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await previous
        playback = self._playback = Playback()
        # The LLM keeps streaming into the queue while TTS speaks earlier sentences.
        queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=32)

        async def produce() -> None:
            # aclosing: a cancellation that lands in put() must still close the LLM stream.
            async with contextlib.aclosing(sentences):
                async for sentence in sentences:
                    await queue.put(sentence)
            await queue.put(None)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                while (sentence := await queue.get()) is not None:
                    await self._speak_sentence(sentence, playback, timing)
                while (remaining := playback.remaining_s(self._clock.now())) > 0:
                    await self._clock.sleep(remaining)
        finally:
            self._record_reply(playback, timing, apology_for)
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
            self._finish(EndReason.LLM_FAILED, after.message, detail=error)
        elif after.message:
            await self._speak(self._say([after.message]), TurnTiming(0), None, apology_for=error)

    async def _speak_sentence(self, sentence: str, playback: Playback, timing: TurnTiming) -> None:
        tts, rate = self._tts, self._transport.sample_rate
        to_transport = Resampler(tts.sample_rate, rate)
        mark = f"m{next(self._marks)}"
        playback.begin(sentence, mark)
        timing.tts_request_at = timing.tts_request_at or self._clock.now()
        # aclosing: a barge-in landing in _send must stop the synthesiser at once.
        async with contextlib.aclosing(tts.synthesize(sentence, self.config.tts)) as audio_stream:
            async for audio in audio_stream:
                if timing.tts_first_audio_at is None:
                    timing.tts_first_audio_at = self._clock.now()
                    timing.tts_provider = tts.name
                await self._send(to_transport.process(audio), playback, timing)
        await self._send(to_transport.process(b"", last=True), playback, timing)
        playback.complete()
        await self._transport.mark(mark)
        timing.marks.append(mark)
        if len(timing.marks) == 1:
            self._awaiting_confirmation[mark] = timing

    async def _send(self, pcm16: bytes, playback: Playback, timing: TurnTiming) -> None:
        if not pcm16:
            return
        now = self._clock.now()
        await self._transport.send_audio(pcm16)
        timing.first_frame_out_at = timing.first_frame_out_at or now
        playback.sent(now, len(pcm16) / 2 / self._transport.sample_rate)

    def _record_reply(
        self, playback: Playback, timing: TurnTiming, apology_for: str | None = None
    ) -> None:
        now = self._clock.now()
        intended = playback.intended_text()
        heard = playback.heard_text(now)
        interrupted = heard != intended
        self._touch(now)
        if intended:
            self._emit(AssistantMessage(heard, intended, interrupted, now, apology_for))
            if heard:
                self.history.append(ChatMessage("assistant", heard))
        self._emit(timing)
        phrase = next((p for p in self.config.end_call_phrases if p in heard.lower()), None)
        if phrase and not interrupted and self.end_reason is None:
            self._set_ended(EndReason.ASSISTANT_SAID_END_CALL_PHRASE, phrase)

    def _on_mark(self, name: str) -> None:
        if self._playback is not None and self._playback.confirm(name):
            self._touch(self._clock.now())
        self._confirm_timing(name)

    def _confirm_timing(self, mark: str) -> None:
        timing = self._awaiting_confirmation.pop(mark, None)
        if timing is not None:
            timing.playback_confirmed_at = self._clock.now()

    async def _say(self, texts: Sequence[str]) -> AsyncGenerator[str, None]:
        for text in texts:
            yield text

    def _answer(self, timing: TurnTiming, query: str | None = None) -> AsyncGenerator[str, None]:
        hooks = ToolHooks(
            specs=self._tool_specs,
            end_call=lambda: self._finish(
                EndReason.ASSISTANT_ENDED_CALL, self.config.end_call_tool.message
            ),
            transfer=self._transfer,
            run_custom=self._run_custom_tools,
            emit=self._emit,
            now=self._clock.now,
        )
        return llm_reply(
            self.config,
            self._providers.llms,
            self.history,
            self._clock,
            timing,
            hooks,
            first_token_timeout_s=self._first_token_timeout_s,
            filler_after_s=self._filler_after_s,
            filler_counter=self._fillers,
            # Retrieval answers a caller's turn (not the model-generated opener).
            retrieve=self._retrieve if query else None,
            query=query,
        )

    def _transfer(self, destination: str) -> None:
        numbers = self.config.transfer_tool.numbers
        target = destination if destination in numbers else numbers[0]

        async def then_transfer() -> None:
            await self._transport.transfer(target)
            self._set_ended(EndReason.ASSISTANT_FORWARDED_CALL, target)

        self._finish_with(self.config.transfer_tool.message, then_transfer)

    # -- live control (the API's end and say) -----------------------------------------

    def say(self, text: str, *, end_after: bool = False) -> None:
        """Speak ``text`` now, cutting off whatever the assistant was saying; with
        ``end_after``, hang up once it has been played."""
        if self._group is None or self._closing:
            return
        if end_after:
            self._finish(EndReason.ASSISTANT_ENDED_CALL, text)
        else:
            self._start_reply(self._say([text]), TurnTiming(0))

    def end(
        self, reason: EndReason = EndReason.MANUALLY_CANCELED, detail: str | None = None
    ) -> None:
        """End the call now (no goodbye): the transport is hung up with ``reason``."""
        if self._reply is not None and not self._reply.done():
            self._reply.cancel()
        self._set_ended(reason, detail)

    # -- ending -----------------------------------------------------------------------

    def _finish(self, reason: EndReason, goodbye: str | None, detail: str | None = None) -> None:
        """Say goodbye (not interruptible), wait until it has been played, hang up."""

        async def end() -> None:
            self._set_ended(reason, detail)

        self._finish_with(goodbye, end)

    def _finish_with(self, message: str | None, then: Callable[[], Awaitable[None]]) -> None:
        if self._closing:
            return
        self._closing = True
        if message:
            self._start_reply(self._say([message]), TurnTiming(0), interruptible=False)
        else:
            previous = self._reply
            if (
                previous is not None
                and not previous.done()
                and previous is not asyncio.current_task()
            ):
                previous.cancel()
        reply = self._reply

        async def after_message() -> None:
            if reply is not None and not reply.done():
                await asyncio.wait({reply})
            await then()

        self._spawn(after_message())

    def _on_answering_machine(self, event: AnsweringMachine) -> None:
        if event.kind == "human":
            return
        if event.kind == "machine_start":
            return  # wait for the beep or the silence after the greeting
        self._finish(EndReason.VOICEMAIL, self.config.voicemail_message)

    # -- DTMF -------------------------------------------------------------------------

    def _on_dtmf(self, digit: str) -> None:
        self._dtmf.append(digit)
        self._touch(self._clock.now())
        if self._dtmf_task is not None:
            self._dtmf_task.cancel()
        if digit == "#":
            self._flush_dtmf()
        else:
            self._dtmf_task = self._spawn(self._dtmf_after_quiet())

    async def _dtmf_after_quiet(self) -> None:
        await self._clock.sleep(_DTMF_QUIET_S)
        self._flush_dtmf()

    def _flush_dtmf(self) -> None:
        digits, self._dtmf = "".join(self._dtmf), []
        if digits:
            self._take_user_turn(
                f"[The caller pressed the keys: {digits}]",
                TurnTiming(next(self._turns), end_of_turn_at=self._clock.now()),
            )

    # -- watchdogs --------------------------------------------------------------------

    def _touch(self, now: float) -> None:
        self._last_activity = max(self._last_activity, now)

    async def _watch_duration(self, limit_s: float) -> None:
        await self._clock.sleep(limit_s)
        self._finish(EndReason.EXCEEDED_MAX_DURATION, self.config.end_call_message)

    async def _watch_idle(self) -> None:
        timeout = self.config.idle_timeout_s
        if not timeout:
            return
        while True:
            busy = (self._reply is not None and not self._reply.done()) or self._detector.speaking
            now = self._clock.now()
            due = self._last_activity + timeout
            if busy or now < due:
                await self._clock.sleep(max(due - now, 0.05) if not busy else 0.25)
                continue
            if self._idle_count >= self.config.max_idle_messages:
                self._finish(EndReason.SILENCE_TIMED_OUT, self.config.end_call_message)
                return
            self._idle_count += 1
            self._emit(IdleReprompt(self._idle_count, now))
            message = self.config.idle_message
            if message:
                self._start_reply(self._say([message]), TurnTiming(0))
            self._touch(now)


def _first_leaf(group: BaseExceptionGroup[Exception]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
