"""Pure ASGI middleware: request body size limit and the per-IP request budget.

Both run before routing, so an oversized body or a flood from one address costs
neither a database query nor JSON parsing. Routes that take large bodies (document
uploads) are the exception to buffering: their bodies are counted as the route reads
them, after it has authenticated the request, so an unauthenticated upload is refused
before a byte of it is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callwright.api.ratelimit import RateLimiter
from callwright.errors import PayloadTooLarge

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


def _counted(receive: Receive, max_bytes: int, too_large: str) -> Receive:
    """``receive``, refusing the body once more than ``max_bytes`` have come: the
    route reading it gets ``PayloadTooLarge`` (a 413 through the error handlers, and
    the request's unit of work rolls back)."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise PayloadTooLarge(too_large)
        return message

    return counted


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413, whether or not the client
    declared a Content-Length (a chunked body is counted as it arrives).

    Bodies are buffered before the app runs (an overflow costs the app nothing), except
    on the ``larger`` routes: those authenticate before they read their body, so theirs
    is passed through unread and counted as the route reads it."""

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
        larger = next(
            (limit for pattern, limit in self.larger if pattern.match(scope["path"])), None
        )
        max_bytes = self.max_bytes if larger is None else larger
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
        if larger is not None:
            await self.app(scope, _counted(receive, max_bytes, too_large), send)
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
