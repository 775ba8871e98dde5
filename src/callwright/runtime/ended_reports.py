"""The webhooks of a call ended without its session's own ``finally``: a call that never
started, and a call swept because its node is gone. Both get the ``status-update``
(ended) and the ``end-of-call-report`` from what the call row holds — for a swept call,
the record its node saved turn by turn (``progress``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.calls.queries import load_call
from callwright.domain.calls.repository import remember_assistant
from callwright.errors import NotFound
from callwright.runtime.webhook_writer import CallWebhooks
from callwright.security.crypto import SecretBox
from callwright.store.models import Call

__all__ = ["EndedReports", "webhook_url_of"]

logger = logging.getLogger(__name__)


async def webhook_url_of(db: AsyncSession, box: SecretBox, call: Call) -> str | None:
    """Where the call's webhooks go: its overrides', else its assistant's URL. A call
    that never ran its assistant is given the assistant's context first (the name,
    metadata and custom_settings its webhooks carry)."""
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
    url = overrides.get("webhook_url") or settings.webhook_url
    return str(url) if url else None


class EndedReports:
    """Queues the closing webhooks of ended calls in the caller's transaction."""

    def __init__(self, box: SecretBox, webhooks: CallWebhooks | None) -> None:
        self._box = box
        self._webhooks = webhooks

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
        """Calls the sweep just ended (in the same transaction: both or neither). A
        call whose webhooks cannot be made is logged and skipped (its own savepoint):
        the others, and the sweep, still go through."""
        for call_id in call_ids:
            try:
                async with db.begin_nested():
                    call = await load_call(db, call_id)
                    if call is not None:
                        await self.send(db, call)
            except Exception:
                logger.exception("call %s: its closing webhooks could not be queued", call_id)
