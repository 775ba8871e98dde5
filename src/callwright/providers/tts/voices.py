"""ElevenLabs' premade voices by name, so ``tts_settings.voice_id`` may say ``"rachel"``
(the seeds' default) instead of ``"21m00Tcm4TlvDq8ikWAM"``.

The ids are ElevenLabs' published premade voice ids; they are the same in every
account. "bella" is the premade voice's original name (ElevenLabs later renamed it
"sarah"; both names resolve to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["DEFAULT_ELEVENLABS_VOICE", "ELEVENLABS_VOICES", "elevenlabs_voice_id"]

DEFAULT_ELEVENLABS_VOICE = "rachel"

ELEVENLABS_VOICES: Mapping[str, str] = MappingProxyType(
    {
        "adam": "pNInz6obpgDQGcFmaJgB",
        "alice": "Xb7hH8MSUJpSbSDYk0k2",
        "antoni": "ErXwobaYiN019PkySvjV",
        "aria": "9BWtsMINqrJLrRacOk9x",
        "arnold": "VR6AewLTigWG4xSOukaG",
        "bella": "EXAVITQu4vr4xnSDxMaL",
        "bill": "pqHfZKP75CvOlQylNhV4",
        "brian": "nPczCjzI2devNBz1zQrb",
        "callum": "N2lVS1w4EtoT3dr4eOWO",
        "charlie": "IKne3meq5aSn9XLyUdCD",
        "charlotte": "XB0fDUnXU5powFXDhCwa",
        "chris": "iP95p4xoKVk53GoZ742B",
        "clyde": "2EiwWnXFnvU5JabPnv8n",
        "daniel": "onwK4e9ZLuTAKqWW03F9",
        "dave": "CYw3kZ02Hs0563khs1Fj",
        "domi": "AZnzlk1XvdvUeBnXmlld",
        "dorothy": "ThT5KcBeYPX3keUQqHPh",
        "drew": "29vD33N1CtxCmqQRPOHJ",
        "elli": "MF3mGyEYCl7XYWbV9V6O",
        "emily": "LcfcDJNUP1GQjkzn1xUU",
        "eric": "cjVigY5qzO86Huf0OWal",
        "ethan": "g5CIjZEefAph4nQFvHAz",
        "fin": "D38z5RcWu1voky8WS1ja",
        "freya": "jsCqWAovK2LkecY7zXl4",
        "george": "JBFqnCBsd6RMkjVDRZzb",
        "gigi": "jBpfuIE2acCO8z3wKNLl",
        "giovanni": "zcAOhNBS3c14rBihAFp1",
        "glinda": "z9fAnlkpzviPz146aGWa",
        "grace": "oWAxZDx7w5VEj9dCyTzz",
        "harry": "SOYHLrjzK2X1ezoPC6cr",
        "james": "ZQe5CZNOzWyzPSCn5a3c",
        "jeremy": "bVMeCyTHy58xNoL34h3p",
        "jessica": "cgSgspJ2msm6clMCkdW9",
        "jessie": "t0jbNlBVZ17f02VDIeMI",
        "joseph": "Zlb1dXrM653N07WRdFW3",
        "josh": "TxGEqnHWrfWFTfGW9XjX",
        "laura": "FGY2WhTYpPnrIDTdsKH5",
        "liam": "TX3LPaxmHKxFdv7VOQHJ",
        "lily": "pFZP5JQG7iQjIQuC4Bku",
        "matilda": "XrExE9yKIg1WjnnlVkGX",
        "michael": "flq6f7yk4E4fJM5XTYuZ",
        "mimi": "zrHiDhphv9ZnVXBqCLjz",
        "nicole": "piTKgcLEGmPE4e6mEKli",
        "patrick": "ODq5zmih8GrVes37Dizd",
        "paul": "5Q0t7uMcjvnagumLfvZi",
        "rachel": "21m00Tcm4TlvDq8ikWAM",
        "river": "SAz9YHcvj6GT2YYXdXww",
        "roger": "CwhRBWXzGAHq8TQ4Fs17",
        "sam": "yoZ06aMxZJJ28mfd3POQ",
        "sarah": "EXAVITQu4vr4xnSDxMaL",
        "serena": "pMsXgVXv3BLzUgSXRplE",
        "thomas": "GBv7mTt0atIp3Br8iCZE",
        "will": "bIHbv24MWmeRgasZH58o",
    }
)


def elevenlabs_voice_id(voice: str | None) -> str:
    """The voice id for a premade voice's name (any case), else ``voice`` itself (an
    id, e.g. of a cloned voice); no voice means ``DEFAULT_ELEVENLABS_VOICE``."""
    voice = (voice or "").strip() or DEFAULT_ELEVENLABS_VOICE
    return ELEVENLABS_VOICES.get(voice.lower(), voice)
