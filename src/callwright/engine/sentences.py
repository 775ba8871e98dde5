"""Split a stream of LLM tokens into sentences for text-to-speech, as early as possible.

Boundaries, and why:

* ``.``, ``…``/``...``, ``!``, ``?`` (with any closing quotes or brackets after them)
  end a sentence when whitespace follows. ``3.14``, ``example.com``, ``?q=1`` never
  split because no whitespace follows the terminator.
* After a period or an ellipsis the next word must not start in lower case: ``etc. and``,
  ``approx. five``, ``I think... maybe`` continue the sentence. Case-less scripts and
  digits start a new one. ``!`` and ``?`` need only the whitespace.
* A period after an abbreviation (``Mr.``, ``Dr.``, ``etc.``, ``vs.``), a dotted acronym
  (``e.g.``, ``U.S.``, ``a.m.``), an initial (``J. R. R. Tolkien``; not ``I``) or a list
  number (``1.`` opening a sentence or following a colon) never ends a sentence. A
  sentence that really ends in ``etc.`` is merged with the next one: a missed split costs
  a little latency, a wrong split is audible.
* ``。！？`` end a sentence without whitespace. A newline always ends one, immediately.
* ``;`` and ``:`` do not: they join clauses the model meant to be spoken as one.

A terminator that is the last character received is ambiguous (``3.`` may become
``3.14``, ``Hi!`` may become ``Hi!"``), so by default it is held until the next character
arrives: at typical token rates that is 10-30 ms, small beside a TTS request, and it
makes the output independent of how the stream was cut into tokens. A sentence is
emitted in the same ``push`` whenever the deciding character is already there
(``".\\n\\n"`` tokens, newlines, whitespace inside the delta). ``eager=True`` emits at a
trailing ``!``, ``?`` or ``。！？`` at once, accepting that a following ``!``, ``"`` or
``)`` then opens the next chunk; and, in a reply's first sentence only (the one the
caller waits for), a trailing period after a plain word of two or more letters that is
not an abbreviation (``Sure.``, ``Certainly.``, not ``3.``, ``U.S.``, ``etc.``): it saves
one token's wait on every turn, and LLM tokenizers keep ``.com`` or ``.5`` together, so
a period that ends a delta after a word is nearly always a sentence's end.

Each character is examined a bounded number of times: scanning resumes where it stopped,
and a held candidate is re-read within a fixed window; the buffer keeps only the text
not yet emitted.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["DEFAULT_ABBREVIATIONS", "SentenceChunker"]

DEFAULT_ABBREVIATIONS: frozenset[str] = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "approx", "inc", "ltd"}
)

_CANDIDATE = re.compile(r"[.!?…\n。！？]")
_NON_SPACE = re.compile(r"\S")
_DOTTED_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_RUN_CHARS = frozenset(".!?…。！？")
_CLOSERS = frozenset("\"')]}”’»」』）】》")
_OPENERS = "\"'([{“‘«「『（【《"
_CJK_STOPS = frozenset("。！？")
_EAGER_STOPS = frozenset("!?。！？")
# Windows that bound every re-read, so held candidates cost O(1) per push.
_MAX_RUN = 8
_MAX_GAP = 8
_MAX_WORD = 12

_HOLD, _CONTINUE, _BOUNDARY = 0, 1, 2


class SentenceChunker:
    """Turns LLM text deltas into complete, stripped sentences for TTS.

    ``push`` returns the sentences completed by a delta; ``flush`` returns the rest at
    the end of the reply and resets the chunker for the next one.

    ``min_chars`` (default 20): a sentence shorter than this is merged with the next
    one, since a short fragment synthesised alone sounds choppy; once audio is playing
    the merge costs no perceived latency. ``first_sentence_min_chars`` (default 0)
    applies to a reply's first sentence instead: first audio is what the caller waits
    for, so even ``"Hi."`` goes out alone. Raise it to trade first-audio latency for
    smoother prosody. ``abbreviations`` are lower-case words without the final period.
    """

    def __init__(
        self,
        *,
        min_chars: int = 20,
        first_sentence_min_chars: int = 0,
        eager: bool = False,
        abbreviations: Collection[str] = DEFAULT_ABBREVIATIONS,
    ) -> None:
        self._min_chars = min_chars
        self._first_sentence_min_chars = first_sentence_min_chars
        self._eager = eager
        self._abbreviations = frozenset(abbreviations)
        self._reset()

    def _reset(self) -> None:
        self._buf = ""
        self._pos = 0  # next index to scan
        self._emit_start = 0  # start of the text not yet emitted (may span sentences)
        self._sentence_start = 0  # start of the current sentence
        self._content_start: int | None = None  # its first non-space character
        self._emitted_any = False

    def push(self, delta: str) -> list[str]:
        """Add a delta; return the sentences it completed, in order."""
        if not delta:
            return []
        self._buf += delta
        buf, pos = self._buf, self._pos
        out: list[str] = []
        while (match := _CANDIDATE.search(buf, pos)) is not None:
            verdict, pos = self._decide(buf, match.start())
            if verdict == _HOLD:
                break
            if verdict == _BOUNDARY:
                self._end_sentence(buf, pos, out)
        else:
            pos = len(buf)
        self._pos = pos
        self._compact()
        return out

    def flush(self) -> str | None:
        """Return the unsent remainder (``None`` if blank) and reset for the next reply."""
        rest = self._buf[self._emit_start :].strip()
        self._reset()
        return rest or None

    def _decide(self, buf: str, i: int) -> tuple[int, int]:
        """Classify the terminator at ``i``; return the verdict and where to go on."""
        if buf[i] == "\n":
            return _BOUNDARY, i + 1
        n, j = len(buf), i
        limit = min(n, i + _MAX_RUN)
        while j < limit and buf[j] in _RUN_CHARS:
            j += 1
        core = buf[i:j]
        while j < limit and buf[j] in _CLOSERS:
            j += 1
        if j == n:
            if self._eager and (
                not _EAGER_STOPS.isdisjoint(core)
                or (core == "." and not self._emitted_any and self._plain_word_before(buf, i))
            ):
                return _BOUNDARY, j
            return _HOLD, i
        if not _CJK_STOPS.isdisjoint(core):
            return _BOUNDARY, j
        if not buf[j].isspace():
            return _CONTINUE, j
        if "!" in core or "?" in core:
            return _BOUNDARY, j
        if core == "." and self._is_abbreviation(buf, i):
            return _CONTINUE, j
        k, limit = j, min(n, j + _MAX_GAP)
        while k < limit and buf[k].isspace():
            if buf[k] == "\n":
                return _BOUNDARY, j
            k += 1
        if k == n:
            return _HOLD, i
        if k < limit and buf[k].islower():
            return _CONTINUE, j
        return _BOUNDARY, j

    def _is_abbreviation(self, buf: str, i: int) -> bool:
        """Whether the word before the period at ``i`` makes it a non-final period."""
        start = i
        floor = max(self._sentence_start, i - _MAX_WORD - 1)
        while start > floor and not buf[start - 1].isspace():
            start -= 1
        word = buf[start:i]
        if len(word) > _MAX_WORD:
            return False
        word = word.lstrip(_OPENERS)
        if word.lower() in self._abbreviations or _DOTTED_ACRONYM.fullmatch(word):
            return True
        if len(word) == 1 and word.isupper() and word != "I":
            return True  # an initial
        if word.isdigit() and len(word) <= 3:  # a list number: "1. Open the app."
            before = buf[max(self._sentence_start, start - 3) : start].rstrip()
            return start == self._first_content(buf) or before.endswith(":")
        return False

    def _plain_word_before(self, buf: str, i: int) -> bool:
        """Whether the period at ``i`` follows a plain word (two or more letters, no
        opening quote, not an abbreviation): ``Sure.``, not ``3.``, ``U.S.``, ``etc.``."""
        start = i
        floor = max(self._sentence_start, i - _MAX_WORD - 1)
        while start > floor and not buf[start - 1].isspace():
            start -= 1
        word = buf[start:i]
        return (
            2 <= len(word) <= _MAX_WORD
            and word.isalpha()
            and word.lower() not in self._abbreviations
        )

    def _first_content(self, buf: str) -> int | None:
        if self._content_start is None:
            match = _NON_SPACE.search(buf, self._sentence_start)
            self._content_start = match.start() if match else None
        return self._content_start

    def _end_sentence(self, buf: str, end: int, out: list[str]) -> None:
        self._sentence_start, self._content_start = end, None
        text = buf[self._emit_start : end].strip()
        threshold = self._min_chars if self._emitted_any else self._first_sentence_min_chars
        if text and len(text) >= threshold:
            out.append(text)
            self._emit_start, self._emitted_any = end, True

    def _compact(self) -> None:
        cut = self._emit_start
        if cut:
            self._buf = self._buf[cut:]
            self._pos -= cut
            self._sentence_start -= cut
            self._emit_start = 0
            if self._content_start is not None:
                self._content_start -= cut
