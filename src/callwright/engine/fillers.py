"""Filler words said while the first sentence of a reply is late: the assistant's own
list, or (``filler_words_enabled`` with none given, as seed 002's ``filler_words: ""``
and seed 004's ``filler_words: true`` import) a built-in list for the call's language.

Each default is a short spoken acknowledgement that stands alone as a sentence and
commits the assistant to nothing, in the language's everyday register."""

from __future__ import annotations

__all__ = ["DEFAULT_FILLER_WORDS", "filler_words_for"]

# By primary language subtag (BCP 47, lower case).
DEFAULT_FILLER_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("Hmm.", "Let me see.", "Okay.", "One moment.", "Right."),
    "es": ("Mmm.", "A ver.", "Vale.", "Un momento.", "Bueno."),
    "fr": ("Hmm.", "Voyons.", "D'accord.", "Un instant.", "Alors."),
    "de": ("Hmm.", "Mal sehen.", "Okay.", "Einen Moment.", "Also."),
    "it": ("Mmm.", "Vediamo.", "Va bene.", "Un attimo.", "Allora."),
    "pt": ("Hum.", "Deixe-me ver.", "Certo.", "Um momento.", "Então."),
    "nl": ("Hmm.", "Even kijken.", "Oké.", "Een moment.", "Nou."),
    "pl": ("Hmm.", "Zobaczmy.", "Dobrze.", "Chwileczkę.", "No więc."),
    "sv": ("Hmm.", "Låt mig se.", "Okej.", "Ett ögonblick.", "Så."),
    "hi": ("हम्म।", "एक मिनट।", "ठीक है।", "देखता हूँ।"),
    "ja": ("ええと。", "そうですね。", "少々お待ちください。", "はい。"),
    "zh": ("嗯。", "让我看看。", "好的。", "稍等一下。"),
    "ko": ("음.", "잠시만요.", "네.", "글쎄요."),
}


def filler_words_for(
    enabled: bool, words: tuple[str, ...] | list[str], language: str | None
) -> tuple[str, ...]:
    """The filler words a call says: none when disabled, the assistant's own when it
    gave some, else the built-in list of ``language`` (English for a language without
    one: a filler in the wrong language is better than ignoring the setting silently)."""
    if not enabled:
        return ()
    if words:
        return tuple(words)
    primary = (language or "en").split("-", 1)[0].lower()
    return DEFAULT_FILLER_WORDS.get(primary, DEFAULT_FILLER_WORDS["en"])
