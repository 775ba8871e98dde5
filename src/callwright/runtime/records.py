"""A finished call's record, written once however the call ended: the stereo
recording encoded off the loop and stored, the record (transcript, tool calls,
knowledge, turns, usage, providers), the analysis job when the assistant has an
``analysis_plan``, and the closing webhooks (the end-of-call report held for the
analysis, at most ``analysis_wait_s``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.analysis import jobs as analysis_jobs
from callwright.domain.analysis import report as analysis_report
from callwright.domain.calls.queries import load_call
from callwright.domain.calls.repository import CallRecord, write_record
from callwright.engine.events import EndReason
from callwright.runtime.preparation import PreparedCall
from callwright.runtime.recorder import CallRecorder, StereoRecording
from callwright.runtime.recordings import RecordingStore
from callwright.runtime.registry import ProviderChoice
from callwright.runtime.webhook_writer import CallWebhooks
from callwright.settings import Settings
from callwright.store.base import utcnow

__all__ = ["RecordWriter"]

logger = logging.getLogger(__name__)


class RecordWriter:
    """``finish`` writes one call's record; called once per call, shielded from
    cancellation by the runtime."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        recordings: RecordingStore,
        webhooks: CallWebhooks | None,
        settings: Settings,
    ) -> None:
        self._session_factory = session_factory
        self._recordings = recordings
        self._webhooks = webhooks
        self._settings = settings

    async def _store_recording(
        self, organization_id: int, call_id: int, recording: StereoRecording
    ) -> str | None:
        """The call's stereo WAV, encoded off the loop and stored: its key, or None
        when it could not be stored (the record is written without it)."""
        try:
            wav = await asyncio.to_thread(recording.to_wav)
            key = f"{organization_id}/{call_id}.wav"
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
    ) -> None:
        recording_key = await self._store_recording(
            prepared.call.organization_id, call_id, recording
        )
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
            recording_key=recording_key,
        )
        analysed = prepared.assistant.settings.analysis_plan is not None
        async with self._session_factory() as db:
            call = await load_call(db, call_id)
            if call is None:
                return
            write_record(call, record)
            if analysed:
                await analysis_jobs.schedule(db, call)
            if self._webhooks is not None and prepared.webhook_url:
                await self._webhooks.send(db, call, prepared.webhook_url, "status-update", {})
                await self._webhooks.send(db, call, prepared.webhook_url, "end-of-call-report", {})
                if analysed and (wait := self._settings.analysis_wait_s) > 0:
                    # The report waits for the analysis, at most this long.
                    await analysis_report.hold(db, call_id, utcnow() + timedelta(seconds=wait))
            await db.commit()
