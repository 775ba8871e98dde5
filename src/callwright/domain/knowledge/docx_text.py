"""The text of a DOCX, streamed out of its zip with every limit counted as it is read.

A DOCX is a zip of XML parts. Nothing here trusts the sizes the zip declares: each part
is decompressed in small reads, and the bytes that come out are counted against
``ParseLimits.max_unpacked_bytes`` (all parts read, together) and against the compressed
bytes consumed so far (``max_compression_ratio``, past the first MiB of a part), so a
deflate bomb is refused after a few MiB instead of being unpacked. The XML is parsed by
expat as it arrives, with no tree kept: memory stays flat whatever the size, and the
text budget stops the parse at the first character past the limit. A DTD (the way to
entity-expansion bombs; WordprocessingML never has one) is refused.

The text matches what python-docx gave: body paragraphs one per line, "Heading N" and
"Title" paragraphs as Markdown headings, table rows as ``cell | cell`` lines (a nested
table's text joins its outer cell). Text boxes are read once (their VML fallback copy
is skipped); deleted text and field codes are not text.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Final
from xml.parsers import expat

from callwright.domain.knowledge.documents import (
    DocumentRejected,
    ParseLimits,
    TextBudget,
    document_label,
)

__all__ = ["docx_lines"]

_READ_BYTES: Final = 16 * 1024
# Small parts (styles, relationships) compress far better than 100:1 when they are
# mostly repeated markup; the ratio is judged once a part has produced this much.
_RATIO_GRACE_BYTES: Final = 1024 * 1024
_WORD_NAMESPACES: Final = frozenset(
    {
        "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "http://purl.oclc.org/ooxml/wordprocessingml/main",  # ISO 29500 strict
    }
)
_FALLBACK: Final = "http://schemas.openxmlformats.org/markup-compatibility/2006 Fallback"
_RELATIONSHIP: Final = "http://schemas.openxmlformats.org/package/2006/relationships Relationship"
_HEADING_STYLE: Final = re.compile(r"heading (\d)", re.IGNORECASE)


class _CountingBytes(io.BytesIO):
    """The archive's bytes, counting what the zip reader consumes: the compressed
    input behind every decompressed byte."""

    consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.consumed += len(data)
        return data


class _Archive:
    """The DOCX's zip, read part by part within the limits."""

    def __init__(self, data: bytes, limits: ParseLimits, label: str) -> None:
        self._source = _CountingBytes(data)
        self._limits = limits
        self._label = label
        self.unpacked = 0
        try:
            self._zip = zipfile.ZipFile(self._source)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise DocumentRejected(f"{label} is not a DOCX (not a zip archive)") from exc

    def has(self, name: str) -> bool:
        try:
            self._zip.getinfo(name)
        except KeyError:
            return False
        return True

    def stream(self, name: str) -> Iterator[bytes]:
        """The part's bytes, decompressed a little at a time, counted as they come."""
        info = self._zip.getinfo(name)
        if info.flag_bits & 0x1:
            raise DocumentRejected(f"{self._label} is encrypted")
        limits = self._limits
        produced = 0
        try:
            with self._zip.open(info) as part:
                consumed_before = self._source.consumed
                while chunk := part.read(_READ_BYTES):
                    produced += len(chunk)
                    self.unpacked += len(chunk)
                    if self.unpacked > limits.max_unpacked_bytes:
                        raise DocumentRejected(
                            f"{self._label} unpacks to more than {limits.max_unpacked_bytes} "
                            f"bytes; the limit is {limits.max_unpacked_bytes}"
                        )
                    consumed = max(1, self._source.consumed - consumed_before)
                    if (
                        produced > _RATIO_GRACE_BYTES
                        and produced > consumed * limits.max_compression_ratio
                    ):
                        raise DocumentRejected(
                            f"{self._label} is compressed more than "
                            f"{limits.max_compression_ratio} to 1 ({name}); the compression "
                            f"ratio limit is {limits.max_compression_ratio}"
                        )
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise DocumentRejected(f"the DOCX cannot be read ({name}): {exc}") from exc

    def close(self) -> None:
        self._zip.close()


def _parse_xml(
    archive: _Archive,
    name: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Feed a part through expat as it is decompressed; names are "namespace local"."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler = start
    if end is not None:
        parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text

    def refuse_dtd(*_args: object) -> None:
        raise DocumentRejected(f"the DOCX part {name} declares a DTD")

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    try:
        for chunk in archive.stream(name):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise DocumentRejected(f"the DOCX cannot be read ({name}): {exc}") from exc


def _split(name: str) -> tuple[str, str]:
    namespace, _, local = name.rpartition(" ")
    return namespace, local


def _relationship_targets(archive: _Archive, rels_name: str, part_dir: str) -> dict[str, str]:
    """Relationship type (its last path segment: "officeDocument", "styles") → part."""
    targets: dict[str, str] = {}
    if not archive.has(rels_name):
        return targets

    def start(element: str, attributes: dict[str, str]) -> None:
        if element == _RELATIONSHIP and attributes.get("TargetMode") != "External":
            kind = attributes.get("Type", "").rsplit("/", 1)[-1]
            target = attributes.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else f"{part_dir}/{target}"
            targets.setdefault(kind, posixpath.normpath(path).lstrip("/"))

    _parse_xml(archive, rels_name, start)
    return targets


def _style_names(archive: _Archive, styles_part: str | None) -> dict[str, str]:
    """Paragraph style id → its name ("Heading1" → "heading 1")."""
    names: dict[str, str] = {}
    if styles_part is None or not archive.has(styles_part):
        return names
    current: list[str] = []

    def start(element: str, attributes: dict[str, str]) -> None:
        namespace, local = _split(element)
        if namespace not in _WORD_NAMESPACES:
            return
        if local == "style":
            current[:] = [attributes.get(f"{namespace} styleId", "")]
        elif local == "name" and current and current[0]:
            names.setdefault(current[0], attributes.get(f"{namespace} val", ""))

    _parse_xml(archive, styles_part, start)
    return names


class _BodyText:
    """expat handlers turning the main document part into lines of text."""

    def __init__(self, styles: dict[str, str], budget: TextBudget) -> None:
        self.lines: list[str] = []
        self._styles = styles
        self._budget = budget
        # Open paragraphs (a text box's paragraphs sit inside a paragraph of the body).
        self._paragraphs: list[list[str]] = []
        self._paragraph_styles: list[str] = []
        self._runs = 0
        self._text = 0  # inside <w:t>
        self._skipped = 0  # inside an mc:Fallback: a second copy of what precedes it
        self._tables = 0
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def _piece(self, text: str) -> None:
        self._budget.spend(len(text))
        self._paragraphs[-1].append(text)

    def start(self, element: str, attributes: dict[str, str]) -> None:
        if element == _FALLBACK or self._skipped:
            self._skipped += 1
            return
        namespace, local = _split(element)
        if namespace not in _WORD_NAMESPACES:
            return
        if local == "p":
            self._paragraphs.append([])
            self._paragraph_styles.append("")
        elif local == "pStyle" and self._paragraph_styles:
            self._paragraph_styles[-1] = attributes.get(f"{namespace} val", "")
        elif local == "r":
            self._runs += 1
        elif local == "t" and self._paragraphs:
            self._text += 1
        elif local == "tab" and self._runs and self._paragraphs:
            self._piece("\t")  # a tab in a run; a tab stop in w:tabs is not text
        elif local in ("br", "cr") and self._runs and self._paragraphs:
            self._piece("\n")
        elif local == "tbl":
            self._tables += 1
        elif local == "tr" and self._tables == 1:
            self._row = []
        elif local == "tc" and self._tables == 1:
            self._cell = []

    def end(self, element: str) -> None:
        if self._skipped:
            self._skipped -= 1
            return
        namespace, local = _split(element)
        if namespace not in _WORD_NAMESPACES:
            return
        if local == "t" and self._text:
            self._text -= 1
        elif local == "r" and self._runs:
            self._runs -= 1
        elif local == "p" and self._paragraphs:
            self._end_paragraph()
        elif local == "tc" and self._tables == 1 and self._cell is not None:
            if self._row is not None:
                self._row.append("\n".join(self._cell).strip())
            self._cell = None
        elif local == "tr" and self._tables == 1 and self._row is not None:
            self.lines.append(" | ".join(cell for cell in self._row if cell))
            self._row = None
        elif local == "tbl" and self._tables:
            self._tables -= 1
            if not self._tables:
                self.lines.append("")

    def characters(self, data: str) -> None:
        if self._text and not self._skipped and self._paragraphs:
            self._piece(data)

    def _end_paragraph(self) -> None:
        text = "".join(self._paragraphs.pop()).strip()
        style = self._styles.get(self._paragraph_styles.pop(), "")
        if self._cell is not None:
            self._cell.append(text)
            return
        level = _HEADING_STYLE.fullmatch(style)
        if level and text:
            self.lines.extend(["", "#" * int(level.group(1)) + " " + text, ""])
        elif style.lower() == "title" and text:
            self.lines.extend(["# " + text, ""])
        else:
            self.lines.append(text)


def docx_lines(data: bytes, limits: ParseLimits, budget: TextBudget, name: str | None) -> list[str]:
    """The document's lines of text (headings as Markdown, table rows as cells)."""
    label = document_label(name)
    archive = _Archive(data, limits, label)
    try:
        package = _relationship_targets(archive, "_rels/.rels", "")
        main = package.get("officeDocument", "word/document.xml")
        if not archive.has(main):
            raise DocumentRejected(f"{label} is not a DOCX (no {main} in the archive)")
        directory, base = posixpath.split(main)
        parts = _relationship_targets(
            archive, posixpath.join(directory, "_rels", base + ".rels"), directory
        )
        body = _BodyText(_style_names(archive, parts.get("styles")), budget)
        _parse_xml(archive, main, body.start, body.end, body.characters)
        return body.lines
    finally:
        archive.close()
