"""The far end's play cursor: what the caller heard of a reply."""

from __future__ import annotations

from callwright.engine.playback import Playback


def _two_sentences() -> Playback:
    playback = Playback()
    playback.begin("One two three four.", "m1")
    playback.sent(0.0, 2.0)
    playback.complete()
    playback.begin("Five six seven eight.", "m2")
    playback.sent(0.1, 2.0)
    playback.complete()
    return playback


def test_marks_and_time_say_what_was_heard() -> None:
    playback = _two_sentences()
    assert playback.heard_text(1.0) == "One two"
    assert playback.confirm("m1")
    assert playback.heard_text(1.0) == "One two three four."
    assert playback.heard_text(5.0) == "One two three four. Five six seven eight."


def test_marks_echoed_after_a_barge_in_do_not_count_as_heard() -> None:
    """Twilio answers ``clear`` by echoing every pending mark at once: those sentences
    were dropped, not played."""
    playback = _two_sentences()
    playback.interrupt(1.0)
    assert not playback.confirm("m1")
    assert not playback.confirm("m2")
    assert playback.heard_text(9.0) == "One two"
    playback.interrupt(3.0)  # the first interruption stands
    assert playback.heard_text(9.0) == "One two"
