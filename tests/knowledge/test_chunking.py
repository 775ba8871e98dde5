"""Chunking: every strategy honours chunk_size and chunk_overlap, cuts where it says it
does, and keeps exact offsets and source metadata."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callwright.domain.knowledge.chunking import ChunkingStrategy, chunk_document, chunk_text
from callwright.domain.knowledge.documents import ParsedDocument, Section

STRATEGIES: tuple[ChunkingStrategy, ...] = ("recursive", "fixed", "sentence", "markdown")

PROSE = (
    "Our store opens at nine. It closes at six on weekdays.\n\n"
    "On Saturdays we open at ten! We close at two.\n\n"
    "Returns are accepted within thirty days. Bring the receipt. Gift cards are final."
)


def texts(text: str, strategy: ChunkingStrategy, size: int, overlap: int) -> list[str]:
    return [text[s:e] for s, e in chunk_text(text, strategy, size, overlap)]


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("abc de.!?\n#`")), min_size=0, max_size=600),
    strategy=st.sampled_from(STRATEGIES),
    size=st.integers(min_value=5, max_value=120),
    overlap_ratio=st.floats(min_value=0, max_value=0.9),
)
def test_every_strategy_bounds_chunks_and_covers_the_text(
    text: str, strategy: ChunkingStrategy, size: int, overlap_ratio: float
) -> None:
    overlap = min(size - 1, int(size * overlap_ratio))
    spans = chunk_text(text, strategy, size, overlap)
    covered = set()
    for start, end in spans:
        assert 0 <= start < end <= len(text)
        assert end - start <= size
        assert not text[start].isspace()
        assert not text[end - 1].isspace()
        covered.update(range(start, end))
    # Nothing but whitespace is left out.
    assert all(text[i].isspace() for i in range(len(text)) if i not in covered)
    # Chunks advance, and consecutive chunks share at most ``overlap`` characters.
    for (s1, e1), (s2, e2) in itertools.pairwise(spans):
        assert s2 > s1
        assert e2 > e1
        assert max(0, e1 - s2) <= overlap


def test_fixed_windows_step_by_size_minus_overlap() -> None:
    text = "abcdefghijklmnopqrstuvwxyz"
    assert texts(text, "fixed", 10, 3) == ["abcdefghij", "hijklmnopq", "opqrstuvwx", "vwxyz"]
    assert texts(text, "fixed", 10, 0) == ["abcdefghij", "klmnopqrst", "uvwxyz"]


def test_recursive_keeps_paragraphs_whole_when_they_fit() -> None:
    chunks = texts(PROSE, "recursive", 90, 0)
    assert chunks == [
        "Our store opens at nine. It closes at six on weekdays.",
        "On Saturdays we open at ten! We close at two.",
        "Returns are accepted within thirty days. Bring the receipt. Gift cards are final.",
    ]


def test_recursive_falls_back_to_sentences_then_words() -> None:
    chunks = texts(PROSE, "recursive", 45, 0)
    assert "Our store opens at nine." in chunks
    assert all(len(chunk) <= 45 for chunk in chunks)
    # No word is cut in half when spaces allow.
    words = set(PROSE.split())
    assert all(set(chunk.split()) <= words for chunk in chunks)


def test_sentence_packs_whole_sentences_and_overlaps_by_sentences() -> None:
    chunks = texts(PROSE, "sentence", 70, 30)
    assert chunks[0] == "Our store opens at nine. It closes at six on weekdays."
    # The overlap is the previous chunk's last sentence(s) that fit in 30 characters.
    assert chunks[1].startswith("On Saturdays we open at ten! We close at two.")
    assert any(chunk.startswith("We close at two.") for chunk in chunks[1:])
    for chunk in chunks:
        assert chunk[-1] in ".!?"


def test_overlap_repeats_the_end_of_the_previous_chunk() -> None:
    text = " ".join(f"word{i}" for i in range(60))
    without = texts(text, "recursive", 100, 0)
    with_overlap = texts(text, "recursive", 100, 40)
    assert len(with_overlap) > len(without)
    for first, second in itertools.pairwise(with_overlap):
        shared = first.split()[-1]
        assert shared in second.split()[:8]


MARKDOWN = """Intro line.

# Pricing

Plans start at 10 euros.

## Refunds

Refunds within 30 days.

```python
# not a heading
print("hi")
```

# Support

Email us.
"""


def test_markdown_never_straddles_headings_and_knows_its_heading_path() -> None:
    document = ParsedDocument("md", (Section(MARKDOWN),))
    chunks = chunk_document(document, "markdown", 200, 0)
    assert [chunk.heading for chunk in chunks] == [
        None,
        "Pricing",
        "Pricing > Refunds",
        "Support",
    ]
    assert chunks[2].text.startswith("## Refunds")
    assert "# not a heading" in chunks[2].text  # a comment in a code fence
    assert chunks[2].metadata["heading"] == "Pricing > Refunds"
    assert chunks[2].embedding_text.startswith("Pricing > Refunds\n")
    # The recursive strategy on the same text does mix sections.
    mixed = chunk_document(document, "recursive", 200, 0)
    assert any("Pricing" in c.text and "Refunds within" in c.text for c in mixed)
    assert all(c.heading is None for c in mixed)


def test_chunks_keep_exact_offsets_and_page_metadata() -> None:
    document = ParsedDocument(
        "pdf",
        (
            Section("First page text about warranties.", {"page": 1}),
            Section("Second page about shipping. " * 4, {"page": 2}),
        ),
    )
    chunks = chunk_document(document, "fixed", 60, 10)
    joined = "\n\n".join(section.text for section in document.sections)
    for chunk in chunks:
        assert joined[chunk.metadata["start"] : chunk.metadata["end"]] == chunk.text
    assert chunks[0].metadata["page"] == 1
    assert chunks[0].metadata.get("page_end") == 2  # crosses into page 2
    assert chunks[-1].metadata["page"] == 2
    assert "page_end" not in chunks[-1].metadata


@pytest.mark.parametrize(
    ("size", "overlap", "message"),
    [(0, 0, "chunk_size"), (10, 10, "chunk_overlap"), (10, -1, "chunk_overlap")],
)
def test_invalid_sizes_are_refused(size: int, overlap: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chunk_text("text", "recursive", size, overlap)
