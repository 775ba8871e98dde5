"""The webhooks of a call ended without its session's own ``finally``: a call that never
started, and a call swept because its node is gone. Both get the ``status-update``
(ended) and the ``end-of-call-report`` from what the call row holds — for a swept call,
the record its node saved turn by turn (``progress``), rounded off here: its duration,
and its recording recovered from the spool its node appended to after each turn
(``recordings.RecordingSpool``, when this node sees that folder). A swept call whose
assistant has an ``end_call_url`` also gets that POST, through the outbox (durable and
retried, signed like every webhook), since the process that would have made it is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import StoredAssistant, load_assistant_for_call
from callwright.domain.calls.queries import load_call
from callwright.domain.calls.repository import complete_swept_record, remember_assistant
from callwright.domain.webhooks.outbox import enqueue
from callwright.errors import NotFound
from callwright.runtime.hooks import CALL_ENDED, call_ended_message
from callwright.runtime.recordings import RecordingSpool, RecordingStore, recording_key
from callwright.runtime.webhook_writer import CallWebhooks
from callwright.security.crypto import SecretBox
from callwright.store.models import Call

__all__ = ["EndedReports", "webhook_url_of"]

logger = logging.getLogger(__name__)


async def _assistant_of(db: AsyncSession, box: SecretBox, call: Call) -> StoredAssistant | None:
    """The call's assistant; a call that never ran it is given the assistant's context
    first (the name, metadata and custom_settings its webhooks carry)."""
    if call.assistant_id is None:
        return None
    try:
        stored = await load_assistant_for_call(db, box, call.assistant_id)
    except NotFound:
        return None
    settings, overrides = stored.settings, call.overrides
    if not call.assistant_context:
        # Free-form maps are replaced, not merged, by an override.
        remember_assistant(
            call,
            name=stored.row.name,
            metadata=overrides.get("metadata", settings.metadata),
            custom_settings=overrides.get("custom_settings", settings.custom_settings) or {},
        )
    return stored


async def webhook_url_of(db: AsyncSession, box: SecretBox, call: Call) -> str | None:
    """Where the call's webhooks go: its overrides', else its assistant's URL. A call
    that never ran its assistant is given the assistant's context first (the name,
    metadata and custom_settings its webhooks carry)."""
    stored = await _assistant_of(db, box, call)
    if stored is None:
        return None
    url = call.overrides.get("webhook_url") or stored.settings.webhook_url
    return str(url) if url else None


class EndedReports:
    """Queues the closing webhooks of ended calls in the caller's transaction."""

    def __init__(
        self,
        box: SecretBox,
        webhooks: CallWebhooks | None,
        *,
        recordings: RecordingStore | None = None,
        spool: RecordingSpool | None = None,
    ) -> None:
        self._box = box
        self._webhooks = webhooks
        self._recordings = recordings
        self._spool = spool

    async def send(self, db: AsyncSession, call: Call) -> None:
        """``call`` has ended: its status update and end-of-call report, if it has a
        webhook URL."""
        if self._webhooks is None:
            return
        url = await webhook_url_of(db, self._box, call)
        if url:
            await self._webhooks.send(db, call, url, "status-update", {})
            await self._webhooks.send(db, call, url, "end-of-call-report", {})

    async def swept(self, db: AsyncSession, call_ids: Sequence[int]) -> None:
        """Calls the sweep just ended (in the same transaction: both or neither): each
        record rounded off, then its closing webhooks and ``end_call_url`` POST. A call
        whose record or webhooks cannot be made is logged and skipped (its own
        savepoint): the others, and the sweep, still go through."""
        for call_id in call_ids:
            try:
                async with db.begin_nested():
                    call = await load_call(db, call_id)
                    if call is not None:
                        complete_swept_record(call, await self._recovered_recording(call))
                        await self.send(db, call)
                        await self._post_end_call_url(db, call)
            except Exception:
                logger.exception("call %s: its closing webhooks could not be queued", call_id)

    async def _recovered_recording(self, call: Call) -> str | None:
        """The partial recording of a swept call, stored from its spool: its key, or
        None when there is none here (or it could not be stored; the spool is kept)."""
        spool, store = self._spool, self._recordings
        if spool is None or store is None:
            return None
        organization_id, call_id = call.organization_id, call.id
        wav = await asyncio.to_thread(spool.recover, organization_id, call_id)
        if wav is None:
            return None
        key = recording_key(organization_id, call_id)
        try:
            await store.put(key, wav, "audio/wav")
            await asyncio.to_thread(spool.remove, organization_id, call_id)
        except Exception:
            logger.exception("call %s: its partial recording could not be stored", call_id)
            return None
        return key

    async def _post_end_call_url(self, db: AsyncSession, call: Call) -> None:
        """Queue the ``end_call_url`` POST the call's dead node could not make (only for
        a call whose session ran: a live call POSTs it when its session ends)."""
        if call.started_at is None or call.ended_at is None:
            return
        stored = await _assistant_of(db, self._box, call)
        if stored is None:
            return
        url = call.overrides.get("end_call_url") or stored.settings.end_call_url
        if not url:
            return
        info = {"id": str(call.id), "type": call.type, "assistantId": call.assistant_id}
        await enqueue(
            db,
            organization_id=call.organization_id,
            url=str(url),
            event_type=CALL_ENDED,
            payload=call_ended_message(info, call.end_reason or "server-restarted", call.ended_at),
            call_id=call.id,
        )
