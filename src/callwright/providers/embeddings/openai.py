"""OpenAI embeddings (``POST /v1/embeddings``) for retrieval, through the official SDK.

Models: text-embedding-3-small (1,536 dimensions), text-embedding-3-large (3,072) and
text-embedding-ada-002 (1,536); ``dimensions`` shortens a text-embedding-3 vector (it
is then sent as the API's ``dimensions``) or gives the size for another model on a
compatible server. Texts go in batches of at most 2,048 inputs, the API's limit per
request, and at most ``max_batch_chars`` characters: the API also caps a request at
300,000 tokens, and without a tokenizer a character budget is the safe measure
(150,000 characters stay under the cap even at two tokens per character). Vectors
arrive as base64 float32 (the SDK's default), are put back in input order by
``index`` and L2-normalised in a worker thread (OpenAI's already are; shortened ones
and compatible servers' may not be).

An empty text is refused before any request, as the API would refuse it. Errors are
``ProviderError``s; the SDK retries 429s and 5xx ``max_retries`` times first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from typing import Final

import numpy as np
import openai

from callwright.providers.common import CONNECT_TIMEOUT_S, translate_openai_error
from callwright.providers.errors import ProviderRequestError, ProviderUnavailable
from callwright.security.outbound import OutboundPolicy

__all__ = ["OpenAIEmbeddings"]

_PROVIDER: Final = "openai"
_DEFAULT_BASE_URL: Final = "https://api.openai.com/v1"
_NATIVE_DIMENSIONS: Final = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
_MAX_INPUTS: Final = 2048


def _batches(texts: Sequence[str], max_inputs: int, max_chars: int) -> Iterator[list[str]]:
    batch: list[str] = []
    chars = 0
    for text in texts:
        if batch and (len(batch) == max_inputs or chars + len(text) > max_chars):
            yield batch
            batch, chars = [], 0
        batch.append(text)
        chars += len(text)
    if batch:
        yield batch


def _normalised(vectors: list[list[float]]) -> list[list[float]]:
    matrix = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0  # a zero vector stays zero rather than becoming NaN
    result: list[list[float]] = (matrix / norms).tolist()
    return result


class OpenAIEmbeddings:
    """OpenAI text embeddings implementing ``Embeddings``.

    ``base_url``: OpenAI's (default ``https://api.openai.com/v1``), a compatible server
    or a fake. The HTTP client is created on first use and kept for its connections;
    ``aclose()`` closes it.
    """

    def __init__(
        self,
        api_key: str,
        *,
        model: str = "text-embedding-3-small",
        base_url: str | None = None,
        dimensions: int | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        max_batch: int = _MAX_INPUTS,
        max_batch_chars: int = 150_000,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("an OpenAI API key is required")
        native = _NATIVE_DIMENSIONS.get(model)
        if dimensions is None and native is None:
            raise ValueError(f"unknown embedding model {model!r}: give its dimensions")
        if not 1 <= max_batch <= _MAX_INPUTS:
            raise ValueError(f"max_batch must be 1..{_MAX_INPUTS}")
        self.model = model
        self.dimensions: int = dimensions or native or 0
        self._sent_dimensions = self.dimensions if self.dimensions != native else openai.omit
        self._api_key = api_key
        self._outbound = outbound
        self._base_url = base_url or _DEFAULT_BASE_URL
        self._timeout_s, self._max_retries = timeout_s, max_retries
        self._max_batch, self._max_batch_chars = max_batch, max_batch_chars
        self._client: openai.AsyncOpenAI | None = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector per text, in order."""
        for index, text in enumerate(texts):
            if not text:
                raise ProviderRequestError(_PROVIDER, f"text {index} is empty: nothing to embed")
        vectors: list[list[float]] = []
        for batch in _batches(texts, self._max_batch, self._max_batch_chars):
            vectors += await self._embed_batch(batch)
        return vectors

    async def aclose(self) -> None:
        """Close the HTTP client (a later ``embed`` opens a new one)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _embed_batch(self, batch: list[str]) -> list[list[float]]:
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self._base_url,
                max_retries=self._max_retries,
                timeout=openai.Timeout(self._timeout_s, connect=CONNECT_TIMEOUT_S),
                http_client=(
                    openai.DefaultAsyncHttpxClient(transport=self._outbound.httpx2_transport())
                    if self._outbound is not None
                    else None
                ),
            )
        try:
            response = await self._client.embeddings.create(
                model=self.model, input=batch, dimensions=self._sent_dimensions
            )
        except openai.OpenAIError as exc:
            raise translate_openai_error(_PROVIDER, exc) from exc
        data = sorted(response.data, key=lambda item: item.index)
        if [item.index for item in data] != list(range(len(batch))):
            indexes = [item.index for item in data]
            raise ProviderUnavailable(_PROVIDER, f"{len(batch)} texts, indexes {indexes}")
        if any(len(item.embedding) != self.dimensions for item in data):
            raise ProviderUnavailable(_PROVIDER, f"vectors are not {self.dimensions}-dimensional")
        return await asyncio.to_thread(_normalised, [item.embedding for item in data])
