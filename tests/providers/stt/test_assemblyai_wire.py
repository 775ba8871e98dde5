"""``assemblyai_wire.parse_message`` fed the frames the Universal-Streaming fake never
plays: malformed ones, a ``Turn`` with no words or no text, an end-of-turn message
that is not the formatted one, ``Error`` and ``Termination`` frames short of fields,
and messages the stream has no use for. test_assemblyai.py covers the rest against
the fake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callwright.providers.errors import (
    ProviderRateLimited,
    ProviderRequestError,
    ProviderUnavailable,
)
from callwright.providers.protocols import Transcript, Word
from callwright.providers.stt.assemblyai_wire import Termination, parse_message


def turn(*, end_of_turn: bool, formatted: bool, transcript: str, **fields: Any) -> str:
    words = [
        {"text": "Book", "start": 120, "end": 480, "confidence": 0.8},
        {"text": "a", "start": 480, "end": 560, "confidence": 0.9},
        {"text": "table.", "start": 560, "end": 1040},  # no confidence: 1.0
    ]
    message = {
        "type": "Turn",
        "end_of_turn": end_of_turn,
        "turn_is_formatted": formatted,
        "transcript": transcript,
        "words": words,
        **fields,
    }
    return json.dumps(message)


BOOK_WORDS = (
    Word("Book", 0.12, 0.48, 0.8),
    Word("a", 0.48, 0.56, 0.9),
    Word("table.", 0.56, 1.04, 1.0),
)


def test_the_formatted_end_of_turn_is_the_final() -> None:
    text = turn(end_of_turn=True, formatted=True, transcript=" Book a table. ")
    assert parse_message(text, format_turns=True) == Transcript(
        "Book a table.", True, 0.12, 1.04, BOOK_WORDS, pytest.approx(0.9)
    )


def test_an_unformatted_end_of_turn_is_an_interim_when_a_formatted_one_follows() -> None:
    text = turn(end_of_turn=True, formatted=False, transcript="book a table")
    message = parse_message(text, format_turns=True)
    assert isinstance(message, Transcript)
    assert (message.text, message.is_final) == ("Book a table.", False)  # all its words
    final = parse_message(text, format_turns=False)
    assert isinstance(final, Transcript)
    assert (final.text, final.is_final) == ("book a table", True)  # the transcript


def test_a_turn_without_words_keeps_its_transcript_at_time_zero() -> None:
    text = json.dumps({"type": "Turn", "end_of_turn": False, "transcript": "book", "words": []})
    assert parse_message(text, format_turns=True) == Transcript("book", False, 0.0, 0.0, (), 1.0)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "Turn", "end_of_turn": False, "transcript": "", "words": []},
        {"type": "Turn", "end_of_turn": True, "turn_is_formatted": True, "transcript": "  "},
        {"type": "Begin", "id": "late"},
        {"type": "SpeechStarted", "timestamp": 120},
        {"no_type": True},
    ],
)
def test_a_turn_without_text_and_other_messages_are_nothing(message: dict[str, Any]) -> None:
    assert parse_message(json.dumps(message), format_turns=True) is None


def test_termination_reports_the_audio_transcribed() -> None:
    text = json.dumps({"type": "Termination", "audio_duration_seconds": 2.5})
    assert parse_message(text, format_turns=True) == Termination(2.5)
    assert parse_message('{"type": "Termination"}', format_turns=True) == Termination(0.0)


def test_an_error_frame_is_the_error_its_code_means() -> None:
    refused = json.dumps({"type": "Error", "error_code": 3007, "error": "Input Duration"})
    error = parse_message(refused, format_turns=True)
    assert isinstance(error, ProviderRequestError)
    assert "3007: Input Duration" in str(error)
    busy = json.dumps({"type": "Error", "error_code": 3009, "error": "Too many sessions"})
    assert isinstance(parse_message(busy, format_turns=True), ProviderRateLimited)
    unknown = parse_message('{"type": "Error"}', format_turns=True)
    assert isinstance(unknown, ProviderUnavailable)
    assert "closed with None" in str(unknown)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '["Turn"]',
        '"Turn"',
        '{"type": "Turn", "transcript": "book", "words": []}',
        '{"type": "Turn", "end_of_turn": false, "words": [{"text": "book", "end": 480}]}',
        '{"type": "Turn", "end_of_turn": false, "words": [{"text": "a", "start": "x", "end": 1}]}',
        '{"type": "Turn", "end_of_turn": false, "words": 7}',
        '{"type": "Termination", "audio_duration_seconds": "long"}',
    ],
)
def test_a_malformed_frame_means_the_server_is_broken(text: str) -> None:
    with pytest.raises(ProviderUnavailable, match="malformed message"):
        parse_message(text, format_turns=True)
