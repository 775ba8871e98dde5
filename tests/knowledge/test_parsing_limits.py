"""Limits are enforced while a document is read, not after: the text limit stops every
format at the first piece of text past it, and a DOCX is unpacked a little at a time,
its decompressed bytes and compression ratio counted as they come. Every refusal names
the document and the limit."""

from __future__ import annotations

import json
import secrets
import tracemalloc

import pytest

from callwright.domain.knowledge.documents import DocumentFormat, DocumentRejected, ParseLimits
from callwright.domain.knowledge.parsing import parse_document
from tests.knowledge.conftest import docx_bomb, docx_with_body, make_docx, make_pdf

OVER_A_THOUSAND: dict[DocumentFormat, bytes] = {
    "txt": b"word " * 1000,
    "md": b"# Words\n\n" + b"word " * 1000,
    "html": b"<html><body><p>" + b"word " * 1000 + b"</p></body></html>",
    "csv": b"a,b\n" + b"x,y\n" * 1000,
    "json": json.dumps({"items": ["word"] * 1000}).encode(),
    "pdf": make_pdf(["word " * 300] * 5),
    "docx": make_docx([("p", "word " * 100)] * 20),
}


@pytest.mark.parametrize("document_format", sorted(OVER_A_THOUSAND))
def test_the_text_limit_stops_every_format_and_names_the_document(
    document_format: DocumentFormat,
) -> None:
    name = f"long.{document_format}"
    with pytest.raises(DocumentRejected) as refused:
        parse_document(
            OVER_A_THOUSAND[document_format],
            document_format,
            limits=ParseLimits(max_chars=1000),
            name=name,
        )
    assert refused.value.message == (
        f"{name!r} holds more than 1000 characters of text; the limit is 1000"
    )


def test_the_text_limit_stops_a_docx_before_the_rest_of_it_is_read() -> None:
    paragraph = b"<w:p><w:r><w:t>" + b"word " * 400 + b"</w:t></w:r></w:p>"
    broken_later = docx_with_body([paragraph, b"<w:p></w:mismatched>"])
    with pytest.raises(DocumentRejected, match="cannot be read"):
        parse_document(broken_later, "docx")
    with pytest.raises(DocumentRejected, match="the limit is 1000"):
        parse_document(broken_later, "docx", limits=ParseLimits(max_chars=1000))


def test_the_text_limit_stops_a_csv_before_the_rest_of_it_is_read() -> None:
    broken_later = b"a,b\n" + b"x,y\n" * 1000 + b'"' + b"z" * 200_000 + b'",w\n'
    with pytest.raises(DocumentRejected, match="CSV cannot be read"):
        parse_document(broken_later, "csv")
    with pytest.raises(DocumentRejected, match="the limit is 1000"):
        parse_document(broken_later, "csv", limits=ParseLimits(max_chars=1000))


def test_a_docx_bomb_is_refused_by_its_compression_ratio_without_being_unpacked() -> None:
    bomb = docx_bomb(100)
    assert len(bomb) < 1024 * 1024  # 100 MB of XML inside
    tracemalloc.start()
    try:
        with pytest.raises(DocumentRejected) as refused:
            parse_document(bomb, "docx", name="bomb.docx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.message == (
        "'bomb.docx' is compressed more than 100 to 1 (word/document.xml); "
        "the compression ratio limit is 100"
    )
    # Streamed: no part and no XML tree is ever held whole.
    assert peak < 16 * 1024 * 1024


def test_unpacked_bytes_are_counted_as_they_are_decompressed() -> None:
    # Random words barely compress: the ratio is fine, the size is what is too much.
    words = (
        b"<w:p><w:r><w:t>" + secrets.token_hex(2048).encode() + b"</w:t></w:r></w:p>"
        for _ in range(700)
    )
    document = docx_with_body(words)  # about 3 MB of XML
    parsed = parse_document(document, "docx", name="big.docx")
    assert parsed.char_count > 2_800_000
    with pytest.raises(DocumentRejected) as refused:
        parse_document(
            document,
            "docx",
            limits=ParseLimits(max_unpacked_bytes=2 * 1024 * 1024),
            name="big.docx",
        )
    assert refused.value.message == (
        "'big.docx' unpacks to more than 2097152 bytes; the limit is 2097152"
    )


def test_a_docx_declaring_a_dtd_is_refused() -> None:
    # The classic entity-expansion bomb needs a DTD; WordprocessingML never has one.
    entities = b'<!ENTITY lol0 "lol">' + b"".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">'.encode() for n in range(1, 10)
    )
    laughs = docx_with_body(
        [b"<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>"],
        prolog=b"<!DOCTYPE w:document [" + entities + b"]>",
    )
    with pytest.raises(DocumentRejected, match="declares a DTD"):
        parse_document(laughs, "docx")


def test_docx_text_boxes_are_read_once_and_markup_is_not_text() -> None:
    body = b"""
      <w:p xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">
        <w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>
        <w:r><w:t>Opening</w:t></w:r><w:r><w:tab/><w:t>hours</w:t></w:r>
        <w:del><w:r><w:delText>withdrawn</w:delText></w:r></w:del>
        <w:r><mc:AlternateContent>
          <mc:Choice Requires="wps"><w:drawing><w:txbxContent>
            <w:p><w:r><w:t>Boxed note</w:t></w:r></w:p>
          </w:txbxContent></w:drawing></mc:Choice>
          <mc:Fallback><w:pict><w:txbxContent>
            <w:p><w:r><w:t>Boxed note</w:t></w:r></w:p>
          </w:txbxContent></w:pict></mc:Fallback>
        </mc:AlternateContent></w:r>
      </w:p>
      <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Day</w:t></w:r></w:p></w:tc>
        <w:tc><w:p><w:r><w:t>Hours</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
    """
    text = "\n".join(
        section.text for section in parse_document(docx_with_body([body]), "docx").sections
    )
    assert text == "Boxed note\nOpening hours\nDay | Hours"
