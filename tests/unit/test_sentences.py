"""Sentence chunking of streamed LLM text for TTS."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callwright.engine.sentences import SentenceChunker


def chunk(
    text: str,
    deltas: list[str] | None = None,
    *,
    min_chars: int = 20,
    first_sentence_min_chars: int = 0,
    eager: bool = False,
) -> list[str]:
    """Sentences emitted for ``text`` pushed as ``deltas`` (default: one per char)."""
    chunker = SentenceChunker(
        min_chars=min_chars, first_sentence_min_chars=first_sentence_min_chars, eager=eager
    )
    sentences: list[str] = []
    for delta in deltas if deltas is not None else list(text):
        sentences += chunker.push(delta)
    rest = chunker.flush()
    return [*sentences, rest] if rest is not None else sentences


def split(text: str, *, eager: bool = False) -> list[str]:
    """Sentences, pushed one character at a time, with merging of short ones turned off."""
    return chunk(text, min_chars=0, eager=eager)


# --- boundaries ---------------------------------------------------------------------


def test_period_exclamation_question_and_ellipsis_end_sentences() -> None:
    text = "It works. Great! Does it? Yes… Good."
    assert split(text) == ["It works.", "Great!", "Does it?", "Yes…", "Good."]


def test_closing_quotes_and_brackets_stay_with_their_sentence() -> None:
    assert split('He said "no." (Really!) Then left.') == [
        'He said "no."',
        "(Really!)",
        "Then left.",
    ]


def test_runs_of_terminators_stay_together() -> None:
    assert split("What?! No way!!! Okay.") == ["What?!", "No way!!!", "Okay."]


def test_newline_ends_a_sentence_without_punctuation() -> None:
    assert split("Dear caller,\nthanks for waiting\n\nBye") == [
        "Dear caller,",
        "thanks for waiting",
        "Bye",
    ]


def test_cjk_full_stops_need_no_whitespace() -> None:
    assert split("今日は晴れです。明日は？雨です！") == ["今日は晴れです。", "明日は？", "雨です！"]


def test_cjk_closing_bracket_stays_with_its_sentence() -> None:
    assert split("「はい。」そうです。") == ["「はい。」", "そうです。"]


def test_semicolon_and_colon_do_not_end_sentences() -> None:
    assert split("I checked; it is open: come by. Bye.") == [
        "I checked; it is open: come by.",
        "Bye.",
    ]


# --- things that look like boundaries but are not -----------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Mr. Smith and Mrs. Jones met Dr. Brown on Baker St. yesterday.",
        "Bring fruit, e.g. apples, i.e. something fresh.",
        "Apples vs. Pears etc. Are on the menu.",
        "We open at 9 a.m. Monday and close at 5 p.m. Friday.",
        "She moved to the U.S. Last year.",
        "It costs 3.14 dollars.",
        "Call at 10:30 tomorrow.",
        "Visit example.com or write to help@example.com today.",
        "Is J. R. R. Tolkien your favourite author?",
        "I was thinking... maybe later.",
        "Well… perhaps not.",
        "Prices are approx. twenty euros.",
        "Open example.com/search?q=1 now.",
    ],
)
def test_no_split_inside(sentence: str) -> None:
    assert split(f"{sentence} Next one.") == [sentence, "Next one."]


def test_numbered_list_items_are_not_split_after_the_number() -> None:
    text = "Do this:\n1. Open the app.\n2. Tap Settings."
    assert split(text) == ["Do this:", "1. Open the app.", "2. Tap Settings."]


def test_list_number_after_a_colon_is_not_a_sentence_end() -> None:
    assert split("Steps: 1. Open it. 2. Close it.") == ["Steps: 1. Open it.", "2. Close it."]


def test_a_number_ending_a_sentence_still_ends_it() -> None:
    assert split("I counted to 3. Then I stopped.") == ["I counted to 3.", "Then I stopped."]


def test_ellipsis_before_a_capital_ends_the_sentence() -> None:
    assert split("Hmm... Let me check.") == ["Hmm...", "Let me check."]


def test_the_pronoun_i_is_not_an_initial() -> None:
    assert split("So did I. Then we left.") == ["So did I.", "Then we left."]


def test_custom_abbreviations() -> None:
    text = "Es kostet ca. Zehn Euro. Danke."
    assert split(text) == ["Es kostet ca.", "Zehn Euro.", "Danke."]
    chunker = SentenceChunker(min_chars=0, abbreviations={"ca"})
    assert chunker.push(text + " ") == ["Es kostet ca. Zehn Euro."]
    assert chunker.flush() == "Danke."


# --- latency ------------------------------------------------------------------------


def test_sentence_is_emitted_in_the_same_push_when_whitespace_follows() -> None:
    chunker = SentenceChunker(min_chars=0)
    assert chunker.push("Sure thing.\n\n") == ["Sure thing."]
    assert chunker.push("Hello") == []
    assert chunker.push("! How") == ["Hello!"]


def test_newline_is_decided_at_once() -> None:
    chunker = SentenceChunker(min_chars=0)
    assert chunker.push("First line.") == []
    assert chunker.push("\n") == ["First line."]


def test_trailing_terminator_is_held_until_the_next_character() -> None:
    chunker = SentenceChunker(min_chars=0)
    assert chunker.push("Pi is 3.") == []
    assert chunker.push("14 exactly") == []
    assert chunker.push(".") == []
    assert chunker.push(" Yes") == ["Pi is 3.14 exactly."]
    assert chunker.flush() == "Yes"


def test_period_waits_for_the_next_word_to_rule_out_lowercase_continuation() -> None:
    chunker = SentenceChunker(min_chars=0)
    assert chunker.push("See you soon. ") == []
    assert chunker.push("Bye") == ["See you soon."]


def test_eager_emits_trailing_exclamation_and_question_at_once() -> None:
    chunker = SentenceChunker(min_chars=0, eager=True)
    assert chunker.push("Hello!") == ["Hello!"]
    assert chunker.push(" Can I help?") == ["Can I help?"]
    assert chunker.push(" Call 3.") == []  # a period stays ambiguous
    assert chunker.push("14 now。") == ["Call 3.14 now。"]


def test_eager_ends_a_first_sentence_at_a_period_after_a_plain_word() -> None:
    chunker = SentenceChunker(eager=True)
    assert chunker.push("Sure") == []
    assert chunker.push(".") == ["Sure."]  # not held for the next token
    # Later sentences wait as before: audio is already playing, nothing is gained.
    assert chunker.push(" We open at nine in the morning") == []
    assert chunker.push(".") == []
    assert chunker.push(" Bye") == ["We open at nine in the morning."]


@pytest.mark.parametrize(
    "opening",
    ["Call 3.", "Visit the U.S.", "Apples, pears etc.", "See Mr.", "I.", '"Sure.', "Ok J."],
)
def test_eager_holds_a_first_period_that_may_not_end_the_sentence(opening: str) -> None:
    chunker = SentenceChunker(eager=True, min_chars=0)
    assert chunker.push(opening) == []


def test_eager_period_is_not_used_without_eager() -> None:
    assert SentenceChunker().push("Sure.") == []


def test_eager_may_split_before_a_closing_quote() -> None:
    assert chunk('Say "yes!" loudly.', list('Say "yes!" loudly.'), eager=True, min_chars=0) == [
        'Say "yes!',
        '" loudly.',
    ]


# --- merging short sentences --------------------------------------------------------


def test_first_sentence_goes_out_alone_however_short() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Hi. ") == []
    assert chunker.push("Ok. Sure. Your table is booked for eight. Bye") == [
        "Hi.",
        "Ok. Sure. Your table is booked for eight.",
    ]
    assert chunker.flush() == "Bye"


def test_later_short_sentences_merge_until_min_chars() -> None:
    text = "Let me look that up for you. Yes. Found it. It is on the second floor."
    assert chunk(text, min_chars=20) == [
        "Let me look that up for you.",
        "Yes. Found it. It is on the second floor.",
    ]


def test_first_sentence_min_chars_merges_a_short_opener() -> None:
    text = "Hi. Thanks for calling Acme. Bye."
    assert chunk(text, min_chars=0, first_sentence_min_chars=10) == [
        "Hi. Thanks for calling Acme.",
        "Bye.",
    ]


def test_flush_returns_none_when_nothing_is_left_and_resets() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Done.\n") == ["Done."]
    assert chunker.flush() is None
    # A new reply: its first sentence again goes out alone.
    assert chunker.push("Hi.\n") == ["Hi."]


def test_empty_delta_and_blank_text() -> None:
    chunker = SentenceChunker()
    assert chunker.push("") == []
    assert chunker.push("  \n\n ") == []
    assert chunker.flush() is None


# --- independence from token boundaries ---------------------------------------------

SENTENCES = [
    "Mr. Smith paid $3.14 at 10:30 a.m. today.",
    "Visit example.com or mail help@example.com now!",
    "Is J. R. R. Tolkien your favourite?",
    "I was thinking... maybe not.",
    "Dr. Who lives in the U.S. with friends, e.g. Amy.",
    "1. Open the app.",
    "Wow!",
    "Really?!",
    "Use a semicolon; it keeps clauses together.",
    'He said "fine."',
    "今日は晴れです。",
    "Ok.",
    "It costs approx. 5 euros, etc. and more.",
]


def cuts(text: str) -> st.SearchStrategy[list[str]]:
    positions = st.lists(st.integers(0, len(text)), max_size=len(text) + 1)
    return positions.map(lambda ps: _cut(text, sorted(ps)))


def _cut(text: str, positions: list[int]) -> list[str]:
    bounds = [0, *positions, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    sentences=st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=6),
    separators=st.lists(st.sampled_from([" ", "\n", "  ", " \n ", "\n\n"]), min_size=6),
)
def test_any_token_split_yields_exactly_the_sentences(
    data: st.DataObject, sentences: list[str], separators: list[str]
) -> None:
    text = "".join(s + sep for s, sep in zip(sentences, separators, strict=False))
    deltas = data.draw(cuts(text))
    assert chunk(text, deltas, min_chars=0) == sentences


ALPHABET = "abAB1 .!?…;:\n\"')。é"


@settings(max_examples=500, deadline=None)
@given(
    data=st.data(),
    text=st.text(alphabet=ALPHABET, max_size=60),
    min_chars=st.sampled_from([0, 5, 20]),
    first_min=st.sampled_from([0, 3]),
)
def test_chunking_is_independent_of_token_boundaries(
    data: st.DataObject, text: str, min_chars: int, first_min: int
) -> None:
    whole = chunk(text, [text], min_chars=min_chars, first_sentence_min_chars=first_min)
    deltas = data.draw(cuts(text))
    assert chunk(text, deltas, min_chars=min_chars, first_sentence_min_chars=first_min) == whole
    assert "".join(" ".join(whole).split()) == "".join(text.split())
    assert all(s and s == s.strip() for s in whole)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), text=st.text(alphabet=ALPHABET, max_size=60))
def test_eager_mode_loses_and_adds_no_text(data: st.DataObject, text: str) -> None:
    sentences = chunk(text, data.draw(cuts(text)), eager=True, min_chars=0)
    assert "".join(" ".join(sentences).split()) == "".join(text.split())
    assert all(s and s == s.strip() for s in sentences)


def test_long_stream_without_boundaries_is_not_rescanned_per_token() -> None:
    # A chunker that rescans its buffer on every token needs minutes for this.
    chunker = SentenceChunker()
    started = time.perf_counter()
    for _ in range(20_000):
        assert chunker.push("a.b") == []
    assert time.perf_counter() - started < 2.0
    assert chunker.flush() == "a.b" * 20_000
