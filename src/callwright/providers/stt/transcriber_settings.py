"""What each transcriber cannot do with ``stt_settings``, so that a setting it has no
equivalent for is named, by ``POST /validate`` and in the call record's provider
notes, instead of being ignored silently (as ``tts.voice_settings`` does for voices).

- ``punctuate`` / ``smart_format`` off: Whisper (OpenAI's and the offline one) always
  punctuates and formats; AssemblyAI has one switch for both (``format_turns``), off
  only when both are off.
- ``keywords`` with a negative intensifier (a word to suppress): only Deepgram's
  ``keywords`` parameter (nova-2 and older) takes one; everywhere else a keyword is a
  vocabulary hint, so a negative one is left out.
- ``keyterms`` of several words: Deepgram before nova-3 boosts single words only.

``endpointing``, ``utterance_end_ms`` and ``vad_turnoff`` are the engine's own (every
transcriber), ``interim_results`` off is honoured everywhere (a transcriber without
interims has none either way), and ``language`` / ``model`` name what is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["unsupported_stt_settings"]

_WHISPERS = frozenset({"whisper", "whisper-local"})


def unsupported_stt_settings(vendor: str, stt_settings: Mapping[str, Any]) -> list[str]:
    """The ``stt_settings`` changed from their defaults that the transcriber ``vendor``
    (its catalog name) cannot honour, as ``stt_settings.<name>``."""
    punctuate = stt_settings.get("punctuate", True)
    smart_format = stt_settings.get("smart_format", True)
    model = str(stt_settings.get("model") or "").lower()
    unsupported = []
    if vendor in _WHISPERS:
        unsupported += [
            f"stt_settings.{name}"
            for name, value in (("punctuate", punctuate), ("smart_format", smart_format))
            if not value
        ]
    elif vendor == "assemblyai" and punctuate != smart_format:
        # format_turns = punctuate or smart_format: the one turned off does nothing.
        unsupported.append(
            "stt_settings.punctuate" if not punctuate else "stt_settings.smart_format"
        )
    keywords = stt_settings.get("keywords") or ()
    takes_intensifiers = vendor == "deepgram" and not model.startswith("nova-3")
    if not takes_intensifiers and any(float(k.get("intensifier", 1)) < 0 for k in keywords):
        unsupported.append("stt_settings.keywords (negative intensifier)")
    keyterms = stt_settings.get("keyterms") or ()
    if takes_intensifiers and any(len(term.split()) > 1 for term in keyterms):
        unsupported.append("stt_settings.keyterms (several words, before nova-3)")
    return unsupported
