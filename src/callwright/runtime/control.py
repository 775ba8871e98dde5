"""Control that reaches a call on whichever node holds it: Redis pub/sub.

Each node listens on its own channel (``<namespace>:control:node:<node id>``). A node
asked to act on another node's call subscribes to a fresh reply channel, publishes the
command to the owner's channel and waits for the owner's answer (what its session did).
Nobody subscribed to the owner's channel (Redis counts the receivers of a PUBLISH), no
answer within ``reply_timeout_s`` or Redis unreachable: the owner is unreachable, and
the caller is told so rather than told it worked. Without ``REDIS_URL`` there is no
relay: a process acts on its own calls only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from callwright.clock import Clock, MonotonicClock
from callwright.domain.calls.control import CallCommand, CommandOutcome

__all__ = ["ControlRelay"]

logger = logging.getLogger(__name__)

Act = Callable[[int, CallCommand], CommandOutcome]

# After Redis fails, the listener waits this long before subscribing again.
_RESUBSCRIBE_S = 1.0


class ControlRelay:
    """Commands to other nodes' calls (``send``) and this node's listener (``serve``)."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "callwright",
        reply_timeout_s: float = 3.0,
        clock: Clock | None = None,
    ) -> None:
        # No socket timeout: a subscription is idle most of the time. Requests are
        # bounded by ``reply_timeout_s`` instead.
        self._redis: Redis = Redis.from_url(
            url, socket_connect_timeout=reply_timeout_s, health_check_interval=30
        )
        self._prefix = f"{namespace}:control:"
        self._reply_timeout_s = reply_timeout_s
        self._clock = clock or MonotonicClock()
        self.listening = asyncio.Event()

    def _channel(self, node_id: str) -> str:
        return f"{self._prefix}node:{node_id}"

    async def send(self, node_id: str, call_id: int, command: CallCommand) -> CommandOutcome:
        """Have ``node_id`` carry out ``command`` on ``call_id``; what came of it."""
        reply_to = f"{self._prefix}reply:{uuid.uuid4().hex}"
        request = {
            "call_id": call_id,
            "kind": command.kind,
            "message": command.message,
            "end_after": command.end_after,
            "reply_to": reply_to,
        }
        try:
            async with asyncio.timeout(self._reply_timeout_s), self._redis.pubsub() as pubsub:
                await pubsub.subscribe(reply_to)
                receivers = await self._redis.publish(self._channel(node_id), json.dumps(request))
                if not receivers:
                    return CommandOutcome.UNREACHABLE
                while True:
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self._reply_timeout_s
                    )
                    if message is not None:
                        return _outcome(message["data"])
        except (TimeoutError, RedisError, OSError, ValueError) as exc:
            logger.warning("call %s: node %s did not answer: %r", call_id, node_id, exc)
            return CommandOutcome.UNREACHABLE

    async def serve(self, node_id: str, act: Act) -> None:
        """Carry out the commands sent to this node, until cancelled; Redis failing
        only pauses it (this node's own calls are controlled directly meanwhile)."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel(node_id))
                    self.listening.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._answer(message["data"], act)
            except (RedisError, OSError):
                logger.exception("node %s: control channel lost; subscribing again", node_id)
            self.listening.clear()
            await self._clock.sleep(_RESUBSCRIBE_S)

    async def _answer(self, data: bytes, act: Act) -> None:
        try:
            request: dict[str, Any] = json.loads(data)
            call_id, reply_to = int(request["call_id"]), str(request["reply_to"])
            kind = request["kind"]
            if kind not in ("end", "say"):
                raise ValueError(kind)
            command = CallCommand(
                kind=kind,
                message=str(request.get("message") or ""),
                end_after=bool(request.get("end_after")),
            )
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring a malformed control message: %r", data[:200])
            return
        outcome = act(call_id, command)
        await self._redis.publish(reply_to, json.dumps({"outcome": outcome.value}))

    async def aclose(self) -> None:
        await self._redis.aclose()


def _outcome(data: bytes) -> CommandOutcome:
    return CommandOutcome(json.loads(data)["outcome"])
