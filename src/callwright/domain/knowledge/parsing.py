"""Documents → plain text sections, with where each section came from.

Formats: txt, md, html, pdf (pypdf), docx (python-docx), csv, json. Every parser is
blocking CPU work: call ``parse_document`` in a worker thread, never on the event loop.

Structure that helps retrieval is kept as text: HTML and DOCX headings become Markdown
``#`` headings (so the ``markdown`` chunking strategy sees them), CSV rows become
``column: value`` lines, JSON becomes ``path: value`` lines. PDF pages are sections, so
chunks know their page.

Limits keep one upload from exhausting the process: the raw size is checked by the API
(413); here the number of PDF pages, the unpacked size of a DOCX and the extracted text
are bounded, and every failure is a ``DocumentRejected`` naming the reason (422), or
``UnsupportedDocumentType`` (415) for a format we do not read.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePosixPath
from typing import Any, Final, Literal

from callwright.errors import CallwrightError, ValidationFailed

__all__ = [
    "CONTENT_TYPES",
    "MAX_EXTRACTED_CHARS",
    "DocumentFormat",
    "DocumentRejected",
    "ParsedDocument",
    "Section",
    "UnsupportedDocumentType",
    "detect_format",
    "parse_document",
]

DocumentFormat = Literal["txt", "md", "html", "pdf", "docx", "csv", "json"]

MAX_EXTRACTED_CHARS: Final = 5_000_000
MAX_PDF_PAGES: Final = 2_000
MAX_DOCX_UNPACKED_BYTES: Final = 200 * 1024 * 1024
_MAX_JSON_DEPTH: Final = 64

_EXTENSIONS: Final[dict[str, DocumentFormat]] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "csv",
    ".json": "json",
}
CONTENT_TYPES: Final[dict[str, DocumentFormat]] = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/csv": "csv",
    "application/csv": "csv",
    "application/json": "json",
}


class UnsupportedDocumentType(CallwrightError):
    """A format callwright does not read (415)."""

    status_code = 415
    code = "unsupported_media_type"


class DocumentRejected(ValidationFailed):
    """A document in a supported format that cannot be read (422): corrupt,
    encrypted, empty, or over a limit. The message is the document's failure reason."""

    code = "document_rejected"


@dataclass(frozen=True, slots=True)
class Section:
    """A stretch of the document's text; ``metadata`` says where it came from
    (``{"page": 3}`` for a PDF page)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    format: DocumentFormat
    sections: tuple[Section, ...]

    @property
    def char_count(self) -> int:
        return sum(len(section.text) for section in self.sections)


def detect_format(filename: str | None, content_type: str | None) -> DocumentFormat:
    """The format from the file name's extension, else the declared content type."""
    if filename:
        suffix = PurePosixPath(filename.replace("\\", "/")).suffix.lower()
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in CONTENT_TYPES:
        return CONTENT_TYPES[media_type]
    what = f"{filename!r}" if filename else "the document"
    raise UnsupportedDocumentType(
        f"cannot read {what} ({media_type or 'no content type'}): supported formats are "
        "txt, md, html, pdf, docx, csv and json"
    )


def parse_document(data: bytes, document_format: DocumentFormat) -> ParsedDocument:
    """Extract the text of ``data``; blocking (run it in a thread)."""
    parser = _PARSERS[document_format]
    sections = tuple(
        Section(clean, section.metadata)
        for section in parser(data)
        if (clean := _clean(section.text)).strip()
    )
    parsed = ParsedDocument(document_format, sections)
    if not sections:
        raise DocumentRejected(f"the {document_format} document contains no text")
    if parsed.char_count > MAX_EXTRACTED_CHARS:
        raise DocumentRejected(
            f"the document holds {parsed.char_count} characters of text; "
            f"the limit is {MAX_EXTRACTED_CHARS}"
        )
    return parsed


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


def _plain(data: bytes) -> Iterator[Section]:
    yield Section(_decode(data))


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

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n")
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data.replace("\n", " "))


def _html(data: bytes) -> Iterator[Section]:
    parser = _HtmlText()
    parser.feed(_decode(data))
    parser.close()
    text = "".join(parser.parts)
    yield Section(re.sub(r"[ ]*\n[ ]*", "\n", text))


def _csv(data: bytes) -> Iterator[Section]:
    text = _decode(data)
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise DocumentRejected(f"the CSV cannot be read: {exc}") from exc
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return
    header = [cell.strip() for cell in rows[0]]
    lines = []
    for row in rows[1:]:
        # Each row describes itself ("name: Ada; city: Paris"), so a chunk of rows
        # is understandable without the header line.
        cells = [
            f"{header[i] if i < len(header) and header[i] else f'column {i + 1}'}: {value.strip()}"
            for i, value in enumerate(row)
            if value.strip()
        ]
        lines.append("; ".join(cells))
    if not lines:  # a header only
        lines = ["; ".join(header)]
    yield Section("\n".join(lines))


def _json(data: bytes) -> Iterator[Section]:
    try:
        document = json.loads(_decode(data))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DocumentRejected(f"the JSON cannot be read: {exc}") from exc
    lines: list[str] = []
    _flatten(document, "", lines, 0)
    yield Section("\n".join(lines))


def _flatten(value: Any, path: str, lines: list[str], depth: int) -> None:
    if depth > _MAX_JSON_DEPTH:
        raise DocumentRejected(f"the JSON is nested deeper than {_MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), lines, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{path}[{index}]", lines, depth + 1)
    elif value is not None and str(value).strip():
        text = value if isinstance(value, str) else json.dumps(value)
        lines.append(f"{path}: {text}" if path else text)


# -- binary formats -------------------------------------------------------------------


def _pdf(data: bytes) -> Iterator[Section]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if b"%PDF-" not in data[:1024]:
        raise DocumentRejected("the file is not a PDF (no %PDF- header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentRejected("the PDF is encrypted")
        pages = reader.pages
        if len(pages) > MAX_PDF_PAGES:
            raise DocumentRejected(f"the PDF has {len(pages)} pages; the limit is {MAX_PDF_PAGES}")
        extracted = 0
        for number, page in enumerate(pages, start=1):
            text = page.extract_text() or ""
            extracted += len(text)
            if extracted > MAX_EXTRACTED_CHARS:
                raise DocumentRejected(
                    f"the PDF holds more than {MAX_EXTRACTED_CHARS} characters of text"
                )
            yield Section(text, {"page": number})
    except DocumentRejected:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        # pypdf raises plain Python errors on many malformed files.
        raise DocumentRejected(f"the PDF cannot be read: {exc or type(exc).__name__}") from exc


def _docx(data: bytes) -> Iterator[Section]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise DocumentRejected("the file is not a DOCX (not a zip archive)") from exc
    if unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise DocumentRejected(
            f"the DOCX unpacks to {unpacked} bytes; the limit is {MAX_DOCX_UNPACKED_BYTES}"
        )
    import docx
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    cells = [cell.text.strip() for cell in row.cells]
                    lines.append(" | ".join(cell for cell in cells if cell))
                lines.append("")
                continue
            text = block.text.strip()
            style = (block.style.name if block.style is not None else "") or ""
            level = re.fullmatch(r"Heading (\d)", style)
            if level and text:
                lines.extend(["", "#" * int(level.group(1)) + " " + text, ""])
            elif style == "Title" and text:
                lines.extend(["# " + text, ""])
            else:
                lines.append(text)
    except (KeyError, ValueError, zipfile.BadZipFile, AttributeError) as exc:
        raise DocumentRejected(f"the DOCX cannot be read: {exc or type(exc).__name__}") from exc
    except Exception as exc:  # lxml's XMLSyntaxError and docx's own errors
        if type(exc).__module__.startswith(("lxml", "docx")):
            raise DocumentRejected(f"the DOCX cannot be read: {exc}") from exc
        raise
    yield Section("\n".join(lines))


_PARSERS: Final = {
    "txt": _plain,
    "md": _plain,
    "html": _html,
    "pdf": _pdf,
    "docx": _docx,
    "csv": _csv,
    "json": _json,
}
