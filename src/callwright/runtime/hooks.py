"""What happens around a call's end: the POST to the assistant's ``end_call_url``
(seed 004). Best effort and bounded: a slow or failing receiver is logged, never
allowed to hold the call open."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from callwright.engine.events import EndReason
from callwright.engine.lifecycle import EndCallHook
from callwright.security.outbound import STRICT, OutboundPolicy, OutboundRefused
from callwright.security.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["CALL_ENDED", "call_ended_message", "end_call_url_hook"]

CALL_ENDED = "call-ended"

logger = logging.getLogger(__name__)
_TIMEOUT_S = 5.0


def call_ended_message(call: Mapping[str, Any], reason: str, ended_at: datetime) -> dict[str, Any]:
    """The body POSTed to ``end_call_url``: the call (id, type, assistantId), why and
    when it ended."""
    return {
        "type": CALL_ENDED,
        "call": dict(call),
        "endedReason": reason,
        "endedAt": ended_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }


def end_call_url_hook(
    url: str | None,
    call: Mapping[str, Any],
    *,
    signing_secret: str | None = None,
    outbound: OutboundPolicy = STRICT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> EndCallHook | None:
    """A hook that POSTs ``{"type": "call-ended", "call", "endedReason", "endedAt"}`` to
    ``url`` (signed like tool calls when a secret is given), or None without a URL.
    The URL and the address it connects to are checked by ``outbound``."""
    if not url:
        return None

    async def post(reason: EndReason) -> None:
        body = json.dumps(
            call_ended_message(call, reason.value, datetime.now(UTC)), separators=(",", ":")
        ).encode()
        headers = {"Content-Type": "application/json"}
        if signing_secret:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(signing_secret, timestamp, body)
        try:
            outbound.check_url(url)
            async with httpx.AsyncClient(
                transport=transport or outbound.http_transport(), timeout=_TIMEOUT_S
            ) as client:
                response = await client.post(url, content=body, headers=headers)
            if response.status_code >= 300:
                logger.warning("end_call_url %s answered %s", url, response.status_code)
        except (httpx.HTTPError, OutboundRefused) as exc:
            logger.warning("end_call_url %s failed: %s", url, exc)

    return post
