"""Parsed text → chunks, by ``rag_settings.chunking_strategy``.

``chunk_size`` and ``chunk_overlap`` are in characters (as in LangChain's splitters,
which the seed's 1000/200 defaults come from): a chunk is at most ``chunk_size``
characters, and consecutive chunks share up to ``chunk_overlap`` characters.

- ``fixed``: windows of ``chunk_size`` characters, each starting ``chunk_size -
  chunk_overlap`` after the previous one, wherever that falls.
- ``recursive``: split at paragraph breaks, then line breaks, then sentence ends, then
  spaces (only as far down as a piece needs to fit), then pack the pieces into chunks;
  the overlap is made of whole trailing pieces.
- ``sentence``: split into sentences (a sentence longer than a chunk at spaces), pack
  whole sentences into chunks; the overlap is whole sentences.
- ``markdown``: cut at headings (``#`` … ``######``, outside code fences) first, so a
  chunk never straddles two sections; each section is then split like ``recursive``.
  Each chunk knows its heading path (``Pricing > Refunds``), which is also embedded
  with it.

Every chunk keeps its character offsets in the document's text and the metadata of the
sections it spans (``page``/``page_end`` for PDFs). Work on spans of one string, so
offsets are exact and nothing is copied until the end. Blocking; call in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from callwright.domain.knowledge.documents import ParsedDocument

__all__ = ["Chunk", "ChunkingStrategy", "chunk_document", "chunk_text"]

ChunkingStrategy = Literal["recursive", "fixed", "sentence", "markdown"]
Span = tuple[int, int]

_SECTION_JOIN: Final = "\n\n"
_PARAGRAPHS: Final = re.compile(r"\n\s*\n")
_LINES: Final = re.compile(r"\n")
# A sentence ends at . ! ? (optionally closed by a quote or bracket) before whitespace.
_SENTENCES: Final = re.compile(r"(?<=[.!?…])[\"')\]]*\s+|\n\s*\n")
_WORDS: Final = re.compile(r"\s+")
_RECURSIVE: Final = (_PARAGRAPHS, _LINES, _SENTENCES, _WORDS)
_SENTENCE_LEVELS: Final = (_SENTENCES, _LINES, _WORDS)
_HEADING: Final = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_FENCE: Final = re.compile(r"^(```|~~~)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk: its text, where it is in the document, and what to embed."""

    text: str
    start: int
    end: int
    metadata: dict[str, Any] = field(default_factory=dict)
    heading: str | None = None

    @property
    def embedding_text(self) -> str:
        # The heading path tells the embedding model what a section's later chunks
        # are about ("Refunds" above "within 30 days of purchase").
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def chunk_text(
    text: str, strategy: ChunkingStrategy, chunk_size: int, chunk_overlap: int
) -> list[Span]:
    """Spans of ``text`` that make its chunks (leading/trailing blanks trimmed)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    if not 0 <= chunk_overlap < chunk_size:
        raise ValueError("chunk_overlap must be at least 0 and smaller than chunk_size")
    if strategy == "fixed":
        spans = _fixed(0, len(text), chunk_size, chunk_overlap)
    elif strategy == "sentence":
        spans = _pack(
            _split(text, 0, len(text), chunk_size, _SENTENCE_LEVELS), chunk_size, chunk_overlap
        )
    elif strategy == "markdown":
        spans = []
        for start, end, _ in _markdown_sections(text):
            pieces = _split(text, start, end, chunk_size, _RECURSIVE)
            spans.extend(_pack(pieces, chunk_size, chunk_overlap))
    else:
        spans = _pack(_split(text, 0, len(text), chunk_size, _RECURSIVE), chunk_size, chunk_overlap)
    return [trimmed for span in spans if (trimmed := _trim(text, span)) is not None]


def chunk_document(
    document: ParsedDocument, strategy: ChunkingStrategy, chunk_size: int, chunk_overlap: int
) -> list[Chunk]:
    """The document's chunks, with offsets and metadata."""
    text, sections = _join(document)
    headings = _markdown_sections(text) if strategy == "markdown" else []
    chunks = []
    for start, end in chunk_text(text, strategy, chunk_size, chunk_overlap):
        metadata: dict[str, Any] = {"start": start, "end": end}
        pages = [
            meta["page"] for s, e, meta in sections if s < end and e > start and "page" in meta
        ]
        if pages:
            metadata["page"] = pages[0]
            if pages[-1] != pages[0]:
                metadata["page_end"] = pages[-1]
        heading = next((path for s, e, path in headings if s <= start < e and path), None)
        if heading:
            metadata["heading"] = heading
        chunks.append(Chunk(text[start:end], start, end, metadata, heading))
    return chunks


def _join(document: ParsedDocument) -> tuple[str, list[tuple[int, int, dict[str, Any]]]]:
    parts: list[str] = []
    sections = []
    offset = 0
    for section in document.sections:
        if parts:
            parts.append(_SECTION_JOIN)
            offset += len(_SECTION_JOIN)
        parts.append(section.text)
        sections.append((offset, offset + len(section.text), section.metadata))
        offset += len(section.text)
    return "".join(parts), sections


def _trim(text: str, span: Span) -> Span | None:
    start, end = span
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _fixed(start: int, end: int, size: int, overlap: int) -> list[Span]:
    spans = []
    step = size - overlap
    position = start
    while position < end:
        spans.append((position, min(position + size, end)))
        if position + size >= end:
            break
        position += step
    return spans


def _split(
    text: str, start: int, end: int, size: int, levels: Sequence[re.Pattern[str]]
) -> list[Span]:
    """Contiguous pieces covering [start, end), each at most ``size`` long, cut at the
    coarsest separator that works; a separator stays with the piece before it."""
    if end - start <= size:
        return [(start, end)]
    if not levels:
        return _fixed(start, end, size, 0)
    cuts = [m.end() for m in levels[0].finditer(text, start, end) if start < m.end() < end]
    if not cuts:
        return _split(text, start, end, size, levels[1:])
    pieces: list[Span] = []
    for piece_start, piece_end in zip([start, *cuts], [*cuts, end], strict=True):
        if piece_end - piece_start > size:
            pieces.extend(_split(text, piece_start, piece_end, size, levels[1:]))
        else:
            pieces.append((piece_start, piece_end))
    return pieces


def _pack(pieces: Sequence[Span], size: int, overlap: int) -> list[Span]:
    """Consecutive pieces into chunks of at most ``size``; each chunk after the first
    starts with the previous chunk's trailing pieces that fit in ``overlap``."""
    chunks: list[Span] = []
    current: list[Span] = []
    for piece in pieces:
        if current and piece[1] - current[0][0] > size:
            chunks.append((current[0][0], current[-1][1]))
            carried: list[Span] = []
            for previous in reversed(current):
                if current[-1][1] - previous[0] > overlap:
                    break
                carried.insert(0, previous)
            # The carried overlap must leave room for the new piece.
            while carried and piece[1] - carried[0][0] > size:
                carried.pop(0)
            current = carried
        current.append(piece)
    if current:
        chunks.append((current[0][0], current[-1][1]))
    return chunks


def _markdown_sections(text: str) -> list[tuple[int, int, str]]:
    """(start, end, heading path) for each part of ``text`` under one heading; the
    part before the first heading has an empty path."""
    fenced = _fenced_ranges(text)
    headings = [
        m for m in _HEADING.finditer(text) if not any(s <= m.start() < e for s, e in fenced)
    ]
    sections: list[tuple[int, int, str]] = []
    stack: list[tuple[int, str]] = []
    previous_start, previous_path = 0, ""
    for match in headings:
        if match.start() > previous_start:
            sections.append((previous_start, match.start(), previous_path))
        level = len(match.group(1))
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, match.group(2).strip()))
        previous_start, previous_path = match.start(), " > ".join(title for _, title in stack)
    sections.append((previous_start, len(text), previous_path))
    return [section for section in sections if section[1] > section[0]]


def _fenced_ranges(text: str) -> list[Span]:
    marks = [m.start() for m in _FENCE.finditer(text)]
    ranges = []
    for opening, closing in zip(marks[::2], [*marks[1::2], len(text)], strict=False):
        ranges.append((opening, closing))
    return ranges
