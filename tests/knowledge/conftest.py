"""Helpers for the knowledge base tests: a deterministic embedder, documents made in
each format, assistants, and waiting for the background processor."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import psutil
import pytest
from fastapi import FastAPI

from callwright.domain.knowledge.context import KnowledgeContext
from callwright.domain.knowledge.embedders import EmbedderRegistry, OpenAIKey
from callwright.providers.protocols import Embeddings
from tests.conftest import Tenant

if TYPE_CHECKING:
    from callwright.domain.knowledge.parse_isolation import WorkerParser

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbeddings:
    """Bag of words hashed into ``dimensions`` buckets, L2-normalised: texts sharing
    words score high, texts sharing none score 0. Deterministic and instant; records
    what it embedded."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", dimensions: int = 256) -> None:
        self.model = model
        self.dimensions = dimensions
        self.calls: list[list[str]] = []

    def vector(self, text: str) -> list[float]:
        counts = np.zeros(self.dimensions, dtype=np.float64)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            counts[int.from_bytes(digest, "little") % self.dimensions] += 1.0
        norm = float(np.linalg.norm(counts))
        if norm == 0:
            counts[0] = 1.0
            norm = 1.0
        return [float(x) for x in counts / norm]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        return [self.vector(text) for text in texts]


def install_embedder(app: FastAPI, embedder: Embeddings | None = None) -> HashingEmbeddings:
    """Make ``app``'s knowledge base embed with ``embedder`` (a fresh hashing one)."""
    fake = embedder or HashingEmbeddings()
    context: KnowledgeContext = app.state.knowledge
    context.embedders = EmbedderRegistry(offline=lambda: fake)
    assert isinstance(fake, HashingEmbeddings)
    return fake


@pytest.fixture
def embedder(app: FastAPI) -> HashingEmbeddings:
    return install_embedder(app)


async def create_assistant(client: httpx.AsyncClient, tenant: Tenant, **rag: Any) -> dict[str, Any]:
    body = {"name": "Support", "rag_settings": {"enabled": True, **rag}}
    response = await client.post("/api/v1/assistants", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def upload(
    client: httpx.AsyncClient,
    tenant: Tenant,
    assistant_id: int | str,
    filename: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    *,
    expect: int = 201,
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/assistants/{assistant_id}/documents",
        files={"file": (filename, data, content_type)},
        headers=tenant.headers,
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_text(
    client: httpx.AsyncClient, tenant: Tenant, assistant_id: int | str, text: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/assistants/{assistant_id}/documents",
        json={"text": text, **fields},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_processed(
    client: httpx.AsyncClient,
    tenant: Tenant,
    assistant_id: int | str,
    document_id: int,
    *,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Poll the document until it is ready or failed (a hang detector, not a timing
    assertion)."""
    url = f"/api/v1/assistants/{assistant_id}/documents/{document_id}"
    async with asyncio.timeout(timeout_s):
        while True:
            response = await client.get(url, headers=tenant.headers)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if body["status"] in ("ready", "failed"):
                return body
            await asyncio.sleep(0.02)


async def search(
    client: httpx.AsyncClient, tenant: Tenant, assistant_id: int | str, query: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/assistants/{assistant_id}/knowledge/search",
        json={"query": query, **fields},
        headers=tenant.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- documents in each format ----------------------------------------------------------


def make_pdf(pages: Sequence[str]) -> bytes:
    """A PDF with one page per text (fpdf2; core font, so Latin-1 text only)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def make_docx(blocks: Sequence[tuple[str, str]]) -> bytes:
    """A DOCX from (kind, text): kind is "h1", "h2", "p" or "table" (cells split by |)."""
    import docx

    document = docx.Document()
    for kind, text in blocks:
        if kind.startswith("h"):
            document.add_heading(text, level=int(kind[1]))
        elif kind == "table":
            rows = [row.split("|") for row in text.split("\n")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell.strip()
        else:
            document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# -- the parser's worker -----------------------------------------------------------------


class Gate:
    """Holds a worker half-fed: ``started`` is set once it has half of its document,
    and it gets the rest when ``release`` is set."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()


def gated_parser(gate: Gate, **options: Any) -> WorkerParser:
    """A ``WorkerParser`` (real worker, real limits) that waits at ``gate`` mid-send."""
    from callwright.domain.knowledge.parse_isolation import WorkerParser

    class Gated(WorkerParser):
        async def _send_document(self, stdin: asyncio.StreamWriter, data: bytes) -> None:
            half = len(data) // 2
            await super()._send_document(stdin, data[:half])
            gate.started.set()
            await gate.release.wait()
            await super()._send_document(stdin, data[half:])

    return Gated(**options)


def worker_processes() -> list[psutil.Process]:
    """This process's living parser workers (whatever their command, the parser gives
    them their limits as ``--memory-mb``)."""
    alive = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if child.status() != psutil.STATUS_ZOMBIE and "--memory-mb" in child.cmdline():
                alive.append(child)
    return alive


WORD_NAMESPACE = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx_with_body(body: Iterable[bytes], *, prolog: bytes = b"") -> bytes:
    """A valid DOCX (python-docx's package) whose ``word/document.xml`` body is the
    given WordprocessingML, written piece by piece (a 100 MB body never sits in memory);
    ``prolog`` goes before the root element."""
    template = zipfile.ZipFile(io.BytesIO(make_docx([("p", "placeholder")])))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in template.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info, template.read(info))
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(
                b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
                + prolog
                + b'<w:document xmlns:w="'
                + WORD_NAMESPACE.encode()
                + b'"><w:body>'
            )
            for piece in body:
                part.write(piece)
            part.write(b"</w:body></w:document>")
    return buffer.getvalue()


@functools.cache
def docx_bomb(unpacked_mb: int = 100) -> bytes:
    """The finding's document: a valid DOCX whose document.xml is ``unpacked_mb`` MB of
    repetitive paragraphs, deflated to a few hundred KB."""
    paragraph = b"<w:p><w:r><w:t>All work and no play makes Jack a dull boy.</w:t></w:r></w:p>"
    megabyte = paragraph * (1024 * 1024 // len(paragraph))
    return docx_with_body(megabyte for _ in range(unpacked_mb))


__all__ = [
    "WORD_NAMESPACE",
    "Gate",
    "HashingEmbeddings",
    "OpenAIKey",
    "add_text",
    "create_assistant",
    "docx_bomb",
    "docx_with_body",
    "gated_parser",
    "install_embedder",
    "make_docx",
    "make_pdf",
    "search",
    "upload",
    "wait_processed",
    "worker_processes",
]
