"""Whether the caller's words so far end a thought: rules over the transcript, per
language (the primary subtag of ``stt_settings.language``).

A phrase is unfinished when its last word cannot end one — a preposition, an article,
a conjunction, a possessive, a filler ("a table for", "and", "um", "my") — when it ends
in a run of spelled digits or letters ("my number is five five", "J O H N", "A B"), or
when a list is in progress (a trailing comma). It leans unfinished when it ends in a
value still being given: an address with a house number but no street type yet ("my
address is twelve"), a number short of a phone number after "number" or "code" ("my
number is 555"). A question, a short answer ("yes", "thanks") or a sentence the
transcriber closed with a full stop reads as finished. Anything else is not known from
the words alone.

The answer is a probability that the caller is done (``UNFINISHED``,
``LEANS_UNFINISHED``, ``UNKNOWN``, ``ENDED``, ``FINISHED``), so that
``engine.smart_turn`` can weigh it with the audio model's (which may confirm words
that lean unfinished, never overrule them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from callwright.engine.phrases import words_of

__all__ = [
    "ENDED",
    "FINISHED",
    "LEANS_UNFINISHED",
    "UNFINISHED",
    "UNKNOWN",
    "TurnWords",
    "words_done",
]

UNFINISHED: Final = 0.05  # the words say the caller is mid-thought
LEANS_UNFINISHED: Final = 0.25  # a value still being given, most likely
UNKNOWN: Final = 0.5  # the words do not say
ENDED: Final = 0.7  # the transcriber closed a sentence (a weak sign: some always do)
FINISHED: Final = 0.9  # a question, or a complete short answer


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that cannot end a thought, per language.
_TRAILING: Final[Mapping[str, frozenset[str]]] = {
    "en": _words(
        """a an the for to of in on at by with from into onto about as than and or but
        nor so because if when while that which who whose where my your his her our
        their its this these those some any is are was were be am will would can could
        should shall may might must have has had do does did not very um uh er erm ah
        like plus between after before until unless whether per via"""
    ),
    "es": _words(
        """un una unos unas el la los las para por de del a al en con sin sobre y o pero
        que porque si cuando mi mis tu tus su sus es son está estoy muy eh este pues
        como entre hasta desde"""
    ),
    "fr": _words(
        """un une des le la les pour par de du au aux à en dans sur avec sans et ou mais
        que qui parce si quand mon ma mes ton ta tes son sa ses est sont suis très euh
        ben comme entre jusqu depuis"""
    ),
    "de": _words(
        """ein eine einen einem einer der die das den dem des für zu von vom mit in im
        an am auf aus bei nach über und oder aber weil dass wenn mein meine dein deine
        sein seine ist sind bin sehr äh ähm also wie zwischen bis seit"""
    ),
}

# Spelled digits (a phone number, a code read out) per language, and the digits
# themselves: a run of them at the end is a number still being given.
_DIGITS: Final[Mapping[str, frozenset[str]]] = {
    "en": _words("zero oh one two three four five six seven eight nine double triple"),
    "es": _words("cero uno una dos tres cuatro cinco seis siete ocho nueve"),
    "fr": _words("zéro zero un une deux trois quatre cinq six sept huit neuf"),
    "de": _words("null eins zwei drei vier fünf sechs sieben acht neun zwo"),
}

# Number words besides the digits (a house number said in words).
_NUMBER_WORDS: Final[Mapping[str, frozenset[str]]] = {
    "en": _words(
        """ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen
        nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand"""
    ),
}

# What an address is introduced by ("my address is", "I live at"), and the street
# types that complete its street.
_ADDRESS_CUES: Final[Mapping[str, frozenset[str]]] = {
    "en": _words("address live lives living located"),
}
_ADDRESS_LINKS: Final[Mapping[str, frozenset[str]]] = {
    "en": _words("is s was at on"),
}
_STREET_TYPES: Final[Mapping[str, frozenset[str]]] = {
    "en": _words(
        """street st road rd avenue ave lane ln drive dr way boulevard blvd court ct
        place pl square sq close crescent terrace row parkway highway hwy circle gardens
        grove walk hill mews alley"""
    ),
}

# Words after which a number is an identifier being read out (a phone number, a code).
_NUMBER_CUES: Final[Mapping[str, frozenset[str]]] = {
    "en": _words("number phone mobile cell code pin"),
}

# Complete short answers: said alone, the turn is over.
_SHORT_ANSWERS: Final[Mapping[str, frozenset[str]]] = {
    "en": _words("yes no yeah yep nope sure okay ok thanks thank you bye goodbye correct right"),
    "es": _words("sí si no vale gracias adiós claro correcto"),
    "fr": _words("oui non merci d accord au revoir exact"),
    "de": _words("ja nein danke okay tschüss genau richtig"),
}

_QUESTION_STARTS: Final[Mapping[str, frozenset[str]]] = {
    "en": _words(
        """what when where who whom whose why how which is are do does did can could
        will would should may might have has"""
    ),
}

# A number is given whole at ten digits or more (a phone number with its area code).
_WHOLE_NUMBER_DIGITS: Final = 10
# An address still being given is short after its cue ("is", the number, a name).
_ADDRESS_WORDS: Final = 5


class TurnWords:
    """Reads the caller's words for one language (``None``: English). ``done(text)``
    is the probability, from the words alone, that the caller has finished."""

    __slots__ = (
        "_address_cues",
        "_address_links",
        "_digits",
        "_number_cues",
        "_numbers",
        "_questions",
        "_short",
        "_street_types",
        "_trailing",
    )

    def __init__(self, language: str | None) -> None:
        primary = (language or "en").split("-")[0].lower()
        empty: frozenset[str] = frozenset()
        self._trailing = _TRAILING.get(primary, empty)
        self._digits = _DIGITS.get(primary, empty)
        self._numbers = self._digits | _NUMBER_WORDS.get(primary, empty)
        self._address_cues = _ADDRESS_CUES.get(primary, empty)
        self._address_links = _ADDRESS_LINKS.get(primary, empty)
        self._street_types = _STREET_TYPES.get(primary, empty)
        self._number_cues = _NUMBER_CUES.get(primary, empty)
        self._short = _SHORT_ANSWERS.get(primary, frozenset())
        self._questions = _QUESTION_STARTS.get(primary, frozenset())

    def done(self, text: str) -> float:
        stripped = text.strip()
        words = words_of(stripped)
        if not words:
            return UNKNOWN
        last = words[-1]
        if stripped.endswith((",", ";", ":", "-", "…", "...")):
            return UNFINISHED  # a list or a clause in progress
        if last in self._trailing:
            return UNFINISHED
        if self._spelling(words):
            return UNFINISHED
        if stripped.endswith("?"):
            return FINISHED
        if self._address_without_street(words) or self._number_being_read(words):
            return LEANS_UNFINISHED
        if all(word in self._short for word in words):
            return FINISHED
        if stripped.endswith((".", "!")):
            return ENDED
        sentence = words_of(_last_sentence(stripped))
        if len(sentence) >= 3 and sentence[0] in self._questions:
            return ENDED  # a question the transcriber did not punctuate
        return UNKNOWN

    def _spelling(self, words: tuple[str, ...]) -> bool:
        """Whether the words end in a run of digits or single letters still being
        given: two or more, short of a whole phone number. "a" and "i" count as letters
        only beside another letter or digit ("the code is A B", not "a table")."""
        run: list[str] = []
        digits = 0
        for word in reversed(words):
            if word.isdigit():
                digits += len(word)
            elif word in self._digits:
                digits += 1
            elif not (len(word) == 1 and word.isalpha()):
                break
            run.append(word)
        spelled = sum(1 for word in run if word not in ("a", "i"))
        return len(run) >= 2 and spelled >= 1 and digits < _WHOLE_NUMBER_DIGITS

    def _address_without_street(self, words: tuple[str, ...]) -> bool:
        """Whether the words end in an address that has its number but not yet its
        street type ("my address is twelve", "I live at 12 Baker")."""
        cue = max((i for i, word in enumerate(words) if word in self._address_cues), default=-1)
        if cue < 0:
            return False
        given = words[cue + 1 :]
        if not given or given[0] not in self._address_links:
            return False
        has_number = any(word.isdigit() or word in self._numbers for word in given)
        has_street = any(word in self._street_types for word in given)
        return has_number and not has_street and len(given) <= _ADDRESS_WORDS

    def _number_being_read(self, words: tuple[str, ...]) -> bool:
        """Whether the words end in one number in figures, short of a phone number,
        just after "number" or "code" ("my phone number is 555")."""
        last = words[-1]
        if not last.isdigit() or len(last) >= _WHOLE_NUMBER_DIGITS:
            return False
        before = words[-4:-1]
        return any(word in self._number_cues for word in before)


def _last_sentence(text: str) -> str:
    """The text after its last full stop, question or exclamation mark."""
    cut = max(text.rfind(mark) for mark in ".?!")
    return text[cut + 1 :]


def words_done(text: str, language: str | None = None) -> float:
    """``TurnWords(language).done(text)``, for one-off use."""
    return TurnWords(language).done(text)
