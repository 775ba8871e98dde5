"""Every rag_settings field does what its name says: one test (at least) each."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.embedders import (
    OFFLINE_MODEL,
    EmbedderChoice,
    EmbedderRegistry,
    OpenAIKey,
    openai_key_for,
)
from callwright.domain.knowledge.retrieval import FRAMING_TOKENS, knowledge_retriever_for
from callwright.domain.knowledge.tokens import count_tokens
from callwright.engine.events import Passage
from callwright.engine.replies import Retriever
from callwright.settings import Settings
from callwright.store.models import KnowledgeChunk
from tests.conftest import Tenant
from tests.knowledge.conftest import (
    HashingEmbeddings,
    add_text,
    create_assistant,
    search,
    wait_processed,
)

TOPICS = [
    "Kettles: the kettle boils water in ninety seconds and switches off by itself.",
    "Toasters: the toaster has two slots and a defrost button for frozen bread.",
    "Blenders: the blender crushes ice and makes smoothies in one minute.",
    "Kettles again: descale the kettle every month with vinegar and water.",
    "Ovens: the oven heats to two hundred degrees and has a grill setting.",
]
LONG_TEXT = "\n\n".join(
    f"Paragraph {i}. " + " ".join(f"kettle fact number {i}-{j} is noted." for j in range(12))
    for i in range(6)
)


async def patch_rag(
    client: httpx.AsyncClient, tenant: Tenant, assistant_id: int, **rag: Any
) -> None:
    response = await client.patch(
        f"/api/v1/assistants/{assistant_id}", json={"rag_settings": rag}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text


async def documents(
    client: httpx.AsyncClient, tenant: Tenant, assistant_id: int
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/assistants/{assistant_id}/documents", headers=tenant.headers
    )
    assert response.status_code == 200
    listed: list[dict[str, Any]] = response.json()
    return listed


async def chunks_of(app: FastAPI, document_id: int) -> list[KnowledgeChunk]:
    async with app.state.callwright.session_factory() as session:
        query = select(KnowledgeChunk).where(KnowledgeChunk.document_id == document_id)
        return list((await session.execute(query.order_by(KnowledgeChunk.ordinal))).scalars())


async def with_topics(client: httpx.AsyncClient, tenant: Tenant, **rag: Any) -> dict[str, Any]:
    assistant = await create_assistant(client, tenant, **rag)
    for text in TOPICS:
        document = await add_text(client, tenant, assistant["id"], text, name=text.split(":")[0])
        await wait_processed(client, tenant, assistant["id"], document["id"])
    return assistant


async def retriever(app: FastAPI, assistant_id: int) -> Retriever | None:
    context: KnowledgeContext = app.state.knowledge
    async with context.session_factory() as session:
        assistant = await load_assistant_for_call(session, context.box, assistant_id)
    return await knowledge_retriever_for(context, assistant)


# -- enabled ------------------------------------------------------------------------------


async def test_enabled_gives_calls_a_retriever(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await with_topics(client, tenant, similarity_threshold=0.2)
    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    assert (await retrieve("how long does the kettle take to boil water"))[0].text.endswith(
        TOPICS[0]
    )
    await patch_rag(client, tenant, assistant["id"], enabled=False)
    assert await retriever(app, assistant["id"]) is None


# -- search_limit ----------------------------------------------------------------------


async def test_search_limit_caps_results_and_passages(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await with_topics(client, tenant, similarity_threshold=0.0, search_limit=2)
    found = await search(client, tenant, assistant["id"], "the kettle water")
    assert len(found["results"]) == 2
    assert {r["text"] for r in found["results"]} == {TOPICS[0], TOPICS[3]}
    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    assert len(await retrieve("the kettle water")) == 2
    await patch_rag(client, tenant, assistant["id"], search_limit=4)
    assert len((await search(client, tenant, assistant["id"], "the kettle water"))["results"]) == 4
    # A request may ask for its own limit.
    one = await search(client, tenant, assistant["id"], "the kettle water", search_limit=1)
    assert len(one["results"]) == 1


# -- similarity_threshold ----------------------------------------------------------------


async def test_similarity_threshold_drops_weak_matches(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await with_topics(client, tenant, similarity_threshold=0.0, search_limit=5)
    everything = (await search(client, tenant, assistant["id"], "kettle boils water"))["results"]
    assert len(everything) == 5
    scores = [r["score"] for r in everything]
    assert scores == sorted(scores, reverse=True)
    cut = (scores[1] + scores[2]) / 2
    await patch_rag(client, tenant, assistant["id"], similarity_threshold=cut)
    kept = (await search(client, tenant, assistant["id"], "kettle boils water"))["results"]
    assert [r["score"] for r in kept] == scores[:2]
    assert all(r["score"] >= cut for r in kept)
    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    assert [p.score for p in await retrieve("kettle boils water")] == scores[:2]
    none = await search(
        client, tenant, assistant["id"], "kettle boils water", similarity_threshold=1.0
    )
    assert none["results"] == []


# -- embedding_model -----------------------------------------------------------------------


class FakeOpenAI(HashingEmbeddings):
    """Stands in for OpenAI: another model name and another vector size."""

    def __init__(self, model: str) -> None:
        super().__init__(model=model, dimensions=64)


async def test_embedding_model_selects_the_embedder_and_a_change_re_embeds(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    offline = HashingEmbeddings()
    made: list[tuple[OpenAIKey, str]] = []

    def openai(key: OpenAIKey, model: str) -> FakeOpenAI:
        made.append((key, model))
        return FakeOpenAI(model)

    context: KnowledgeContext = app.state.knowledge
    context.embedders = EmbedderRegistry(offline=lambda: offline, openai=openai)
    context.settings = None  # no server key, whatever the environment holds
    assistant = await create_assistant(
        client, tenant, embedding_model="all-MiniLM-L6-v2", similarity_threshold=0.1
    )
    document = await add_text(client, tenant, assistant["id"], TOPICS[0])
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert done["embedding_model"] == OFFLINE_MODEL
    assert {len(c.embedding) for c in await chunks_of(app, document["id"])} == {256 * 4}

    # The seed's default model without any OpenAI key: still served offline, so
    # nothing needs re-embedding.
    await patch_rag(client, tenant, assistant["id"], embedding_model="text-embedding-3-small")
    assert (await documents(client, tenant, assistant["id"]))[0]["status"] == "ready"
    assert made == []

    # The assistant's own OpenAI key makes OpenAI serve it: the document is re-embedded.
    response = await client.patch(
        f"/api/v1/assistants/{assistant['id']}",
        json={"llm_provider": "openai", "llm_provider_config": {"api_key": "sk-test-0123456789"}},
        headers=tenant.headers,
    )
    assert response.status_code == 200
    (listed,) = await documents(client, tenant, assistant["id"])
    assert listed["status"] in ("pending", "processing", "ready")
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    if done["embedding_model"] != "text-embedding-3-small":  # listed before the re-run
        done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert done["embedding_model"] == "text-embedding-3-small"
    assert made == [(OpenAIKey("sk-test-0123456789", None), "text-embedding-3-small")]
    chunks = await chunks_of(app, document["id"])
    assert {(c.embedding_model, len(c.embedding)) for c in chunks} == {
        ("text-embedding-3-small", 64 * 4)
    }
    found = await search(client, tenant, assistant["id"], "kettle boils water")
    assert found["embedding_model"] == "text-embedding-3-small"
    assert found["results"][0]["text"] == TOPICS[0]

    # -3-large is another model: re-embedded again, never searched with -3-small vectors.
    await patch_rag(client, tenant, assistant["id"], embedding_model="text-embedding-3-large")
    await documents(client, tenant, assistant["id"])
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert done["embedding_model"] == "text-embedding-3-large"
    found = await search(client, tenant, assistant["id"], "kettle boils water")
    assert found["embedding_model"] == "text-embedding-3-large"
    assert {c.embedding_model for c in await chunks_of(app, document["id"])} == {
        "text-embedding-3-large"
    }


async def test_vectors_of_another_model_are_never_searched(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await with_topics(client, tenant, similarity_threshold=0.0)
    # Chunks of another model (say, left by an old setting) are in the same table...
    async with app.state.callwright.session_factory() as session:
        (chunk,) = (await session.execute(select(KnowledgeChunk).limit(1))).scalars()
        session.add(
            KnowledgeChunk(
                document_id=chunk.document_id,
                assistant_id=chunk.assistant_id,
                ordinal=99,
                text="a stray vector of another model",
                meta={},
                token_count=5,
                embedding_model="text-embedding-3-small",
                embedding=b"\x00\x00\x80\x3f" * 256,
            )
        )
        await session.commit()
    found = await search(
        client, tenant, assistant["id"], "a stray vector of another model", search_limit=50
    )
    # ...and are never compared with this model's query.
    assert all(r["text"] != "a stray vector of another model" for r in found["results"])
    assert len(found["results"]) == len(TOPICS)


def test_the_real_registry_builds_the_openai_adapter_by_name() -> None:
    registry = EmbedderRegistry()
    key = OpenAIKey("sk-test-0123456789", "https://proxy.example.com/v1")
    choice = registry.choose("text-embedding-3-large", key)
    assert choice == EmbedderChoice("text-embedding-3-large", "text-embedding-3-large", "requested")
    embedder = registry.embedder(choice, key)
    assert type(embedder).__name__ == "OpenAIEmbeddings"
    assert embedder.model == "text-embedding-3-large"
    assert registry.embedder(choice, key) is embedder  # one per key and model


def test_openai_models_fall_back_to_the_offline_model_without_a_key() -> None:
    registry = EmbedderRegistry()
    assert registry.choose("text-embedding-3-small", None) == EmbedderChoice(
        "text-embedding-3-small", OFFLINE_MODEL, "offline default: no OpenAI API key is configured"
    )
    assert registry.choose("all-MiniLM-L6-v2", OpenAIKey("sk-x")).model == OFFLINE_MODEL


async def test_the_openai_key_is_the_assistants_then_the_organizations_then_the_servers(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    context: KnowledgeContext = app.state.knowledge

    async def key_for(assistant_id: int, server: Settings | None) -> OpenAIKey | None:
        async with context.session_factory() as session:
            stored = await load_assistant_for_call(session, context.box, assistant_id)
            return await openai_key_for(
                session,
                context.box,
                tenant.organization_id,
                stored.settings.model_dump(mode="json"),
                server,
            )

    own = await create_assistant(client, tenant)
    await client.patch(
        f"/api/v1/assistants/{own['id']}",
        json={"llm_provider_config": {"api_key": "sk-own-0123456789"}},
        headers=tenant.headers,
    )
    other = await create_assistant(client, tenant)
    await client.patch(
        f"/api/v1/assistants/{other['id']}",
        json={"llm_provider": "anthropic", "llm_provider_config": {"api_key": "sk-ant-0123"}},
        headers=tenant.headers,
    )
    server = settings.model_copy(
        update={"openai_api_key": "sk-server-0123456789", "openai_base_url": None}
    )
    bare = settings.model_copy(update={"openai_api_key": None, "openai_base_url": None})
    assert await key_for(own["id"], bare) == OpenAIKey("sk-own-0123456789")
    assert await key_for(other["id"], bare) is None  # an anthropic key is no OpenAI key
    assert await key_for(other["id"], server) == OpenAIKey("sk-server-0123456789")
    stored = await client.post(
        "/api/v1/credentials",
        json={
            "provider": "openai",
            "api_key": "sk-org-0123456789",
            "base_url": "https://proxy.example.com/v1",
        },
        headers=tenant.headers,
    )
    assert stored.status_code == 201, stored.text
    assert await key_for(other["id"], server) == OpenAIKey(
        "sk-org-0123456789", "https://proxy.example.com/v1"
    )
    # A key goes only to the endpoint stored beside it (decision 013): the assistant's
    # own key, with no endpoint of its own, goes to OpenAI, not the organization's proxy.
    assert await key_for(own["id"], server) == OpenAIKey("sk-own-0123456789")


# -- chunking_strategy, chunk_size, chunk_overlap ---------------------------------------------

MARKDOWN = (
    "# Kettles\n\nThe kettle boils water fast. It switches off by itself.\n\n"
    "# Toasters\n\nThe toaster has two slots. It has a defrost button."
)


async def test_chunking_strategy_decides_the_cuts_and_a_change_re_chunks(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(
        client, tenant, chunking_strategy="recursive", chunk_size=200, chunk_overlap=0
    )
    document = await add_text(client, tenant, assistant["id"], MARKDOWN, format="md")
    await wait_processed(client, tenant, assistant["id"], document["id"])
    (whole,) = await chunks_of(app, document["id"])  # fits in one recursive chunk
    assert "heading" not in whole.meta

    await patch_rag(client, tenant, assistant["id"], chunking_strategy="markdown")
    assert (await documents(client, tenant, assistant["id"]))[0]["status"] in (
        "pending",
        "processing",
    )
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert done["chunking_strategy"] == "markdown"
    sections = await chunks_of(app, document["id"])
    assert [c.meta["heading"] for c in sections] == ["Kettles", "Toasters"]
    # The heading path is embedded with the chunk.
    assert any(text.startswith("Toasters\n# Toasters") for call in embedder.calls for text in call)

    await patch_rag(client, tenant, assistant["id"], chunking_strategy="fixed", chunk_size=50)
    await documents(client, tenant, assistant["id"])
    await wait_processed(client, tenant, assistant["id"], document["id"])
    fixed = await chunks_of(app, document["id"])
    assert [c.meta["start"] for c in fixed] == list(range(0, len(MARKDOWN), 50))[: len(fixed)]

    await patch_rag(client, tenant, assistant["id"], chunking_strategy="sentence", chunk_size=60)
    await documents(client, tenant, assistant["id"])
    await wait_processed(client, tenant, assistant["id"], document["id"])
    sentences = await chunks_of(app, document["id"])
    # Whole sentences (a heading line counts as one), packed up to 60 characters.
    assert [c.text for c in sentences] == [
        "# Kettles\n\nThe kettle boils water fast.",
        "It switches off by itself.\n\n# Toasters",
        "The toaster has two slots. It has a defrost button.",
    ]


async def test_chunk_size_bounds_every_chunk(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    counts = []
    for size in (400, 150):
        assistant = await create_assistant(client, tenant, chunk_size=size, chunk_overlap=0)
        document = await add_text(client, tenant, assistant["id"], LONG_TEXT)
        done = await wait_processed(client, tenant, assistant["id"], document["id"])
        assert done["chunk_size"] == size
        chunks = await chunks_of(app, document["id"])
        assert all(len(c.text) <= size for c in chunks)
        assert max(len(c.text) for c in chunks) > size * 0.6  # chunks are filled, not tiny
        counts.append(len(chunks))
    assert counts[1] > counts[0] * 2


async def test_chunk_overlap_repeats_text_between_neighbours(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    shared = []
    for overlap in (0, 80):
        assistant = await create_assistant(
            client, tenant, chunking_strategy="fixed", chunk_size=200, chunk_overlap=overlap
        )
        document = await add_text(client, tenant, assistant["id"], LONG_TEXT)
        await wait_processed(client, tenant, assistant["id"], document["id"])
        chunks = await chunks_of(app, document["id"])
        shared.append(
            [
                first.meta["end"] - second.meta["start"]
                for first, second in itertools.pairwise(chunks)
            ]
        )
    assert all(overlap <= 0 for overlap in shared[0])
    # 80 characters, less any blank trimmed at a window's edge.
    assert all(76 <= overlap <= 80 for overlap in shared[1])


# -- auto_process ---------------------------------------------------------------------


async def test_auto_process_off_waits_for_an_explicit_process(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(client, tenant, auto_process=False, similarity_threshold=0.1)
    document = await add_text(client, tenant, assistant["id"], TOPICS[1])
    # Give a background worker every chance to (wrongly) pick it up.
    context: KnowledgeContext = app.state.knowledge
    from callwright.domain.knowledge.processing import DocumentProcessor

    assert await DocumentProcessor(context).sweep() == []
    (listed,) = await documents(client, tenant, assistant["id"])
    assert (listed["status"], listed["chunk_count"]) == ("pending", 0)
    assert embedder.calls == []
    assert (await search(client, tenant, assistant["id"], "toaster slots"))["results"] == []

    response = await client.post(
        f"/api/v1/assistants/{assistant['id']}/documents/{document['id']}/process",
        headers=tenant.headers,
    )
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert done["status"] == "ready"
    assert (await search(client, tenant, assistant["id"], "toaster slots"))["results"]

    # Settings changes do not re-process by themselves either.
    await patch_rag(client, tenant, assistant["id"], chunk_size=300)
    (listed,) = await documents(client, tenant, assistant["id"])
    assert listed["status"] == "pending"
    assert await DocumentProcessor(context).sweep() == []
    # Switching auto_process on queues what waits.
    await patch_rag(client, tenant, assistant["id"], auto_process=True)
    await documents(client, tenant, assistant["id"])
    done = await wait_processed(client, tenant, assistant["id"], document["id"])
    assert done["chunk_size"] == 300


# -- include_metadata ---------------------------------------------------------------------


async def test_include_metadata_in_search_results_and_passages(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(
        client, tenant, chunking_strategy="markdown", similarity_threshold=0.1
    )
    document = await add_text(
        client, tenant, assistant["id"], MARKDOWN, format="md", name="kitchen.md"
    )
    await wait_processed(client, tenant, assistant["id"], document["id"])
    (hit, *_) = (await search(client, tenant, assistant["id"], "toaster defrost button"))["results"]
    assert hit["metadata"] == {
        "document_id": document["id"],
        "document_name": "kitchen.md",
        "chunk_index": 1,
        "start": MARKDOWN.index("# Toasters"),
        "end": len(MARKDOWN),
        "heading": "Toasters",
    }
    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    (passage, *_) = await retrieve("toaster defrost button")
    assert passage.text.startswith("[Source: kitchen.md › Toasters]\n# Toasters")

    await patch_rag(client, tenant, assistant["id"], include_metadata=False)
    (hit, *_) = (await search(client, tenant, assistant["id"], "toaster defrost button"))["results"]
    assert hit["metadata"] is None
    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    (passage, *_) = await retrieve("toaster defrost button")
    assert passage.text.startswith("# Toasters")
    assert passage.source == "kitchen.md › Toasters"  # still known to the call record


# -- context_window_tokens -----------------------------------------------------------------


def total(passages: list[Passage] | Any) -> int:
    return sum(count_tokens([p.text])[0] for p in passages)


async def test_context_window_tokens_bounds_what_a_turn_gets(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, embedder: HashingEmbeddings
) -> None:
    assistant = await create_assistant(
        client, tenant, similarity_threshold=0.0, search_limit=8, chunk_size=300, chunk_overlap=0
    )
    document = await add_text(client, tenant, assistant["id"], LONG_TEXT)
    await wait_processed(client, tenant, assistant["id"], document["id"])
    query = "kettle fact noted"

    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    roomy = await retrieve(query)
    assert len(roomy) == 8
    assert [p.score for p in roomy] == sorted((p.score for p in roomy), reverse=True)

    # Room for three of the best passages and a shorter one, not for the fourth best.
    budget = 350
    await patch_rag(client, tenant, assistant["id"], context_window_tokens=budget)
    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    tight = await retrieve(query)
    assert 1 <= len(tight) < len(roomy)
    assert total(tight) <= budget - FRAMING_TOKENS
    assert sum(p.tokens for p in tight) <= budget - FRAMING_TOKENS
    # Best first, every passage that still fits what is left of the budget: one too
    # long is passed over, not cut, and a shorter one after it still goes in.
    left, fitting = budget - FRAMING_TOKENS, []
    for passage in roomy:
        if passage.tokens <= left:
            fitting.append(passage.chunk_id)
            left -= passage.tokens
    assert fitting != [p.chunk_id for p in roomy][: len(fitting)]  # one was passed over
    assert [p.chunk_id for p in tight] == fitting

    # A budget smaller than the best passage gives the part of it that fits.
    await patch_rag(client, tenant, assistant["id"], context_window_tokens=100)
    retrieve = await retriever(app, assistant["id"])
    assert retrieve is not None
    (cut,) = await retrieve(query)
    assert cut.chunk_id == roomy[0].chunk_id
    assert total([cut]) <= 100 - FRAMING_TOKENS
    body = cut.text.split("\n", 1)[1]
    assert roomy[0].text.split("\n", 1)[1].startswith(body)
