"""A call's webhook events, as Vapi server messages in the durable outbox: the call
runtime says what happened (``status-update``, a ``transcript`` line, a ``tool-call``,
the ``end-of-call-report``); this renders the message and queues it in the caller's
transaction. Delivery, signing and retries are the dispatcher's."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callwright.domain.calls.tokens import recording_signature
from callwright.domain.webhooks import messages
from callwright.domain.webhooks.outbox import enqueue
from callwright.settings import Settings
from callwright.store.models import Call

__all__ = ["OutboxCallWebhooks"]


class OutboxCallWebhooks:
    """``CallWebhooks`` on the outbox."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Each live call's tools as their servers see them, for tool-call messages.
        self._tools: dict[int, dict[str, dict[str, Any]]] = {}

    def register_tools(self, call_id: int, tools: Mapping[str, Mapping[str, Any]]) -> None:
        self._tools[call_id] = {name: dict(tool) for name, tool in tools.items()}

    def forget(self, call_id: int) -> None:
        self._tools.pop(call_id, None)

    def _payload(self, call: Call, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        if kind == "status-update":
            return messages.status_update(call)
        if kind == "transcript":
            return messages.transcript(call, role=data["role"], text=data["text"])
        if kind == "tool-call":
            return messages.tool_calls(call, [data], tools=self._tools.get(call.id))
        if kind == "end-of-call-report":
            recording = None
            if call.recording_key:
                # A signed, expiring link: a webhook handler can fetch it without an API
                # key. Absolute when the public URL is configured (set it in production).
                base = (self._settings.public_url or "").rstrip("/")
                expires = int(time.time()) + self._settings.recording_link_ttl_s
                signature = recording_signature(
                    self._settings.resolved_secret_key(), call.id, expires
                )
                recording = (
                    f"{base}/api/v1/calls/{call.id}/recording.wav"
                    f"?expires={expires}&signature={signature}"
                )
            return messages.end_of_call_report(call, recording_url=recording)
        raise ValueError(f"unknown call webhook {kind!r}")

    async def send(
        self, session: AsyncSession, call: Call, url: str, kind: str, data: Mapping[str, Any]
    ) -> None:
        payload = self._payload(call, kind, data)
        await enqueue(
            session,
            organization_id=call.organization_id,
            url=url,
            event_type=payload["message"]["type"],
            payload=payload,
            call_id=call.id,
        )
