"""What the caller's words mean for a barge-in: backchannels and interrupt words.

A backchannel ("mhmm", "yeah", "I see") tells the assistant to go on: speech made only
of acknowledgement phrases never interrupts it, however long. An interrupt word
("stop", "wait", "hold on", "no") asks it to stop: it interrupts at once, below the
interruption threshold. Each list is per language (the transcriber's), replaceable per
assistant (``interruption_settings.acknowledgement_phrases`` / ``interruption_phrases``,
after Vapi's stopSpeakingPlan).

Words are compared after folding case, dropping apostrophes and splitting on anything
that is not a letter or a digit: "Uh-huh." is "uh huh", "don't" is "dont".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_ACKNOWLEDGEMENT_PHRASES",
    "DEFAULT_INTERRUPTION_PHRASES",
    "PhraseSet",
    "default_phrases",
    "words_of",
]

# Per language (the primary subtag of stt_settings.language). A language without a
# list gets none: no word of another language is taken for a backchannel.
DEFAULT_ACKNOWLEDGEMENT_PHRASES: Mapping[str, tuple[str, ...]] = {
    "en": (
        "mhmm", "mhm", "mm", "mmm", "hmm", "mm-hmm", "uh-huh", "uh huh", "uhuh", "yeah",
        "yep", "yup", "yes", "yea", "okay", "ok", "right", "alright", "all right", "sure",
        "i see", "got it", "gotcha", "cool", "great", "good", "oh", "ah", "aha", "oh okay",
        "i understand", "understood", "makes sense", "of course", "exactly", "true",
        "perfect", "nice", "wow",
    ),
    "es": (
        "sí", "si", "vale", "claro", "ajá", "aja", "mhm", "mmm", "ok", "okay", "bueno",
        "entiendo", "ya", "exacto", "de acuerdo", "perfecto", "ah", "oh", "ya veo", "cierto",
    ),
    "fr": (
        "oui", "ouais", "d'accord", "ok", "okay", "mhm", "mmm", "ah", "oh", "je vois",
        "bien sûr", "exactement", "voilà", "entendu", "super", "parfait", "ah bon",
    ),
    "de": (
        "ja", "genau", "okay", "ok", "mhm", "mmm", "aha", "ah", "oh", "klar", "stimmt",
        "verstehe", "alles klar", "gut", "richtig", "super", "ach so",
    ),
    "pt": (
        "sim", "tá", "ta", "ok", "okay", "certo", "claro", "uhum", "aham", "entendi",
        "beleza", "ah", "oh", "exato", "perfeito", "tá bom",
    ),
    "it": (
        "sì", "si", "certo", "ok", "okay", "va bene", "capito", "esatto", "mhm", "mmm",
        "ah", "oh", "giusto", "perfetto", "ho capito",
    ),
    "nl": (
        "ja", "oké", "oke", "ok", "okay", "mhm", "mmm", "precies", "klopt", "juist",
        "ah", "oh", "goed", "prima", "ik snap het",
    ),
}  # fmt: skip
DEFAULT_INTERRUPTION_PHRASES: Mapping[str, tuple[str, ...]] = {
    "en": (
        "stop", "wait", "hold on", "hang on", "no", "nope", "pause", "excuse me", "sorry",
        "one moment", "one second", "shut up", "enough",
    ),
    "es": ("para", "espera", "un momento", "no", "oye", "perdón", "disculpa", "basta"),
    "fr": (
        "stop", "arrête", "arrêtez", "attends", "attendez", "non", "pardon", "un instant",
        "excusez-moi",
    ),
    "de": ("stopp", "stop", "warte", "warten sie", "moment", "nein", "halt", "entschuldigung"),
    "pt": ("para", "pare", "espera", "espere", "não", "um momento", "desculpa", "chega"),
    "it": ("stop", "aspetta", "aspetti", "un momento", "no", "scusa", "scusi", "basta"),
    "nl": ("stop", "wacht", "nee", "momentje", "sorry", "pardon"),
}  # fmt: skip

_APOSTROPHES = str.maketrans("", "", "'’`")


def words_of(text: str) -> tuple[str, ...]:
    """``text`` as the words phrases are compared with."""
    folded = text.casefold().translate(_APOSTROPHES)
    return tuple("".join(c if c.isalnum() else " " for c in folded).split())


def default_phrases(language: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The acknowledgement and interruption phrases for ``language`` (a BCP-47 tag; none
    given is English, the offline transcriber's language)."""
    primary = (language or "en").split("-")[0].lower()
    return (
        DEFAULT_ACKNOWLEDGEMENT_PHRASES.get(primary, ()),
        DEFAULT_INTERRUPTION_PHRASES.get(primary, ()),
    )


class PhraseSet:
    """Phrases, each a run of words, to find in the caller's words."""

    __slots__ = ("_beginnings", "_longest", "_phrases")

    def __init__(self, phrases: Iterable[str]) -> None:
        self._phrases = frozenset(words for words in map(words_of, phrases) if words)
        self._longest = max(map(len, self._phrases), default=0)
        # The first words of the phrases of several words ("roger" of "roger that").
        self._beginnings = frozenset(p[:n] for p in self._phrases for n in range(1, len(p)))

    def __bool__(self) -> bool:
        return bool(self._phrases)

    def occurs_in(self, words: tuple[str, ...]) -> bool:
        """Whether one of the phrases occurs in ``words`` (whole words: "no" is not in
        "i know")."""
        return any(
            words[start : start + length] in self._phrases
            for start in range(len(words))
            for length in range(1, min(self._longest, len(words) - start) + 1)
        )

    def covers(self, words: tuple[str, ...], *, unfinished: bool = False) -> bool:
        """Whether ``words`` are nothing but phrases of the set, one after another
        ("yeah okay", "uh huh right"). With ``unfinished`` (words still coming in), the
        last may be the beginning of a phrase ("yeah roger" of "roger that")."""
        if not words:
            return False
        reachable = [True] + [False] * len(words)
        for start in range(len(words)):
            if not reachable[start]:
                continue
            if unfinished and words[start:] in self._beginnings:
                return True
            for length in range(1, min(self._longest, len(words) - start) + 1):
                if words[start : start + length] in self._phrases:
                    reachable[start + length] = True
        return reachable[-1]
