"""The HTTP middleware labels by route template, and ``GET /metrics`` serves the text
format: on a tiny FastAPI app, over HTTP and (for WebSockets) a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn
import websockets
from fastapi import FastAPI, WebSocket
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Receive, Scope, Send

from callwright.api.errors import install_error_handlers
from callwright.api.routes.metrics import metrics_router
from callwright.observability.metrics import Metrics
from callwright.observability.middleware import UNMATCHED, HttpMetricsMiddleware


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def tiny_app(metrics: Metrics, *, token: str | None = None) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.websocket("/socket/{room}")
    async def echo(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        text = await websocket.receive_text()
        await websocket.send_text(f"{room}:{text}")
        await websocket.close()

    app.mount("/bare", bare)
    app.include_router(metrics_router(token=token, metrics=metrics))
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_requests_are_labelled_by_route_template_not_path() -> None:
    metrics = Metrics()
    async with client(tiny_app(metrics)) as http:
        for item_id in (1, 2, 3):
            assert (await http.get(f"/items/{item_id}")).status_code == 200
        assert (await http.get("/items/4?token=stream-secret")).status_code == 200
        assert (await http.get("/items/not-a-number")).status_code == 422
        assert (await http.get("/wp-admin/login.php")).status_code == 404
        assert (await http.get("/nothing/here")).status_code == 404
        assert (await http.get("/bare/anything/below")).status_code == 204
        assert (await http.post("/items/1")).status_code == 405
    requests = "callwright_http_requests_total"
    template = "/items/{item_id}"
    assert sample(metrics, requests, method="GET", route=template, status="200") == 4
    assert sample(metrics, requests, method="GET", route=template, status="422") == 1
    assert sample(metrics, requests, method="GET", route=UNMATCHED, status="404") == 2
    assert sample(metrics, requests, method="GET", route="/bare/{path}", status="204") == 1
    assert sample(metrics, requests, method="POST", route=template, status="405") == 1
    duration = "callwright_http_request_duration_seconds_count"
    assert sample(metrics, duration, method="GET", route=template) == 5
    # No series carries a raw path, nor a query string's credential.
    exposition = metrics.exposition().decode()
    assert "/items/1" not in exposition
    assert "stream-secret" not in exposition
    assert "wp-admin" not in exposition


async def test_an_app_error_counts_as_500() -> None:
    metrics = Metrics()
    async with client(tiny_app(metrics)) as http:
        assert (await http.get("/boom")).status_code == 500
    assert (
        sample(metrics, "callwright_http_requests_total", method="GET", route="/boom", status="500")
        == 1
    )


async def test_metrics_endpoint_serves_prometheus_text() -> None:
    metrics = Metrics()
    metrics.call_started("webCall")
    app = tiny_app(metrics)
    async with client(app) as http:
        await http.get("/items/7")
        response = await http.get("/metrics")
        schema = (await http.get("/openapi.json")).json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["callwright_calls_active"].samples[0].value == 1
    labels = [s.labels for s in families["callwright_http_requests"].samples]
    assert {"method": "GET", "route": "/items/{item_id}", "status": "200"} in labels
    assert "/metrics" not in schema["paths"]


async def test_metrics_endpoint_with_a_token_refuses_everyone_else() -> None:
    metrics = Metrics()
    async with client(tiny_app(metrics, token="scrape-secret")) as http:
        missing = await http.get("/metrics")
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert missing.status_code == 401
    assert missing.json()["code"] == "unauthorized"
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert b"callwright_calls_active" in right.content


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    try:
        async with asyncio.TaskGroup() as group:
            task = group.create_task(server.serve(sockets=[sock]))
            while not server.started:
                assert not task.done(), "the server did not start"
                await asyncio.sleep(0.01)
            try:
                yield f"ws://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


async def test_websockets_are_counted_as_connections_by_route() -> None:
    metrics = Metrics()
    async with serving(tiny_app(metrics)) as base:
        async with websockets.connect(f"{base}/socket/lobby") as socket_:
            await socket_.send("hi")
            assert await socket_.recv() == "lobby:hi"
            # Open while the endpoint runs (it waits for our close now).
            with contextlib.suppress(websockets.ConnectionClosed):
                await socket_.recv()
        async with websockets.connect(f"{base}/socket/other") as socket_:
            await socket_.send("x")
            await socket_.recv()
        for _ in range(100):
            if (
                sample(metrics, "callwright_websocket_connections_active", route="/socket/{room}")
                == 0
            ):
                break
            await asyncio.sleep(0.01)
    route = "/socket/{room}"
    assert sample(metrics, "callwright_websocket_connections_total", route=route) == 2
    assert sample(metrics, "callwright_websocket_connections_active", route=route) == 0
    # A WebSocket is not an HTTP request.
    assert "callwright_http_requests_total{" not in metrics.exposition().decode()
