"""Everything a call needs before its first frame is answered: the assistant with the
call's overrides merged (validated once: the one settings object the call runs on),
the session's config snapshot, the tools it may use, the same caller's previous
conversation (``maintain_context``), the organization's signing secret and the warmed
knowledge retriever. Preparing marks the call in progress."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callwright.domain.assistants.schemas import AssistantIn
from callwright.domain.assistants.service import (
    StoredAssistant,
    load_assistant_for_call,
    merge_settings,
)
from callwright.domain.calls.queries import load_call, placing_principal, previous_conversation
from callwright.domain.calls.repository import remember_assistant, start_call
from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.retrieval import knowledge_retriever_for
from callwright.domain.tools.schemas import CustomTool
from callwright.domain.tools.service import tools_for_call
from callwright.domain.validation import validate_as
from callwright.engine.config import CallConfig
from callwright.engine.replies import Retriever
from callwright.errors import NotFound
from callwright.providers.protocols import ChatMessage
from callwright.runtime.webhook_writer import CallWebhooks
from callwright.security.crypto import SecretBox
from callwright.store.models import Call

__all__ = ["PreparedCall", "SigningSecret", "prepare_call", "with_overrides"]

logger = logging.getLogger(__name__)

SigningSecret = Callable[[AsyncSession, int], Awaitable[str]]
"""The organization's signing secret (by organization id), read in a given session."""


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """Everything a call needs, loaded before the first frame is answered.
    ``assistant`` carries the call's settings (the stored assistant, overrides merged);
    ``config`` is the engine's snapshot of them, with the call's variables rendered."""

    call: Call
    assistant: StoredAssistant
    config: CallConfig
    previous: tuple[ChatMessage, ...]
    signing_secret: str
    webhook_url: str | None
    tools: tuple[CustomTool, ...]
    retrieve: Retriever | None = None


def with_overrides(stored: StoredAssistant, overrides: dict[str, object]) -> StoredAssistant:
    """The assistant as this call runs it: its overrides merged like a PATCH."""
    if not overrides:
        return stored
    document = stored.settings.model_dump(mode="json")
    merged = merge_settings(AssistantIn, document, dict(overrides))
    return replace(stored, settings=validate_as(AssistantIn, merged))


async def prepare_call(
    session_factory: async_sessionmaker[AsyncSession],
    box: SecretBox,
    call_id: int,
    *,
    signing_secret: SigningSecret,
    webhooks: CallWebhooks | None,
    knowledge: KnowledgeContext | None,
) -> PreparedCall:
    """Load the call and what its session needs, and mark it in progress. An ended
    call cannot start again (``IllegalCallTransition``)."""
    async with session_factory() as db:
        call = await load_call(db, call_id)
        if call is None or call.assistant_id is None:
            raise NotFound(f"call {call_id} not found")
        stored = await load_assistant_for_call(db, box, call.assistant_id)
        # The version this call runs, on its record (decision 023).
        call.assistant_version = stored.row.version
        # With the overrides merged, tools named for this call only act too.
        assistant = with_overrides(stored, call.overrides)
        settings = assistant.settings
        customer = call.to_number if call.type == "outboundPhoneCall" else call.from_number
        # The assistant's metadata and custom_settings are the templates' to read
        # ({{metadata.plan}}); a call variable of the same name wins.
        variables = {
            "metadata": settings.metadata,
            "custom_settings": settings.custom_settings or {},
            "customer": {"number": customer},
            "call": {"id": str(call.id), "type": call.type},
            **call.variables,
        }
        config = CallConfig.from_settings(
            settings.model_dump(mode="json"), variables, assistant_id=call.assistant_id
        )
        previous: list[ChatMessage] = []
        if config.maintain_context:
            for line in await previous_conversation(db, call, customer):
                if line.get("text"):
                    previous.append(ChatMessage(line["role"], line["text"]))
        secret = await signing_secret(db, call.organization_id)
        call_tools = await tools_for_call(db, box, assistant, placed_by=placing_principal(call))
        for left in call_tools.left_out:
            logger.warning(
                "call %s of assistant %s: stored tool %s left out: %s",
                call.id,
                call.assistant_id,
                left.tool_id,
                left.reason,
            )
        left_out = [
            {"tool_id": left.tool_id, "reason": left.reason} for left in call_tools.left_out
        ]
        start_call(call, left_out)
        remember_assistant(
            call,
            name=stored.row.name,
            metadata=settings.metadata,
            custom_settings=settings.custom_settings or {},
        )
        webhook_url = str(settings.webhook_url) if settings.webhook_url else None
        if webhooks is not None and webhook_url:
            await webhooks.send(db, call, webhook_url, "status-update", {})
        await db.commit()
    retrieve = None
    if knowledge is not None:
        # Reconciles the documents with rag_settings and warms index and embedder.
        retrieve = await knowledge_retriever_for(knowledge, assistant)
    return PreparedCall(
        call,
        assistant,
        config,
        tuple(previous),
        secret,
        webhook_url,
        tuple(call_tools.tools),
        retrieve,
    )
