"""Setting up a freshly opened realtime connection, the same for every vendor: the
vendor's set-up must be acknowledged within the connect timeout; on any failure the
connection is closed before the error (a ``ProviderTimeout`` for a timeout) goes up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from callwright.providers.errors import ProviderTimeout
from callwright.providers.realtime.protocol import RealtimeConnection

__all__ = ["set_up_or_close"]


async def set_up_or_close(
    connection: RealtimeConnection,
    set_up: Awaitable[None],
    *,
    provider: str,
    timeout_s: float,
    unacknowledged: str,
) -> None:
    """Await ``set_up`` (the connection's own) within ``timeout_s``; close
    ``connection`` if it fails, raising ``ProviderTimeout(provider, unacknowledged)``
    for a timeout and the error itself otherwise."""
    try:
        async with asyncio.timeout(timeout_s):
            await set_up
    except TimeoutError as exc:
        await connection.aclose()
        raise ProviderTimeout(provider, unacknowledged) from exc
    except BaseException:
        await connection.aclose()
        raise
