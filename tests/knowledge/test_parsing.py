"""Each format's text comes out, with the structure that helps retrieval; bad files are
refused with a reason (422) and unknown formats with a 415."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from callwright.domain.knowledge.documents import (
    DocumentFormat,
    DocumentRejected,
    ParseLimits,
    UnsupportedDocumentType,
    detect_format,
)
from callwright.domain.knowledge.parsing import parse_document
from tests.knowledge.conftest import make_docx, make_pdf


def text_of(data: bytes, document_format: DocumentFormat) -> str:
    return "\n\n".join(section.text for section in parse_document(data, document_format).sections)


def test_detect_format_by_extension_then_content_type() -> None:
    assert detect_format("Guide.PDF", "application/octet-stream") == "pdf"
    assert detect_format("notes.markdown", None) == "md"
    assert detect_format("C:\\Users\\a\\faq.docx", None) == "docx"
    assert detect_format(None, "text/csv; charset=utf-8") == "csv"
    assert detect_format("data", "application/json") == "json"
    with pytest.raises(UnsupportedDocumentType) as raised:
        detect_format("photo.png", "image/png")
    assert raised.value.status_code == 415
    assert "photo.png" in raised.value.message


def test_plain_text_decodes_utf8_bom_utf16_and_windows_1252() -> None:
    assert text_of("\ufeffCafé au lait".encode(), "txt") == "Café au lait"
    assert text_of("Grüße".encode("utf-16"), "txt") == "Grüße"
    assert text_of("naïve – quotes “ok”".encode("cp1252"), "txt") == "naïve – quotes “ok”"


def test_plain_text_normalises_whitespace_and_drops_control_characters() -> None:
    raw = b"line one\r\nline\ttwo  \x07\r\n\r\n\r\n\r\nlast"
    assert text_of(raw, "md") == "line one\nline two\n\nlast"


def test_binary_file_as_text_is_rejected() -> None:
    with pytest.raises(DocumentRejected, match="binary"):
        parse_document(b"\x89PNG\r\n\x1a\n\x00\x00\x00", "txt")


def test_html_visible_text_with_headings_as_markdown() -> None:
    html = b"""<html><head><title>T</title><style>p{color:red}</style>
    <script>var secret = 1;</script></head><body>
    <h1>Returns</h1><p>Items can be returned within <b>30 days</b>.</p>
    <h2>Exceptions</h2><ul><li>Gift cards</li><li>Food &amp; drink</li></ul>
    <table><tr><td>Plan</td><td>Price</td></tr></table></body></html>"""
    text = text_of(html, "html")
    assert "# Returns" in text
    assert "## Exceptions" in text
    assert "Items can be returned within 30 days." in text
    assert "Food & drink" in text
    assert "secret" not in text
    assert "color" not in text
    assert "Plan | Price" in text


def test_pdf_pages_are_sections_with_page_numbers() -> None:
    data = make_pdf(["The warranty lasts two years.", "Shipping is free over 50 euros."])
    sections = parse_document(data, "pdf").sections
    assert [section.metadata for section in sections] == [{"page": 1}, {"page": 2}]
    assert "warranty lasts two years" in sections[0].text
    assert "Shipping is free" in sections[1].text


def test_corrupt_and_fake_pdfs_are_rejected_with_a_reason() -> None:
    with pytest.raises(DocumentRejected, match="not a PDF"):
        parse_document(b"hello", "pdf")
    truncated = make_pdf(["Some text here."])[:200]
    with pytest.raises(DocumentRejected, match="PDF"):
        parse_document(truncated, "pdf")


def test_pdf_without_text_is_rejected() -> None:
    with pytest.raises(DocumentRejected, match="no text"):
        parse_document(make_pdf([""]), "pdf")


def test_pdf_page_limit() -> None:
    with pytest.raises(DocumentRejected, match=r"'three.pdf' \(PDF\) has 3 pages; the limit is 2"):
        parse_document(
            make_pdf(["a", "b", "c"]), "pdf", limits=ParseLimits(max_pdf_pages=2), name="three.pdf"
        )


def test_docx_headings_paragraphs_and_tables() -> None:
    data = make_docx(
        [
            ("h1", "Opening hours"),
            ("p", "We open at nine on weekdays."),
            ("h2", "Holidays"),
            ("p", "Closed on public holidays."),
            ("table", "Day | Hours\nSaturday | 10-14"),
        ]
    )
    text = text_of(data, "docx")
    assert "# Opening hours" in text
    assert "## Holidays" in text
    assert "We open at nine on weekdays." in text
    assert "Saturday | 10-14" in text


def test_docx_that_is_not_a_zip_or_not_a_document_is_rejected() -> None:
    with pytest.raises(DocumentRejected, match="not a zip"):
        parse_document(b"PK\x03\x04 not really", "docx")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(DocumentRejected, match=r"'x\.docx' is not a DOCX"):
        parse_document(buffer.getvalue(), "docx", name="x.docx")


def test_csv_rows_describe_themselves() -> None:
    data = b"product;price;notes\nKettle;25;\nToaster;40;two slots\n"
    assert (
        text_of(data, "csv")
        == "product: Kettle; price: 25\nproduct: Toaster; price: 40; notes: two slots"
    )


def test_json_becomes_path_value_lines() -> None:
    data = json.dumps(
        {"faq": [{"q": "Do you ship abroad?", "a": "Yes, to the EU."}], "open": True, "x": None}
    ).encode()
    assert text_of(data, "json") == (
        "faq[0].q: Do you ship abroad?\nfaq[0].a: Yes, to the EU.\nopen: true"
    )


def test_invalid_or_too_deep_json_is_rejected() -> None:
    with pytest.raises(DocumentRejected, match="JSON cannot be read"):
        parse_document(b"{not json", "json")
    deep = ("[" * 100 + "1" + "]" * 100).encode()
    with pytest.raises(DocumentRejected, match="nested deeper"):
        parse_document(deep, "json")


def test_extracted_text_limit() -> None:
    with pytest.raises(DocumentRejected, match="the limit is 10"):
        parse_document(b"more than ten characters", "txt", limits=ParseLimits(max_chars=10))


def test_nul_and_lone_surrogates_never_reach_the_database() -> None:
    data = json.dumps({"a": "x\u0000y", "b": "\ud800z"}).encode()
    text = text_of(data, "json")
    assert "\x00" not in text
    text.encode("utf-8")  # no lone surrogate left
