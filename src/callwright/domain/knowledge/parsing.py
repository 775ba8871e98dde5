"""Documents → plain text sections, with where each section came from.

Formats: txt, md, html, pdf (pypdf), docx (streamed, ``docx_text``), csv, json. Every
parser is blocking CPU work on untrusted bytes: the server runs ``parse_document`` in a
worker process with memory and time limits (``parse_isolation``), never in its own.

Structure that helps retrieval is kept as text: HTML and DOCX headings become Markdown
``#`` headings (so the ``markdown`` chunking strategy sees them), CSV rows become
``column: value`` lines, JSON becomes ``path: value`` lines. PDF pages are sections, so
chunks know their page.

Limits (``ParseLimits``; the types every parser shares are in ``documents``) keep one
upload from exhausting the worker, and are enforced while the document is read, not
after: the raw size is checked by the API (413); here the number of PDF pages, the
bytes a DOCX unpacks to and its compression ratio (counted as its members are
decompressed) and the extracted text (counted as each format yields it, so extraction
stops as soon as the limit is crossed). Every failure is a ``DocumentRejected`` naming
the document and the reason (422), or
``UnsupportedDocumentType`` (415) for a format we do not read.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Final

from callwright.domain.knowledge.documents import (
    DocumentFormat,
    DocumentRejected,
    ParsedDocument,
    ParseLimits,
    Section,
    TextBudget,
    document_label,
)
from callwright.domain.knowledge.docx_text import docx_lines

__all__ = ["parse_document"]

_MAX_JSON_DEPTH: Final = 64


@dataclass(frozen=True, slots=True)
class _Reading:
    """What every format's parser gets: the bytes, the limits, the text budget."""

    data: bytes
    limits: ParseLimits
    budget: TextBudget
    name: str | None

    @property
    def label(self) -> str:
        return document_label(self.name)


def parse_document(
    data: bytes,
    document_format: DocumentFormat,
    *,
    limits: ParseLimits | None = None,
    name: str | None = None,
) -> ParsedDocument:
    """Extract the text of ``data`` within ``limits``; messages name the document by
    ``name``. Blocking CPU work on untrusted bytes: run it in a worker process."""
    limits = limits or ParseLimits()
    reading = _Reading(data, limits, TextBudget(limits.max_chars, name), name)
    sections = tuple(
        Section(clean, section.metadata)
        for section in _PARSERS[document_format](reading)
        if (clean := _clean(section.text)).strip()
    )
    if not sections:
        raise DocumentRejected(f"{reading.label} ({document_format}) contains no text")
    # Cleaning never lengthens text, so the budget spent while extracting bounds this.
    return ParsedDocument(document_format, sections)


# -- text formats ---------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _clean(text: str) -> str:
    # NUL and lone surrogates cannot be stored (PostgreSQL text); control characters
    # are noise to an embedding model.
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentRejected(f"the text is not valid UTF-16: {exc.reason}") from exc
    if b"\x00" in data[:8192]:
        raise DocumentRejected("the file is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Legacy Windows text is the common non-UTF-8 case; latin-1 takes any byte.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _plain(reading: _Reading) -> Iterator[Section]:
    text = _decode(reading.data)
    reading.budget.spend(len(text))
    yield Section(text)


class _HtmlText(HTMLParser):
    """Visible text of an HTML page; headings as Markdown headings, blocks as lines."""

    _SKIP: Final = frozenset({"script", "style", "noscript", "template", "head", "svg"})
    _BLOCKS: Final = frozenset(
        {
            "p", "div", "section", "article", "main", "header", "footer", "nav", "aside",
            "li", "ul", "ol", "tr", "table", "br", "hr", "blockquote", "pre", "dt", "dd",
            "figure", "figcaption", "form", "title",
        }
    )  # fmt: skip

    def __init__(self, budget: TextBudget) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._budget = budget

    def _add(self, text: str) -> None:
        self._budget.spend(len(text))
        self.parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._add("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._BLOCKS:
            self._add("\n")
        elif tag in ("td", "th"):
            self._add(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self._add("\n\n")
        elif tag in self._BLOCKS:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._add(data.replace("\n", " "))


def _html(reading: _Reading) -> Iterator[Section]:
    parser = _HtmlText(reading.budget)
    parser.feed(_decode(reading.data))
    parser.close()
    text = "".join(parser.parts)
    yield Section(re.sub(r"[ ]*\n[ ]*", "\n", text))


def _csv(reading: _Reading) -> Iterator[Section]:
    text = _decode(reading.data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    header: list[str] | None = None
    lines: list[str] = []
    try:
        # Row by row, so the text budget stops the reader at the first row past it.
        for row in csv.reader(io.StringIO(text), dialect):
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                continue
            # Each row describes itself ("name: Ada; city: Paris"), so a chunk of rows
            # is understandable without the header line.
            line = "; ".join(
                f"{_column(header, i)}: {value.strip()}"
                for i, value in enumerate(row)
                if value.strip()
            )
            reading.budget.spend(len(line) + 1)
            lines.append(line)
    except csv.Error as exc:
        raise DocumentRejected(f"the CSV cannot be read: {exc}") from exc
    if header is None:
        return
    if not lines:  # a header only
        lines = ["; ".join(header)]
        reading.budget.spend(len(lines[0]))
    yield Section("\n".join(lines))


def _column(header: list[str], index: int) -> str:
    return header[index] if index < len(header) and header[index] else f"column {index + 1}"


def _json(reading: _Reading) -> Iterator[Section]:
    try:
        document = json.loads(_decode(reading.data))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DocumentRejected(f"the JSON cannot be read: {exc}") from exc
    lines: list[str] = []
    _flatten(document, "", lines, 0, reading.budget)
    yield Section("\n".join(lines))


def _flatten(value: Any, path: str, lines: list[str], depth: int, budget: TextBudget) -> None:
    if depth > _MAX_JSON_DEPTH:
        raise DocumentRejected(f"the JSON is nested deeper than {_MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), lines, depth + 1, budget)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", lines, depth + 1, budget)
    elif value is not None and str(value).strip():
        text = value if isinstance(value, str) else json.dumps(value)
        line = f"{path}: {text}" if path else text
        budget.spend(len(line) + 1)
        lines.append(line)


# -- binary formats -------------------------------------------------------------------


def _pdf(reading: _Reading) -> Iterator[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    data = reading.data
    if b"%PDF-" not in data[:1024]:
        raise DocumentRejected("the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentRejected("the PDF is encrypted")
        pages = reader.pages
        limit = reading.limits.max_pdf_pages
        if len(pages) > limit:
            raise DocumentRejected(
                f"{reading.label} (PDF) has {len(pages)} pages; the limit is {limit}"
            )
        for number, page in enumerate(pages, start=1):
            text = page.extract_text() or ""
            reading.budget.spend(len(text))
            yield Section(text, {"page": number})
    except DocumentRejected:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        # pypdf raises plain Python errors on many malformed files.
        raise DocumentRejected(f"the PDF cannot be read: {exc or type(exc).__name__}") from exc


def _docx(reading: _Reading) -> Iterator[Section]:
    yield Section("\n".join(docx_lines(reading.data, reading.limits, reading.budget, reading.name)))


_PARSERS: Final = {
    "txt": _plain,
    "md": _plain,
    "html": _html,
    "pdf": _pdf,
    "docx": _docx,
    "csv": _csv,
    "json": _json,
}
