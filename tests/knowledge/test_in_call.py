"""In-call retrieval (issue 7's "done when"): a PDF and a Markdown file are uploaded
through the API and processed with the real offline MiniLM; in a call on the engine
harness, a question only the PDF answers puts the PDF's passage into the LLM request,
and the call's events (what the call record is built from) list it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from callwright.domain.assistants.service import load_assistant_for_call
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.embedders import EmbedderRegistry
from callwright.domain.knowledge.retrieval import knowledge_record, knowledge_retriever_for
from callwright.engine.events import KnowledgeUsed, Passage
from callwright.engine.replies import KNOWLEDGE_PREAMBLE, Retriever
from callwright.providers.fakes import speech
from callwright.runtime.simulate import knowledge_retriever
from callwright.settings import Settings
from callwright.store.base import utcnow
from callwright.store.models import KnowledgeDocument
from callwright.transports.loopback import LoopbackTransport
from tests.conftest import Tenant
from tests.engine.harness import Call, make_call, run_call
from tests.knowledge.conftest import create_assistant, make_pdf, upload, wait_processed

MANUAL_PAGES = [
    "Aurora Espresso Machine - User Manual. Thank you for buying the Aurora. "
    "Read the safety instructions before first use. Keep the machine away from water.",
    "Warranty. The Aurora comes with a 36-month warranty. To make a warranty claim you "
    "need the serial number, which is printed on a sticker under the drip tray.",
    "Descaling. Descale the machine every two months with the supplied descaling liquid. "
    "Run the descaling program from the settings menu.",
]
STORE_MD = """# Store information

## Opening hours

The store is open from nine to six on weekdays and from ten to two on Saturdays.

## Parking

Free parking is available behind the building. The car park closes at eight.

## Payment

We accept cards, cash and mobile payments.
"""
QUESTION = "Where do I find the serial number for a warranty claim?"


def ask_then_hang_up(call_ref: list[Call]) -> Callable[[LoopbackTransport], Any]:
    async def caller(transport: LoopbackTransport) -> None:
        await transport.silence(0.3)
        await transport.say(speech(1.2))
        # Retrieval runs on real time (database, ONNX) while the virtual clock waits.
        while not any(m.role == "user" for r in call_ref[0].llm.requests for m in r.messages):
            await transport.silence(0.1)
        await transport.silence(3)
        await transport.hang_up_caller()

    return caller


async def retriever_for(app: FastAPI, assistant_id: int) -> Retriever | None:
    context: KnowledgeContext = app.state.knowledge
    async with context.session_factory() as session:
        assistant = await load_assistant_for_call(session, context.box, assistant_id)
    # The retrieval's own deadline (1.5 s of real time) is tested on its own; a loaded
    # machine must not turn these tests into tests of it.
    return await knowledge_retriever_for(context, assistant, timeout_s=60)


async def talk(retrieve: Retriever | None, **settings: Any) -> Call:
    call_ref: list[Call] = []
    settings.setdefault("first_message_mode", "assistant-waits-for-user")
    settings.setdefault("replies", ["It is on a sticker under the drip tray."])
    call = make_call(
        utterances=(QUESTION,),
        llm_settings={"system_prompt": "You are Aurora support."},
        retrieve=retrieve,
        **settings,
    )
    call_ref.append(call)
    return await run_call(call, ask_then_hang_up(call_ref))


async def test_a_question_only_the_pdf_answers_puts_its_passage_in_the_llm_request(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    # The real offline embedder; no OpenAI key, so the seed's default model name is
    # served by MiniLM (and says so).
    context: KnowledgeContext = app.state.knowledge
    context.embedders = EmbedderRegistry()
    context.settings = None  # whatever the environment holds
    assistant = await create_assistant(
        client, tenant, similarity_threshold=0.3, chunk_size=300, chunk_overlap=50
    )
    pdf = await upload(
        client,
        tenant,
        assistant["id"],
        "aurora-manual.pdf",
        make_pdf(MANUAL_PAGES),
        "application/pdf",
    )
    md = await upload(
        client, tenant, assistant["id"], "store.md", STORE_MD.encode(), "text/markdown"
    )
    for document in (pdf, md):
        done = await wait_processed(client, tenant, assistant["id"], document["id"])
        assert done["status"] == "ready", done
        assert done["embedding_model"] == "all-MiniLM-L6-v2"

    retrieve = await retriever_for(app, assistant["id"])
    assert retrieve is not None
    call = await talk(retrieve)

    # The LLM request for the turn: system prompt, the passages, then the question.
    request = call.llm.requests[0]
    roles = [message.role for message in request.messages]
    assert roles == ["system", "system", "user"]
    assert request.messages[2].content == QUESTION
    knowledge = request.messages[1].content or ""
    assert knowledge.startswith(KNOWLEDGE_PREAMBLE)
    first_passage = knowledge[len(KNOWLEDGE_PREAMBLE) :]
    # Page 2 holds the answer (the chunk may run on into page 3).
    assert re.match(r"\[Source: aurora-manual\.pdf, pages? 2(–3)?\]\n", first_passage)
    assert "printed on a sticker under the drip tray" in first_passage.split("\n\n")[0]

    # The call's events list what was used: the record is built from them.
    (used,) = call.of(KnowledgeUsed)
    assert used.query == QUESTION
    best = used.passages[0]
    assert best.document_id == pdf["id"]
    assert re.fullmatch(r"aurora-manual\.pdf, pages? 2(–3)?", best.source or "")
    assert all(
        passage.document_id != md["id"] or passage.score < best.score for passage in used.passages
    )
    record = knowledge_record(used)
    assert record["query"] == QUESTION
    assert record["passages"][0]["document_id"] == pdf["id"]
    assert record["passages"][0]["source"] == best.source
    assert "drip tray" in record["passages"][0]["text"]

    # The passages are for that turn only: the conversation history holds none.
    assert all(KNOWLEDGE_PREAMBLE not in (m.content or "") for m in call.session.history)


async def test_without_rag_enabled_there_is_no_retriever(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    assistant = await create_assistant(client, tenant, enabled=False)
    assert await retriever_for(app, assistant["id"]) is None


async def test_a_failing_retriever_costs_the_turn_its_passages_only() -> None:
    async def broken(query: str) -> list[Passage]:
        raise RuntimeError("index on fire")

    call = await talk(broken)
    (request,) = call.llm.requests
    assert [m.role for m in request.messages] == ["system", "user"]
    (used,) = call.of(KnowledgeUsed)
    assert used.passages == ()
    assert call.transcript[-1] == ("assistant", "It is on a sticker under the drip tray.", False)


async def test_simulate_gets_a_retriever_and_processes_what_waits(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, settings: Settings
) -> None:
    """``callwright simulate`` runs in its own process: it processes queued documents
    itself, then retrieves with the real offline embedder."""
    assistant = await create_assistant(client, tenant, similarity_threshold=0.2, auto_process=False)
    pdf = await upload(
        client,
        tenant,
        assistant["id"],
        "aurora-manual.pdf",
        make_pdf(MANUAL_PAGES),
        "application/pdf",
    )
    # Queued in the database only, as a server that went down before processing it would.
    async with app.state.callwright.session_factory() as session, session.begin():
        await session.execute(
            update(KnowledgeDocument)
            .where(KnowledgeDocument.id == pdf["id"])
            .values(queued_at=utcnow())
        )
    async with knowledge_retriever(settings, assistant["id"]) as retrieve:
        assert retrieve is not None
        passages = await retrieve(QUESTION)
    assert passages[0].document_id == pdf["id"]
    assert "drip tray" in passages[0].text
    done = await wait_processed(client, tenant, assistant["id"], pdf["id"])
    assert (done["status"], done["attempts"]) == ("ready", 1)

    await client.patch(
        f"/api/v1/assistants/{assistant['id']}",
        json={"rag_settings": {"enabled": False}},
        headers=tenant.headers,
    )
    async with knowledge_retriever(settings, assistant["id"]) as retrieve:
        assert retrieve is None


async def test_only_caller_turns_retrieve_and_passages_sit_before_that_turn() -> None:
    asked: list[str] = []

    async def retrieve(query: str) -> list[Passage]:
        asked.append(query)
        return [Passage(text="Warranty: 36 months.", score=0.8, chunk_id=7, document_id=3)]

    call = await talk(
        retrieve,
        first_message_mode="assistant-speaks-first-with-model-generated-message",
        replies=["Hello, Aurora support.", "It is on a sticker under the drip tray."],
    )
    # The model-generated opener answers no caller turn: no retrieval for it.
    assert asked == [QUESTION]
    opener, answer = call.llm.requests
    assert [m.role for m in opener.messages] == ["system"]
    assert [m.role for m in answer.messages] == ["system", "assistant", "system", "user"]
    assert answer.messages[2].content == KNOWLEDGE_PREAMBLE + "Warranty: 36 months."


async def test_a_retrieval_past_its_deadline_leaves_the_turn_without_passages(
    app: FastAPI, client: httpx.AsyncClient, tenant: Tenant, caplog: Any
) -> None:
    context: KnowledgeContext = app.state.knowledge
    context.embedders = EmbedderRegistry()
    context.settings = None
    assistant = await create_assistant(client, tenant, similarity_threshold=0.3)
    md = await upload(
        client, tenant, assistant["id"], "store.md", STORE_MD.encode(), "text/markdown"
    )
    assert (await wait_processed(client, tenant, assistant["id"], md["id"]))["status"] == "ready"
    async with context.session_factory() as session:
        stored = await load_assistant_for_call(session, context.box, assistant["id"])
    # A deadline no search can meet: the turn is answered without passages, and says why.
    retrieve = await knowledge_retriever_for(context, stored, timeout_s=0)
    assert retrieve is not None
    assert await retrieve(QUESTION) == []
    assert "this turn goes without passages" in caplog.text

    # The same retriever with time to search finds the passage (the deadline, not the
    # corpus, left the turn without one).
    retrieve = await knowledge_retriever_for(context, stored, timeout_s=60)
    assert retrieve is not None
    assert await retrieve("When is the store open?") != []
