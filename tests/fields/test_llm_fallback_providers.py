"""``llm_fallback_providers``, from the assistant resource to the answered turn: the
call's provider factory (``runtime.registry.build_providers``) turns the document into
the call's LLMs, and the engine's reply (``engine.replies.llm_reply``, what every turn
runs) asks them in order. The primary here is the offline model, scripted to fail;
the fallback an OpenAI-compatible endpoint served locally."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from callwright.clock import VirtualClock
from callwright.engine.config import CallConfig
from callwright.engine.events import TurnTiming
from callwright.engine.replies import ToolHooks, llm_reply
from callwright.providers.errors import ProviderError, ProviderUnavailable
from callwright.providers.protocols import ChatMessage
from callwright.runtime.providers_cloud import CloudProviders
from callwright.runtime.registry import build_providers
from callwright.security.outbound import OutboundPolicy
from callwright.settings import Settings
from tests.fields.support import StubOffline, document
from tests.support.optional import require
from tests.vendor_fakes import Reply, serve
from tests.vendor_fakes.openai_chat import FakeOpenAI

require("onnxruntime", "the call's provider factory builds Silero VAD (offline extra)")

KEY = "sk-fallback-0123456789abcdef"


@pytest.fixture
async def fallback_endpoint() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(KEY)
    fake.script(Reply(("The fallback answers.",)))
    async with serve(fake) as url:
        yield fake, f"{url}/v1"


async def _turn(settings: dict[str, Any]) -> tuple[list[str], TurnTiming, list[str]]:
    """One caller turn of a call of this assistant, its primary failing: the
    sentences answered, the turn's timing and the call's LLMs by name."""
    clock = VirtualClock()
    offline = StubOffline(clock, [ProviderUnavailable("local", "the model crashed")])
    cloud = CloudProviders(OutboundPolicy(allowed_hosts="127.0.0.1"))
    try:
        providers, _ = build_providers(
            settings, offline, cloud=cloud, credentials={}, server=Settings()
        )
        timing = TurnTiming(1)
        sentences: list[str] = []
        with contextlib.suppress(ProviderError):
            async for sentence in llm_reply(
                CallConfig.from_settings(settings),
                providers.llms,
                [ChatMessage("user", "When do you open?")],
                clock,
                timing,
                ToolHooks(),
                first_token_timeout_s=5.0,
                filler_after_s=60.0,
                filler_counter=itertools.count(),
            ):
                sentences.append(sentence)
        return sentences, timing, [llm.name for llm in providers.llms]
    finally:
        await cloud.aclose()


def _assistant(url: str, *, enabled: bool, model: str | None = None) -> dict[str, Any]:
    fallback: dict[str, Any] = {"provider": "custom", "base_url": url, "api_key": KEY}
    if model is not None:
        fallback["model"] = model
    return document(
        llm_provider="local",
        llm_fallback_providers={"enabled": enabled, "fallbacks": [fallback]},
    )


async def test_llm_fallback_providers_enabled(
    fallback_endpoint: tuple[FakeOpenAI, str],
) -> None:
    """The same listed fallback: switched off, the failed turn has no answer and the
    endpoint is never asked; switched on (nothing else changed), it answers."""
    fake, url = fallback_endpoint
    sentences, timing, llms = await _turn(_assistant(url, enabled=False))
    assert (sentences, llms, fake.received) == ([], ["local"], [])
    assert timing.llm_provider is None

    sentences, timing, llms = await _turn(_assistant(url, enabled=True))
    assert sentences == ["The fallback answers."]
    assert llms == ["local", "custom"]
    assert timing.llm_provider == "custom"
    assert len(fake.received) == 1


async def test_llm_fallback_providers_fallbacks_model(
    fallback_endpoint: tuple[FakeOpenAI, str],
) -> None:
    """A fallback asks for its own model, not the primary's."""
    fake, url = fallback_endpoint
    sentences, timing, _ = await _turn(_assistant(url, enabled=True, model="llama-3.1-8b"))
    assert sentences == ["The fallback answers."]
    assert timing.llm_provider == "custom:llama-3.1-8b"
    (request,) = fake.received
    assert request.body["model"] == "llama-3.1-8b"
