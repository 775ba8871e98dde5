"""Pure ASGI middleware: request body size limit and the per-IP request budget.

Both run before routing, so an oversized body or a flood from one address costs
neither a database query nor JSON parsing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callwright.api.ratelimit import RateLimiter

__all__ = ["BodySizeLimitMiddleware", "IpRateLimitMiddleware"]

_EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


async def _send_error(
    send: Send,
    status: int,
    error: str,
    code: str,
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    body = json.dumps({"error": error, "code": code, "details": []}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413, whether or not the client
    declared a Content-Length (a chunked body is counted as it arrives)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # (path regex, limit): routes that take bigger bodies (document uploads).
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = next(
            (limit for pattern, limit in self.larger if pattern.match(scope["path"])),
            self.max_bytes,
        )
        too_large = f"request body exceeds {max_bytes} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, 400, "invalid Content-Length", "bad_request")
                    return
                if declared > max_bytes:
                    await _send_error(send, 413, too_large, "payload_too_large")
                    return
        # Buffer the (bounded) body so that an overflow is refused before the app runs.
        messages: list[Message] = []
        received = 0
        more_body = True
        while more_body:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            received += len(message.get("body", b""))
            if received > max_bytes:
                await _send_error(send, 413, too_large, "payload_too_large")
                return
            more_body = message.get("more_body", False)

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


class IpRateLimitMiddleware:
    """Applies the per-IP budget to every HTTP request except health checks."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter, per_minute: int) -> None:
        self.app = app
        self.limiter = limiter
        self.per_minute = per_minute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client: Any = scope.get("client")
        address = client[0] if client else "unknown"
        decision = await self.limiter.hit(f"ip:{address}", self.per_minute)
        if not decision.allowed:
            await _send_error(
                send,
                429,
                f"too many requests from {address}: retry in {decision.retry_after_seconds} s",
                "rate_limited",
                ((b"retry-after", str(decision.retry_after_seconds).encode()),),
            )
            return
        await self.app(scope, receive, send)
