"""What the caller has heard of what the assistant sent.

Transports do not pace audio: the far end buffers it and plays it in real time. So
the session models the far end's play cursor: each chunk starts playing when the
previous one ends (or when it arrives, if the buffer ran dry). Marks echoed by the
transport confirm whole segments; an interruption keeps every confirmed or fully
elapsed segment and the words of the current one in proportion to time played.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Playback"]


@dataclass(slots=True)
class _Segment:
    text: str
    mark: str
    start: float | None = None
    end: float | None = None
    complete: bool = False  # all its audio has been sent
    confirmed: bool = False  # the transport echoed its mark


class Playback:
    """The far end's play cursor for one assistant reply."""

    def __init__(self) -> None:
        self._segments: list[_Segment] = []
        self._cursor_end = 0.0
        self._interrupted_at: float | None = None
        self.withdrawn = False  # cut off before any of it reached the caller

    def begin(self, text: str, mark: str) -> None:
        self._segments.append(_Segment(text, mark))

    def sent(self, now: float, duration_s: float) -> None:
        """Audio of ``duration_s`` for the current segment left at ``now``."""
        segment = self._segments[-1]
        start = max(now, self._cursor_end)
        self._cursor_end = start + duration_s
        if segment.start is None:
            segment.start = start
        segment.end = self._cursor_end

    def complete(self) -> None:
        self._segments[-1].complete = True

    def interrupt(self, now: float) -> None:
        """The caller barged in at ``now``: nothing after it counts as heard, whatever
        marks arrive later."""
        if self._interrupted_at is None:
            self._interrupted_at = now

    def withdraw(self, now: float) -> None:
        """The reply is withdrawn before the caller heard any of it."""
        self.interrupt(now)
        self.withdrawn = True

    def confirm(self, mark: str) -> bool:
        if self._interrupted_at is not None:
            return False
        for segment in self._segments:
            if segment.mark == mark:
                segment.confirmed = True
                return True
        return False

    @property
    def any_audio(self) -> bool:
        return any(segment.start is not None for segment in self._segments)

    def playing_by(self, at: float) -> bool:
        """Whether any of the audio had started playing at the far end by ``at``."""
        return any(segment.start is not None and segment.start <= at for segment in self._segments)

    def remaining_s(self, now: float) -> float:
        """Seconds until everything sent so far has been played."""
        return max(0.0, self._cursor_end - now)

    def intended_text(self) -> str:
        return " ".join(segment.text for segment in self._segments)

    def heard_text(self, now: float) -> str:
        whole, words = self._heard(now)
        heard = [segment.text for segment in self._segments[:whole]]
        if words:
            heard.append(" ".join(self._segments[whole].text.split()[:words]))
        return " ".join(heard)

    def unheard(self, now: float) -> list[str]:
        """What was not heard by ``now`` (or the interruption): the rest of the sentence
        being played, then the sentences after it, in order."""
        whole, words = self._heard(now)
        rest = [segment.text for segment in self._segments[whole:]]
        if rest and words:
            rest[0] = " ".join(rest[0].split()[words:])
        return [text for text in rest if text]

    def _heard(self, now: float) -> tuple[int, int]:
        """How far the caller heard: whole segments, then words of the next one."""
        if self._interrupted_at is not None:
            now = min(now, self._interrupted_at)
        for index, segment in enumerate(self._segments):
            if segment.confirmed or (
                segment.complete and segment.end is not None and segment.end <= now
            ):
                continue
            if segment.start is None or segment.end is None or now <= segment.start:
                return index, 0
            words = segment.text.split()
            # A segment still being synthesised has no known end: only its sent audio.
            fraction = min(1.0, (now - segment.start) / max(segment.end - segment.start, 1e-6))
            return index, int(len(words) * fraction)
        return len(self._segments), 0

    @property
    def begun(self) -> int:
        """How many sentences were begun (each a segment)."""
        return len(self._segments)
