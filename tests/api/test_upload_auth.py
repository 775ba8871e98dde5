"""Document uploads are authenticated before their body is read: a 20 MB body from a
client without valid credentials (or without its CSRF token, or over its budget) is
refused with the usual error body while not one byte of it has been received; an
authenticated body is counted as the route reads it, and refused past the limit with
nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from callwright.api.app import create_app
from callwright.settings import Settings
from tests.conftest import Tenant, make_tenant

_BOUNDARY = "callwright-test-boundary"
_CHUNK = 64 * 1024


def multipart(filename: str, size: int) -> tuple[bytes, bytes, bytes]:
    """The multipart framing around a ``size``-byte file part: head, filler, tail."""
    head = (
        f"--{_BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{_BOUNDARY}--\r\n".encode()
    return head, b"a" * size, tail


class CountingBody:
    """An ASGI ``receive`` handing out a request body in 64 KiB messages and counting
    how many bytes the app has taken."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.read = 0

    async def __call__(self) -> dict[str, Any]:
        if self.read >= len(self._body):
            # The body is over: the client waits for the answer.
            return {"type": "http.disconnect"}
        piece = self._body[self.read : self.read + _CHUNK]
        self.read += len(piece)
        return {"type": "http.request", "body": piece, "more_body": self.read < len(self._body)}


async def post_raw(
    app: FastAPI,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    declare_length: bool = True,
) -> tuple[int, dict[str, Any], CountingBody]:
    """POST ``body`` straight into the ASGI app; the status, the JSON answer and the
    receive that counted what the app read."""
    receive = CountingBody(body)
    raw_headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    raw_headers.append((b"content-type", f"multipart/form-data; boundary={_BOUNDARY}".encode()))
    raw_headers.append((b"host", b"testserver"))
    if declare_length:
        raw_headers.append((b"content-length", str(len(body)).encode()))
    else:
        raw_headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, httpx.Response(status, content=content).json(), receive


async def create_assistant(client: httpx.AsyncClient, tenant: Tenant) -> int:
    # Stored, not processed: these tests are about the request, not the parser.
    body = {"name": "Uploads", "rag_settings": {"auto_process": False}}
    response = await client.post("/api/v1/assistants", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assistant_id: int = response.json()["id"]
    return assistant_id


def twenty_megabytes() -> bytes:
    head, filler, tail = multipart("big.txt", 20 * 1024 * 1024 - 1024)
    return head + filler + tail


@pytest.mark.parametrize(
    "credentials",
    [
        {},
        {"Authorization": "Bearer cw_not_a_real_key"},
        {"x-api-key": "cw_not_a_real_key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Cookie": "auth-token=not-a-session"},
    ],
    ids=["none", "wrong-bearer", "wrong-x-api-key", "not-bearer", "wrong-cookie"],
)
async def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, credentials: dict[str, str]
) -> None:
    assistant_id = await create_assistant(client, tenant)
    path = f"/api/v1/assistants/{assistant_id}/documents"
    status, body, receive = await post_raw(app, path, twenty_megabytes(), credentials)
    assert status == 401
    assert receive.read == 0
    # The same error body as any other route's 401 for the same credentials.
    elsewhere = await client.get("/api/v1/assistants", headers=credentials)
    assert (elsewhere.status_code, elsewhere.json()) == (401, body)
    listed = await client.get(path, headers=tenant.headers)
    assert listed.json() == []


async def test_a_cookie_upload_without_its_csrf_token_is_refused_before_its_body_is_read(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assistant_id = await create_assistant(client, tenant)
    login = await client.post(
        "/auth/login", json={"email": tenant.email, "password": tenant.password}
    )
    assert login.status_code == 200
    cookie = {"Cookie": f"auth-token={login.cookies['auth-token']}"}
    path = f"/api/v1/assistants/{assistant_id}/documents"
    status, body, receive = await post_raw(app, path, twenty_megabytes(), cookie)
    assert (status, body["code"], receive.read) == (403, "csrf_failed", 0)
    with_csrf = {**cookie, "X-CSRF-Token": login.json()["csrf_token"]}
    head, filler, tail = multipart("small.txt", 1000)
    status, body, receive = await post_raw(app, path, head + filler + tail, with_csrf)
    assert status == 201, body
    assert receive.read == len(head + filler + tail)


async def test_an_authenticated_upload_is_read_and_an_endless_one_is_cut_off(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assistant_id = await create_assistant(client, tenant)
    path = f"/api/v1/assistants/{assistant_id}/documents"
    head, filler, tail = multipart("notes.txt", 2 * 1024 * 1024)
    status, body, receive = await post_raw(app, path, head + filler + tail, tenant.headers)
    assert status == 201, body
    assert body["size_bytes"] == 2 * 1024 * 1024
    # No Content-Length, more than the document limit: counted while the route reads
    # it, refused at the limit, nothing stored.
    head, filler, tail = multipart("endless.txt", 30 * 1024 * 1024)
    status, body, receive = await post_raw(
        app, path, head + filler + tail, tenant.headers, declare_length=False
    )
    assert (status, body["code"]) == (413, "payload_too_large")
    assert receive.read < 21 * 1024 * 1024
    listed = await client.get(path, headers=tenant.headers)
    assert [document["name"] for document in listed.json()] == ["notes.txt"]


@pytest.fixture
async def budget_of_one(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose API keys may make one request a minute."""
    application = create_app(settings.model_copy(update={"rate_limit_per_key_per_minute": 1}))
    async with application.router.lifespan_context(application):
        yield application


async def test_an_upload_over_the_keys_budget_is_refused_before_its_body_is_read(
    budget_of_one: FastAPI,
) -> None:
    tenant = await make_tenant(budget_of_one)
    transport = httpx.ASGITransport(app=budget_of_one)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assistant_id = await create_assistant(client, tenant)  # the minute's one request
    path = f"/api/v1/assistants/{assistant_id}/documents"
    status, body, receive = await post_raw(budget_of_one, path, twenty_megabytes(), tenant.headers)
    assert (status, body["code"], receive.read) == (429, "rate_limited", 0)
