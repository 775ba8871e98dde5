"""A finished call's record, written once however the call ended: the stereo
recording encoded off the loop and stored, the record (transcript, tool calls,
knowledge, turns, usage, providers), the analysis job when the assistant has an
``analysis_plan``, and the closing webhooks (the end-of-call report held for the
analysis, at most ``analysis_wait_s``).

The database being unreachable at the end of the call loses nothing: the write is
tried again after a back-off (doubling, at most ``_MAX_RETRY_S``) until it lands, with
the live call's webhook events that were not written yet (``WebhookWriter.leftover``)
in the same transaction. Nothing waits on it but this call's own end (its audio is
over). Once the record and recording are stored, the call's recording spool is
removed; until then it is what a sweep recovers if this process dies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.clock import Clock, MonotonicClock
from callwright.domain.analysis import jobs as analysis_jobs
from callwright.domain.analysis import report as analysis_report
from callwright.domain.calls.queries import load_call
from callwright.domain.calls.repository import CallRecord, write_record
from callwright.engine.events import EndReason
from callwright.runtime.preparation import PreparedCall
from callwright.runtime.recorder import CallRecorder, StereoRecording
from callwright.runtime.recordings import RecordingSpool, RecordingStore, recording_key
from callwright.runtime.registry import ProviderChoice
from callwright.runtime.webhook_writer import CallWebhooks, WebhookEvent
from callwright.settings import Settings
from callwright.store.base import utcnow

__all__ = ["RecordWriter"]

logger = logging.getLogger(__name__)

_FIRST_RETRY_S = 0.5
_MAX_RETRY_S = 15.0


class RecordWriter:
    """``finish`` writes one call's record; called once per call, shielded from
    cancellation by the runtime."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        recordings: RecordingStore,
        webhooks: CallWebhooks | None,
        settings: Settings,
        *,
        spool: RecordingSpool | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._recordings = recordings
        self._webhooks = webhooks
        self._settings = settings
        self._spool = spool
        self._clock = clock or MonotonicClock()
        self.write_failures = 0

    async def _store_recording(
        self, organization_id: int, call_id: int, recording: StereoRecording
    ) -> str | None:
        """The call's stereo WAV, encoded off the loop and stored: its key, or None
        when it could not be stored (the record is written without it)."""
        try:
            wav = await asyncio.to_thread(recording.to_wav)
            key = recording_key(organization_id, call_id)
            await self._recordings.put(key, wav, "audio/wav")
        except Exception:
            logger.exception("call %s: the recording could not be stored", call_id)
            return None
        return key

    async def finish(
        self,
        call_id: int,
        prepared: PreparedCall,
        recorder: CallRecorder,
        recording: StereoRecording,
        choices: Sequence[ProviderChoice],
        leftover_webhooks: Sequence[WebhookEvent] = (),
    ) -> None:
        """Store the recording, then write the record and the closing webhooks,
        retrying until the database takes them."""
        stored_key = await self._store_recording(prepared.call.organization_id, call_id, recording)
        chosen = {choice.kind: choice.chosen for choice in choices}
        record = CallRecord(
            end_reason=(recorder.end_reason or EndReason.PIPELINE_ERROR).value,
            end_detail=recorder.end_detail,
            messages=recorder.messages,
            tool_calls=recorder.tool_calls,
            knowledge=recorder.knowledge,
            turns=recorder.turns,
            usage=recorder.usage(
                stt_seconds=recording.caller_seconds,
                llm=chosen.get("llm", chosen.get("realtime", "unknown")),
                stt=chosen.get("stt", "unknown"),
                tts=chosen.get("tts", "unknown"),
            ),
            # What served each kind at the start, then each mid-call failover.
            providers=[
                {"kind": c.kind, "requested": c.requested, "chosen": c.chosen, "reason": c.reason}
                for c in choices
            ]
            + recorder.failovers,
            recording_key=stored_key,
        )
        retry_s = _FIRST_RETRY_S
        while True:
            try:
                await self._write(call_id, prepared, record, leftover_webhooks)
                break
            except (SQLAlchemyError, OSError) as exc:
                self.write_failures += 1
                logger.warning(
                    "call %s: its record could not be written (%s); retrying in %.1f s",
                    call_id,
                    exc,
                    retry_s,
                )
                await self._clock.sleep(retry_s)
                retry_s = min(retry_s * 2, _MAX_RETRY_S)
        if stored_key is not None and self._spool is not None:
            organization_id = prepared.call.organization_id
            try:
                await asyncio.to_thread(self._spool.remove, organization_id, call_id)
            except OSError:
                logger.exception("call %s: its recording spool could not be removed", call_id)

    async def _write(
        self,
        call_id: int,
        prepared: PreparedCall,
        record: CallRecord,
        leftover_webhooks: Sequence[WebhookEvent],
    ) -> None:
        analysed = prepared.assistant.settings.analysis_plan is not None
        async with self._session_factory() as db:
            call = await load_call(db, call_id)
            if call is None:
                return
            write_record(call, record)
            if analysed:
                await analysis_jobs.schedule(db, call)
            if self._webhooks is not None and prepared.webhook_url:
                url = prepared.webhook_url
                for kind, data in leftover_webhooks:
                    try:
                        await self._webhooks.send(db, call, url, kind, data)
                    except Exception:
                        logger.exception("call %s: could not queue the %s webhook", call_id, kind)
                await self._webhooks.send(db, call, url, "status-update", {})
                await self._webhooks.send(db, call, url, "end-of-call-report", {})
                if analysed and (wait := self._settings.analysis_wait_s) > 0:
                    # The report waits for the analysis, at most this long.
                    await analysis_report.hold(db, call_id, utcnow() + timedelta(seconds=wait))
            await db.commit()
