"""Pure ASGI middleware counting HTTP requests and WebSocket connections.

Requests are labelled by the route *template* (``/api/v1/assistants/{assistant_id}``),
never the raw path, so the number of series is bounded by the number of routes: a
request that matched no route (a 404 from a scanner) is labelled ``<unmatched>``. The
router records the matched route in the ASGI scope (``scope["route"]``, the same dict
this middleware passed down), so the label is read once the app has answered.

WebSockets are not requests: they are counted as connections opened and open, by
route, from the moment the endpoint first reads the socket (routing has happened by
then) until the endpoint returns.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callwright.observability.metrics import Metrics, default_metrics

__all__ = ["UNMATCHED", "HttpMetricsMiddleware", "route_template"]

UNMATCHED = "<unmatched>"


def route_template(scope: Scope, root_path_at_entry: str = "") -> str:
    """The template of the route that handled ``scope`` (``UNMATCHED`` if none).

    Inside a mounted sub-application the template is prefixed with the mount's path
    as matched (callwright's mounts have no path parameters)."""
    route: Any = scope.get("route")
    mounted = str(scope.get("root_path", ""))[len(root_path_at_entry) :]
    if route is None:
        # FastAPI records no route for a mount; the mount still moved the root path.
        return f"{mounted}/{{path}}" if mounted else UNMATCHED
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    if isinstance(route, Mount):
        return f"{template}/{{path}}"
    return mounted + template


class HttpMetricsMiddleware:
    """Counts every HTTP request (method, route template, status) and its duration to
    the last body byte; counts WebSocket connections by route. Put it outermost, so
    that the time spent in the other middleware (rate limits) is measured too."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics or default_metrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        root_path = str(scope.get("root_path", ""))
        status = 500  # what the server answers when the app raises before responding

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            self.metrics.http_request(
                str(scope.get("method", "")),
                route_template(scope, root_path),
                status,
                time.perf_counter() - started,
            )

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        root_path = str(scope.get("root_path", ""))
        opened: str | None = None

        # Not a coroutine: it hands back ``receive()``'s awaitable itself, so that each
        # audio frame on a call's socket costs one call and one check, no extra frame.
        def receive_counted() -> Awaitable[Message]:
            nonlocal opened
            if opened is None:
                opened = route_template(scope, root_path)
                self.metrics.websocket_opened(opened)
            return receive()

        try:
            await self.app(scope, receive_counted, send)
        finally:
            if opened is not None:
                self.metrics.websocket_closed(opened)
