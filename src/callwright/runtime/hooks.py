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

__all__ = ["end_call_url_hook"]

logger = logging.getLogger(__name__)
_TIMEOUT_S = 5.0


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
            {
                "type": "call-ended",
                "call": dict(call),
                "endedReason": reason.value,
                "endedAt": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            },
            separators=(",", ":"),
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
