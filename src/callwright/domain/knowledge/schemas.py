"""Bodies and responses of the knowledge base API: documents and search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callwright.domain.knowledge.documents import DocumentFormat
from callwright.domain.types import OutboundUrlString

__all__ = [
    "DocumentResponse",
    "DocumentSource",
    "DocumentStatus",
    "SearchRequest",
    "SearchResponse",
    "SearchResult",
]

DocumentStatus = Literal["pending", "processing", "ready", "failed"]
DocumentName = Annotated[str, Field(min_length=1, max_length=255)]


class DocumentSource(BaseModel):
    """Body of ``POST /documents`` as JSON: a URL to fetch, or the text itself.
    (Files are uploaded as ``multipart/form-data`` with a ``file`` part.)"""

    model_config = ConfigDict(extra="forbid")

    url: OutboundUrlString | None = Field(
        None,
        description="An https URL the server fetches (public addresses only, unless the "
        "operator allows the host).",
    )
    text: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="The document's text."
    )
    name: DocumentName | None = Field(
        None, description="Defaults to the URL's file name, or 'text'."
    )
    format: DocumentFormat | None = Field(
        None,
        description="How to read it; by default from the URL's extension or content type "
        "('txt' for text).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> DocumentSource:
        if (self.url is None) == (self.text is None):
            raise ValueError("send exactly one of url and text")
        return self


class DocumentResponse(BaseModel):
    """A document of an assistant's knowledge base and where its processing stands."""

    id: int
    assistant_id: int
    organization_id: int
    user_id: int | None
    name: str
    source: Literal["upload", "url", "text"]
    url: str | None
    format: DocumentFormat | None
    content_type: str | None
    size_bytes: int
    sha256: str | None
    status: DocumentStatus
    error: str | None = Field(description="Why processing failed (status 'failed').")
    chunk_count: int = Field(description="Searchable chunks it has now.")
    char_count: int = Field(description="Characters of text extracted.")
    embedding_model: str | None = Field(description="The model that embedded its chunks.")
    chunking_strategy: str | None
    chunk_size: int | None
    chunk_overlap: int | None
    attempts: int
    processed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SearchRequest(BaseModel):
    """Body of ``POST /knowledge/search``. The limit and threshold default to the
    assistant's ``rag_settings``."""

    model_config = ConfigDict(extra="forbid")

    query: Annotated[str, Field(min_length=1, max_length=4000)]
    search_limit: Annotated[int, Field(ge=1, le=50)] | None = None
    similarity_threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class SearchResult(BaseModel):
    chunk_id: int
    text: str
    score: float = Field(description="Cosine similarity to the query.")
    metadata: dict[str, Any] | None = Field(
        description="document_id, document_name, chunk_index, offsets (start, end), page "
        "or heading; null when rag_settings.include_metadata is false."
    )


class SearchResponse(BaseModel):
    query: str
    embedding_model: str = Field(description="The model that embedded the query.")
    results: list[SearchResult]
