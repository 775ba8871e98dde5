"""Contract tests: ``OpenAIEmbeddings`` against the OpenAI embeddings fake."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from callwright.providers.embeddings.openai import OpenAIEmbeddings
from callwright.providers.errors import (
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderTimeout,
    ProviderUnavailable,
)
from callwright.providers.protocols import Embeddings
from tests.vendor_fakes import serve
from tests.vendor_fakes.openai_audio import OpenAIAudioFake, fake_embedding

TEXTS = ["Opening hours are 9 to 5.", "We are closed on Sundays.", "Parking is free."]


@pytest.fixture
async def fake() -> AsyncIterator[OpenAIAudioFake]:
    fake = OpenAIAudioFake()
    async with serve(fake.app) as url:
        fake.url = f"{url}/v1"
        yield fake


@pytest.fixture
async def embedder(fake: OpenAIAudioFake) -> AsyncIterator[OpenAIEmbeddings]:
    embedder = OpenAIEmbeddings("sk-test-key", base_url=fake.url, max_retries=0)
    try:
        yield embedder
    finally:
        await embedder.aclose()


def assert_unit_rows(vectors: list[list[float]], dimensions: int) -> None:
    matrix = np.asarray(vectors)
    assert matrix.shape[1] == dimensions
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0)


async def test_embeds_in_order_as_unit_vectors(
    fake: OpenAIAudioFake, embedder: OpenAIEmbeddings
) -> None:
    assert isinstance(embedder, Embeddings)
    assert (embedder.model, embedder.dimensions) == ("text-embedding-3-small", 1536)
    vectors = await embedder.embed(TEXTS)

    assert len(vectors) == 3
    assert_unit_rows(vectors, 1536)
    for text, vector in zip(TEXTS, vectors, strict=True):
        assert np.allclose(vector, fake_embedding(text, 1536), atol=1e-6)
    (request,) = fake.received
    assert request.path == "/v1/embeddings"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    # The SDK asks for base64 float32 and decodes it; no dimensions for a native size.
    assert request.fields == {
        "model": "text-embedding-3-small",
        "input": TEXTS,
        "encoding_format": "base64",
    }


async def test_large_model_and_shortened_vectors(fake: OpenAIAudioFake) -> None:
    large = OpenAIEmbeddings("sk-test-key", base_url=fake.url, model="text-embedding-3-large")
    short = OpenAIEmbeddings("sk-test-key", base_url=fake.url, dimensions=256)
    try:
        assert_unit_rows(await large.embed(TEXTS[:1]), 3072)
        vectors = await short.embed(TEXTS[:1])
    finally:
        await large.aclose()
        await short.aclose()
    assert "dimensions" not in fake.received[0].fields
    assert fake.received[1].fields["dimensions"] == 256
    assert_unit_rows(vectors, 256)
    expected = fake_embedding(TEXTS[0], 1536)[:256]
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-6)


async def test_batches_stay_within_the_api_limits(
    fake: OpenAIAudioFake, embedder: OpenAIEmbeddings
) -> None:
    texts = [f"chunk number {i}" for i in range(4100)]
    vectors = await embedder.embed(texts)
    assert [len(r.fields["input"]) for r in fake.received] == [2048, 2048, 4]
    assert len(vectors) == 4100
    for i in (0, 2047, 2048, 4099):
        assert np.allclose(vectors[i], fake_embedding(texts[i], 1536), atol=1e-6)

    by_chars = OpenAIEmbeddings("sk-test-key", base_url=fake.url, max_batch_chars=250)
    try:
        await by_chars.embed(["x" * 100] * 5)
    finally:
        await by_chars.aclose()
    assert [len(r.fields["input"]) for r in fake.received[3:]] == [2, 2, 1]


async def test_vectors_are_normalised_whatever_the_server_sends(
    fake: OpenAIAudioFake, embedder: OpenAIEmbeddings
) -> None:
    fake.scale = 3.0  # a compatible server whose vectors are not unit length
    assert_unit_rows(await embedder.embed(TEXTS), 1536)


async def test_empty_input(fake: OpenAIAudioFake, embedder: OpenAIEmbeddings) -> None:
    assert await embedder.embed([]) == []
    with pytest.raises(ProviderRequestError, match="text 1 is empty"):
        await embedder.embed(["fine", ""])
    assert fake.received == []


async def test_models(fake: OpenAIAudioFake) -> None:
    with pytest.raises(ValueError, match="unknown embedding model"):
        OpenAIEmbeddings("sk-test-key", model="my-embedder")
    other = OpenAIEmbeddings("sk-test-key", base_url=fake.url, model="my-embedder", dimensions=8)
    try:
        with pytest.raises(ProviderRequestError, match="404"):
            await other.embed(TEXTS)
    finally:
        await other.aclose()


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ("auth", ProviderAuthError, "401"),
        ("rate", ProviderRateLimited, "429"),
        ("server", ProviderUnavailable, "500"),
        ("disconnect", ProviderUnavailable, "connection failed"),
    ],
)
async def test_failures_are_provider_errors(
    fake: OpenAIAudioFake,
    embedder: OpenAIEmbeddings,
    fault: str,
    error: type[Exception],
    message: str,
) -> None:
    fake.fault = fault
    with pytest.raises(error, match=message) as raised:
        await embedder.embed(TEXTS)
    if fault == "rate":
        assert raised.value.retry_after_s == 7  # type: ignore[attr-defined]


async def test_a_slow_answer_times_out(fake: OpenAIAudioFake) -> None:
    fake.delay_s = 3.0
    embedder = OpenAIEmbeddings("sk-test-key", base_url=fake.url, timeout_s=0.2, max_retries=0)
    try:
        with pytest.raises(ProviderTimeout):
            async with asyncio.timeout(2):
                await embedder.embed(TEXTS)
    finally:
        await embedder.aclose()


async def test_transient_errors_are_retried(fake: OpenAIAudioFake) -> None:
    fake.fault, fake.faults_left = "server", 1
    embedder = OpenAIEmbeddings("sk-test-key", base_url=fake.url, max_retries=1)
    try:
        assert len(await embedder.embed(TEXTS)) == 3
    finally:
        await embedder.aclose()
    assert len(fake.received) == 2


async def test_aclose_and_reuse(fake: OpenAIAudioFake, embedder: OpenAIEmbeddings) -> None:
    await embedder.embed(TEXTS[:1])
    await embedder.aclose()
    await embedder.aclose()  # idempotent
    assert len(await embedder.embed(TEXTS[:1])) == 1  # a new client
