"""What every document parser shares: the formats and how one is recognised, the
limits that bound the cost of reading a document, the text budget spent as text is
extracted, the parsed result, and the errors (``DocumentRejected`` 422,
``UnsupportedDocumentType`` 415). ``parsing`` and ``docx_text`` both build on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Final, Literal

from callwright.errors import CallwrightError, ValidationFailed

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_MAX_UNPACKED_BYTES",
    "MAX_COMPRESSION_RATIO",
    "MAX_EXTRACTED_CHARS",
    "MAX_PDF_PAGES",
    "DocumentFormat",
    "DocumentRejected",
    "ParseLimits",
    "ParsedDocument",
    "Section",
    "TextBudget",
    "UnsupportedDocumentType",
    "detect_format",
    "document_label",
]

DocumentFormat = Literal["txt", "md", "html", "pdf", "docx", "csv", "json"]

MAX_EXTRACTED_CHARS: Final = 5_000_000
MAX_PDF_PAGES: Final = 2_000
# The default of Settings.knowledge_max_unpacked_bytes (settings cannot import domain).
DEFAULT_MAX_UNPACKED_BYTES: Final = 100 * 1024 * 1024
# Apache POI's default for OOXML (ZipSecureFile's minimum inflate ratio 0.01): real
# documents compress a few to a few dozen times; deflate bombs, hundreds of times.
MAX_COMPRESSION_RATIO: Final = 100

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
class ParseLimits:
    """How much one document may cost to read. ``max_unpacked_bytes`` counts the bytes
    decompressed from an archive (DOCX), ``max_compression_ratio`` compares them with
    the compressed bytes read so far, ``max_chars`` counts the text extracted."""

    max_chars: int = MAX_EXTRACTED_CHARS
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES
    max_compression_ratio: int = MAX_COMPRESSION_RATIO
    max_pdf_pages: int = MAX_PDF_PAGES


def document_label(name: str | None) -> str:
    """How messages name a document: its name quoted, else "the document"."""
    return repr(name) if name else "the document"


class TextBudget:
    """The characters a document may yield, spent as each parser extracts them: the
    parse stops at the first piece of text past the limit."""

    def __init__(self, limit: int, name: str | None) -> None:
        self.limit = limit
        self.spent = 0
        self._name = name

    def spend(self, characters: int) -> None:
        self.spent += characters
        if self.spent > self.limit:
            raise DocumentRejected(
                f"{document_label(self._name)} holds more than {self.limit} characters of "
                f"text; the limit is {self.limit}"
            )


@dataclass(frozen=True, slots=True)
class Section:
    """A stretch of the document's text; ``metadata`` says where it came from
    (``{"page": 3}`` for a PDF page)."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """A document's text, in sections, as its format's parser extracted it."""

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
