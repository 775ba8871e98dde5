"""Through the API, on both stores: a document that would exhaust the server is parsed
in a worker process and fails with the limit named, while the server keeps its memory
and keeps answering."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import psutil
import pytest
from fastapi import FastAPI

from callwright.api.app import create_app
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.processing import DocumentProcessor
from callwright.settings import Settings
from tests.conftest import Tenant, make_tenant
from tests.knowledge.conftest import (
    Gate,
    HashingEmbeddings,
    add_text,
    create_assistant,
    docx_bomb,
    gated_parser,
    install_embedder,
    upload,
    wait_processed,
    worker_processes,
)
from tests.knowledge.test_processing import queue_directly

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BOMB_REFUSED = (
    "'bomb.docx' is compressed more than 100 to 1 (word/document.xml); "
    "the compression ratio limit is 100"
)


async def test_a_docx_bomb_fails_with_the_limit_named_and_the_server_stays_small(
    client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(client, tenant)
    # Whatever a first document loads for good (tokenizer, index) is not the bomb's.
    warm = await add_text(client, tenant, assistant["id"], "Kettles are in aisle four.")
    assert (await wait_processed(client, tenant, assistant["id"], warm["id"]))["status"] == "ready"
    bomb = docx_bomb(100)
    serving = psutil.Process()
    before = serving.memory_info().rss
    document = await upload(client, tenant, assistant["id"], "bomb.docx", bomb, DOCX)
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    grown = serving.memory_info().rss - before
    assert (done["status"], done["error"], done["chunk_count"]) == ("failed", BOMB_REFUSED, 0)
    # 100 MB of XML parsed in this process took it from 0.6 to 2.5 GB.
    assert grown < 32 * 1024 * 1024
    assert worker_processes() == []


async def test_health_answers_while_a_document_is_being_parsed(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    gate = Gate()
    context: KnowledgeContext = app.state.knowledge
    context.parser = gated_parser(gate)
    assistant = await create_assistant(client, tenant)
    document = await upload(client, tenant, assistant["id"], "bomb.docx", docx_bomb(100), DOCX)
    await gate.started.wait()  # a worker holds half the document
    (worker,) = worker_processes()
    health = await client.get("/healthz")
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    url = f"/api/v1/assistants/{assistant['id']}/documents/{document['id']}"
    assert (await client.get(url, headers=tenant.headers)).json()["status"] == "processing"
    assert worker.is_running()
    gate.release.set()
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert (done["status"], done["error"]) == ("failed", BOMB_REFUSED)


@pytest.fixture
async def small_parser_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app whose parser workers may use 128 MB."""
    application = create_app(settings.model_copy(update={"knowledge_parser_memory_mb": 128}))
    async with application.router.lifespan_context(application):
        install_embedder(application)
        yield application


async def test_knowledge_parser_memory_mb(small_parser_app: FastAPI) -> None:
    tenant = await make_tenant(small_parser_app)
    transport = httpx.ASGITransport(app=small_parser_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assistant = await create_assistant(client, tenant)
        # Three million empty objects: 9 MB of JSON, hundreds of MB once loaded.
        objects = b"[" + b"{}," * 3_000_000 + b"{}]"
        document = await upload(
            client, tenant, assistant["id"], "objects.json", objects, "application/json"
        )
        done = await wait_processed(client, tenant, assistant["id"], document["id"])
        assert (done["status"], done["error"]) == (
            "failed",
            "'objects.json' exceeds the parser's memory limit of 128 MB",
        )
        # The server is none the worse: the next document is processed.
        fine = await add_text(client, tenant, assistant["id"], "Scooters charge overnight.")
        assert (await wait_processed(client, tenant, assistant["id"], fine["id"]))["status"] == (
            "ready"
        )


async def test_a_parser_that_cannot_start_leaves_the_document_for_a_retry(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    context: KnowledgeContext = app.state.knowledge
    context.parser = dataclasses.replace(context.parser, command=("/nonexistent/python",))
    assistant = await create_assistant(client, tenant, auto_process=False)
    document = await add_text(client, tenant, assistant["id"], "Helmets hang by the door.")
    await queue_directly(app, document["id"])
    outcome = await DocumentProcessor(context).process(document["id"])
    assert outcome.status == "pending"
    url = f"/api/v1/assistants/{assistant['id']}/documents/{document['id']}"
    body = (await client.get(url, headers=tenant.headers)).json()
    assert body["status"] == "pending"
    assert body["error"].startswith("will retry: cannot start the document parser")
