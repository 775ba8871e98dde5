"""Documents API on both stores: upload, URL and text sources, processing status,
limits and errors, tenant isolation, delete and re-process, and search."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from callwright.domain.knowledge.context import KnowledgeContext
from callwright.security.outbound import OutboundPolicy
from callwright.store.models import KnowledgeChunk
from tests.conftest import Tenant
from tests.knowledge.conftest import (
    HashingEmbeddings,
    add_text,
    create_assistant,
    make_docx,
    make_pdf,
    search,
    upload,
    wait_processed,
)

FAQ = (
    "# Opening hours\n\nWe open at nine and close at six on weekdays.\n\n"
    "# Parking\n\nFree parking is available behind the building."
)


async def chunk_count(app: FastAPI, assistant_id: int) -> int:
    async with app.state.callwright.session_factory() as session:
        query = (
            select(func.count())
            .select_from(KnowledgeChunk)
            .where(KnowledgeChunk.assistant_id == assistant_id)
        )
        return int((await session.execute(query)).scalar_one())


async def test_upload_every_format_is_processed_and_searchable(
    client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(client, tenant, similarity_threshold=0.1)
    files: list[tuple[str, bytes, str, str]] = [
        ("hours.txt", b"The shop opens at nine.", "text/plain", "opens nine"),
        ("faq.md", FAQ.encode(), "text/markdown", "free parking building"),
        ("page.html", b"<h1>Pets</h1><p>Dogs are welcome inside.</p>", "text/html", "dogs welcome"),
        (
            "manual.pdf",
            make_pdf(["The kettle boils in ninety seconds."]),
            "application/pdf",
            "kettle boils",
        ),
        (
            "policy.docx",
            make_docx([("h1", "Refunds"), ("p", "Refunds take five days.")]),
            "",
            "refunds five days",
        ),
        ("prices.csv", b"item,price\nLatte,3.20\n", "text/csv", "latte price"),
        ("data.json", b'{"wifi": {"password": "bluebird"}}', "application/json", "wifi password"),
    ]
    for filename, data, content_type, query in files:
        created = await upload(client, tenant, assistant["id"], filename, data, content_type)
        assert created["status"] == "pending"
        assert created["name"] == filename
        assert created["size_bytes"] == len(data)
        assert created["sha256"] == hashlib.sha256(data).hexdigest()
        done = await wait_processed(client, tenant, assistant["id"], created["id"])
        assert done["status"] == "ready", done
        assert done["chunk_count"] >= 1
        assert done["embedding_model"] == "all-MiniLM-L6-v2"
        assert (done["chunking_strategy"], done["chunk_size"], done["chunk_overlap"]) == (
            "recursive",
            1000,
            200,
        )
        found = await search(client, tenant, assistant["id"], query)
        assert found["results"], (filename, found)
        assert found["results"][0]["metadata"]["document_name"] == filename


async def test_json_text_and_listing(
    client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(client, tenant)
    first = await add_text(client, tenant, assistant["id"], "Plain words.", name="notes")
    second = await add_text(client, tenant, assistant["id"], FAQ, format="md")
    assert (first["source"], first["name"], first["format"]) == ("text", "notes", "txt")
    assert (second["name"], second["format"]) == ("text", "md")
    listed = await client.get(
        f"/api/v1/assistants/{assistant['id']}/documents", headers=tenant.headers
    )
    assert [d["id"] for d in listed.json()] == [second["id"], first["id"]]  # newest first
    paged = await client.get(
        f"/api/v1/assistants/{assistant['id']}/documents?skip=1&limit=1", headers=tenant.headers
    )
    assert [d["id"] for d in paged.json()] == [first["id"]]
    # By external id too.
    await client.patch(
        f"/api/v1/assistants/{assistant['id']}",
        json={"external_id": "kb-1"},
        headers=tenant.headers,
    )
    by_external = await client.get("/api/v1/assistants/kb-1/documents", headers=tenant.headers)
    assert len(by_external.json()) == 2


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "status", "code"),
    [
        ("photo.png", b"\x89PNG....", "image/png", 415, "unsupported_media_type"),
        ("empty.txt", b"", "text/plain", 422, "document_rejected"),
        ("fake.pdf", b"not a pdf at all", "application/pdf", 422, "document_rejected"),
        ("fake.docx", b"plain text", "", 422, "document_rejected"),
        ("binary.txt", b"\x00\x01\x02\x03", "text/plain", 422, "document_rejected"),
    ],
)
async def test_bad_uploads_are_refused_with_a_reason(
    client: httpx.AsyncClient,
    tenant: Tenant,
    embedder: HashingEmbeddings,
    filename: str,
    data: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    assistant = await create_assistant(client, tenant)
    response = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents",
        files={"file": (filename, data, content_type)},
        headers=tenant.headers,
    )
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert response.json()["error"]


async def test_other_request_shapes(
    client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(client, tenant)
    url = f"/api/v1/assistants/{assistant['id']}/documents"
    wrong_type = await client.post(
        url, content=b"hello", headers={**tenant.headers, "content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415
    no_file = await client.post(
        url, data={"name": "x"}, files={"other": ("a.txt", b"a")}, headers=tenant.headers
    )
    assert no_file.status_code == 422
    assert no_file.json()["details"][0]["field"] == "file"
    both = await client.post(
        url, json={"text": "a", "url": "https://example.com/a"}, headers=tenant.headers
    )
    assert both.status_code == 422
    neither = await client.post(url, json={}, headers=tenant.headers)
    assert neither.status_code == 422
    bad_json = await client.post(
        url, content=b"{nope", headers={**tenant.headers, "content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["code"] == "malformed_json"
    bad_format = await client.post(url, json={"text": "a", "format": "exe"}, headers=tenant.headers)
    assert bad_format.status_code == 422
    assert bad_format.json()["details"][0]["field"] == "format"


async def test_size_limit_is_a_413(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    context: KnowledgeContext = app.state.knowledge
    context.max_document_bytes = 1000
    assistant = await create_assistant(client, tenant)
    response = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents",
        files={"file": ("big.txt", b"a" * 1001, "text/plain")},
        headers=tenant.headers,
    )
    assert response.status_code == 413
    assert "limit is 1000" in response.json()["error"]
    # Above the general body limit but within the document limit: uploads get more room.
    context.max_document_bytes = 4 * 1024 * 1024
    big = ("word " * 300_000).encode()  # 1.5 MB > the 1 MiB default body limit
    created = await upload(client, tenant, assistant["id"], "big.txt", big, "text/plain")
    assert created["size_bytes"] == len(big)
    huge = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents",
        content=b"x" * (25 * 1024 * 1024),
        headers={**tenant.headers, "content-type": "application/octet-stream"},
    )
    assert huge.status_code == 413  # refused by the middleware, before the route


async def test_a_failed_parse_leaves_nothing_searchable(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(client, tenant, similarity_threshold=0.1)
    good = await upload(
        client,
        tenant,
        assistant["id"],
        "ok.pdf",
        make_pdf(["Kettles boil water."]),
        "application/pdf",
    )
    assert (await wait_processed(client, tenant, assistant["id"], good["id"]))["status"] == "ready"
    before = await chunk_count(app, assistant["id"])
    # A PDF header on a broken body passes the upload check and fails in the parser.
    broken = b"%PDF-1.4\n" + make_pdf(["Toasters toast bread."])[9:300]
    bad = await upload(client, tenant, assistant["id"], "broken.pdf", broken, "application/pdf")
    done = await wait_processed(client, tenant, assistant["id"], bad["id"])
    assert done["status"] == "failed"
    assert "PDF" in done["error"]
    assert done["chunk_count"] == 0
    assert await chunk_count(app, assistant["id"]) == before
    assert not (await search(client, tenant, assistant["id"], "toasters toast bread"))["results"]


async def test_a_failed_reprocess_removes_the_old_chunks(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(client, tenant, similarity_threshold=0.1)
    document = await add_text(client, tenant, assistant["id"], "Bicycles are repaired on Mondays.")
    await wait_processed(client, tenant, assistant["id"], document["id"])
    assert await chunk_count(app, assistant["id"]) == 1

    class Broken(HashingEmbeddings):
        async def embed(self, texts: Any) -> list[list[float]]:
            raise ValueError("boom")

    from tests.knowledge.conftest import install_embedder

    install_embedder(app, Broken())
    response = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents/{document['id']}/process",
        headers=tenant.headers,
    )
    assert response.status_code == 202
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert done["status"] == "failed"
    assert done["error"] == "internal error while processing: ValueError"
    assert await chunk_count(app, assistant["id"]) == 0


async def test_delete_and_tenant_isolation(
    app: FastAPI,
    client: httpx.AsyncClient,
    tenant: Tenant,
    other_tenant: Tenant,
    embedder: HashingEmbeddings,
) -> None:
    assistant = await create_assistant(client, tenant, similarity_threshold=0.1)
    document = await add_text(client, tenant, assistant["id"], "Umbrellas are in aisle four.")
    await wait_processed(client, tenant, assistant["id"], document["id"])
    base = f"/api/v1/assistants/{assistant['id']}"
    for method, path in [
        ("GET", f"{base}/documents"),
        ("GET", f"{base}/documents/{document['id']}"),
        ("DELETE", f"{base}/documents/{document['id']}"),
        ("POST", f"{base}/documents/{document['id']}/process"),
    ]:
        response = await client.request(method, path, headers=other_tenant.headers)
        assert response.status_code == 404, (method, path)
    foreign = await client.post(
        f"{base}/knowledge/search", json={"query": "umbrellas"}, headers=other_tenant.headers
    )
    assert foreign.status_code == 404
    upload_foreign = await client.post(
        f"{base}/documents", json={"text": "x"}, headers=other_tenant.headers
    )
    assert upload_foreign.status_code == 404
    # The other tenant's own assistant cannot reach this document by id either.
    theirs = await create_assistant(client, other_tenant)
    cross = await client.get(
        f"/api/v1/assistants/{theirs['id']}/documents/{document['id']}",
        headers=other_tenant.headers,
    )
    assert cross.status_code == 404

    assert (await search(client, tenant, assistant["id"], "umbrellas aisle"))["results"]
    deleted = await client.delete(f"{base}/documents/{document['id']}", headers=tenant.headers)
    assert deleted.status_code == 204
    assert (
        await client.get(f"{base}/documents/{document['id']}", headers=tenant.headers)
    ).status_code == 404
    assert await chunk_count(app, assistant["id"]) == 0
    assert not (await search(client, tenant, assistant["id"], "umbrellas aisle"))["results"]


async def test_unknown_assistant_and_malformed_ids(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assert (
        await client.get("/api/v1/assistants/999/documents", headers=tenant.headers)
    ).status_code == 404
    assert (
        await client.get("/api/v1/assistants/-x-/documents", headers=tenant.headers)
    ).status_code == 400
    assistant = await create_assistant(client, tenant)
    missing = await client.get(
        f"/api/v1/assistants/{assistant['id']}/documents/5", headers=tenant.headers
    )
    assert missing.status_code == 404
    assert (await client.get("/api/v1/assistants/1/documents")).status_code == 401


async def test_url_documents_are_fetched_in_the_background(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    served: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        served.append(str(request.url))
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": "/docs/guide.html"})
        return httpx.Response(
            200,
            content=b"<h1>Guide</h1><p>Lockers are on the second floor.</p>",
            headers={"content-type": "text/html; charset=utf-8"},
        )

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    context: KnowledgeContext = app.state.knowledge
    context.http_transport = httpx.MockTransport(handler)
    context.outbound = OutboundPolicy(resolver=public)
    assistant = await create_assistant(client, tenant, similarity_threshold=0.1)
    created = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents",
        json={"url": "https://docs.example.com/old"},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["source"], body["name"], body["url"], body["format"]) == (
        "url",
        "old",
        "https://docs.example.com/old",
        None,
    )
    done = await wait_processed(client, tenant, assistant["id"], body["id"])
    assert done["status"] == "ready", done
    assert done["format"] == "html"
    assert served == ["https://docs.example.com/old", "https://docs.example.com/docs/guide.html"]
    assert (await search(client, tenant, assistant["id"], "lockers second floor"))["results"]


async def test_url_to_a_private_address_fails_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("must not be fetched")

    async def inside(host: str, port: int) -> list[str]:
        return ["10.0.0.7"]

    context: KnowledgeContext = app.state.knowledge
    context.http_transport = httpx.MockTransport(handler)
    context.outbound = OutboundPolicy(resolver=inside)
    assistant = await create_assistant(client, tenant)
    # A literal inside address is refused when the document is added...
    refused = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents",
        json={"url": "https://169.254.169.254/latest/meta-data/"},
        headers=tenant.headers,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["details"][0]["field"] == "url"
    # ... a name that resolves inside, when it is fetched.
    created = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents",
        json={"url": "https://wiki.example.com/admin"},
        headers=tenant.headers,
    )
    done = await wait_processed(client, tenant, assistant["id"], created.json()["id"])
    assert done["status"] == "failed"
    assert "resolves to a private address (10.0.0.7)" in done["error"]
