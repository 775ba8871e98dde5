"""The processor: one claimant per document across processes, recovery from a dead
worker, retries of transient provider failures, and re-processing that wins over a run
in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.processing import MAX_ATTEMPTS, DocumentProcessor
from callwright.providers.errors import ProviderUnavailable
from callwright.store.base import utcnow
from callwright.store.models import KnowledgeDocument
from tests.conftest import Tenant
from tests.knowledge.conftest import (
    HashingEmbeddings,
    add_text,
    create_assistant,
    install_embedder,
    wait_processed,
)


async def queue_directly(app: FastAPI, document_id: int, **values: object) -> None:
    """Queue a document the way another server process would: in the database only."""
    async with app.state.callwright.session_factory() as session, session.begin():
        await session.execute(
            update(KnowledgeDocument)
            .where(KnowledgeDocument.id == document_id)
            .values(queued_at=utcnow(), **values)
        )


async def waiting_document(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> tuple[int, int]:
    assistant = await create_assistant(client, tenant, auto_process=False)
    document = await add_text(client, tenant, assistant["id"], "Scooters are charged overnight.")
    return assistant["id"], document["id"]


class SlowEmbeddings(HashingEmbeddings):
    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.started.set()
        await self.release.wait()
        return await super().embed(texts)


async def test_two_processors_never_process_one_document_twice(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    embedder = install_embedder(app, SlowEmbeddings())
    assert isinstance(embedder, SlowEmbeddings)
    assistant_id, document_id = await waiting_document(app, client, tenant)
    await queue_directly(app, document_id)
    context: KnowledgeContext = app.state.knowledge
    first, second = DocumentProcessor(context), DocumentProcessor(context)
    running = asyncio.ensure_future(first.process(document_id))
    await embedder.started.wait()
    assert (await second.process(document_id)).status == "skipped"
    embedder.release.set()
    assert (await running).status == "ready"
    assert len(embedder.calls) == 1
    done = await wait_processed(client, tenant, assistant_id, document_id)
    assert (done["status"], done["attempts"]) == ("ready", 1)


async def test_a_document_left_processing_by_a_dead_worker_is_taken_again(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant_id, document_id = await waiting_document(app, client, tenant)
    # A worker claimed it and died: the lease is still running...
    await queue_directly(
        app,
        document_id,
        status="processing",
        claim_token="dead",
        lease_until=utcnow() + timedelta(minutes=5),
    )
    processor = DocumentProcessor(app.state.knowledge)
    assert document_id not in await processor.sweep()
    assert (await processor.process(document_id)).status == "skipped"
    # ...until it expires.
    await queue_directly(app, document_id, lease_until=utcnow() - timedelta(seconds=1))
    assert document_id in await processor.sweep()
    assert [o.status for o in await processor.process_due()] == ["ready"]
    done = await wait_processed(client, tenant, assistant_id, document_id)
    assert done["status"] == "ready"


async def test_transient_provider_failures_are_retried_then_given_up(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    class Down(HashingEmbeddings):
        async def embed(self, texts: Sequence[str]) -> list[list[float]]:
            raise ProviderUnavailable("openai", "HTTP 503")

    install_embedder(app, Down())
    assistant_id, document_id = await waiting_document(app, client, tenant)
    await queue_directly(app, document_id)
    processor = DocumentProcessor(app.state.knowledge)
    outcome = await processor.process(document_id)
    assert outcome.status == "pending"
    url = f"/api/v1/assistants/{assistant_id}/documents/{document_id}"
    body = (await client.get(url, headers=tenant.headers)).json()
    assert body["status"] == "pending"
    assert body["error"] == "will retry: openai: HTTP 503"
    # Backing off: not due yet.
    assert document_id not in await processor.sweep()
    for attempt in range(2, MAX_ATTEMPTS + 1):
        await queue_directly(app, document_id, lease_until=utcnow() - timedelta(seconds=1))
        outcome = await processor.process(document_id)
        assert outcome.status == ("failed" if attempt == MAX_ATTEMPTS else "pending")
    body = (await client.get(url, headers=tenant.headers)).json()
    assert body["status"] == "failed"
    assert body["error"] == f"gave up after {MAX_ATTEMPTS} attempts: openai: HTTP 503"
    assert await processor.sweep() == []


async def test_reprocessing_discards_a_run_in_flight(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    embedder = install_embedder(app, SlowEmbeddings())
    assert isinstance(embedder, SlowEmbeddings)
    assistant_id, document_id = await waiting_document(app, client, tenant)
    await queue_directly(app, document_id)
    stale = asyncio.ensure_future(DocumentProcessor(app.state.knowledge).process(document_id))
    await embedder.started.wait()
    response = await client.post(
        f"/api/v1/assistants/{assistant_id}/documents/{document_id}/process", headers=tenant.headers
    )
    assert response.status_code == 202
    embedder.release.set()
    assert (await stale).status == "skipped"  # its claim was taken away
    done = await wait_processed(client, tenant, assistant_id, document_id)
    assert done["status"] == "ready"
    assert done["attempts"] == 1  # the re-processing run, counted from zero


async def test_a_reprocess_asked_during_processing_runs_right_after(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    embedder = install_embedder(app, SlowEmbeddings())
    assert isinstance(embedder, SlowEmbeddings)
    assistant = await create_assistant(client, tenant)
    document = await add_text(client, tenant, assistant["id"], "Helmets are on the left wall.")
    await embedder.started.wait()  # the app's worker is embedding it
    response = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents/{document['id']}/process",
        headers=tenant.headers,
    )
    assert response.status_code == 202
    embedder.release.set()
    # Well before the 30 s sweep: the worker queued it again when it was asked.
    done = await wait_processed(client, tenant, assistant["id"], document["id"], timeout_s=10)
    assert done["status"] == "ready"
    assert len(embedder.calls) == 2  # the first run lost its claim; the second one counts
