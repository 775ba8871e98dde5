"""The conversation benchmark's corpora and caller voices (``conversation.py`` runs them).

Four corpora of at least 50 items each, spoken by several offline voices at several
speaking rates (Piper's natural voice, eSpeak NG's formant voices):

- ``complete``: whole questions and answers of different lengths;
- ``pauses``: an utterance with a mid-thought pause of 0.3–1.5 s (a table for… four,
  a list, a spelled number, an address);
- ``backchannels``: "mhmm", "yeah", "okay" and noises (a cough, a door, keys) while the
  assistant speaks;
- ``interruptions``: "wait", "stop", "no no", "sorry, can I ask something" while the
  assistant speaks.

Each item is a list of segments (words, the pause after them); the synthesised audio
is 16 kHz PCM16 with leading and trailing silence trimmed, so the time of the last word
is known to the sample.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from callwright.audio.resample import Resampler
from callwright.providers.protocols import TTS, TTSOptions
from callwright.providers.tts.espeak import EspeakTTS
from callwright.providers.tts.piper import PiperTTS

__all__ = ["CORPORA", "RATE", "VOICES", "Item", "Segment", "Voice", "build_corpora", "synthesise"]

RATE = 16_000


@dataclass(frozen=True)
class Voice:
    name: str
    engine: str  # "piper" | "espeak"
    voice_id: str
    extra: dict[str, Any]


VOICES: tuple[Voice, ...] = (
    Voice("piper-joe", "piper", "joe", {"length_scale": 1.0}),
    Voice("piper-joe-slow", "piper", "joe", {"length_scale": 1.25}),
    Voice("piper-joe-fast", "piper", "joe", {"length_scale": 0.85}),
    Voice("espeak-us", "espeak", "en-us", {"rate": 165}),
    Voice("espeak-gb-fast", "espeak", "en-gb", {"rate": 200}),
    Voice("espeak-us-f3-slow", "espeak", "en-us+f3", {"rate": 140}),
)


@dataclass(frozen=True)
class Segment:
    """Words spoken (``noise`` names a synthetic sound instead), then ``pause_s`` of
    silence before the next segment."""

    text: str = ""
    pause_s: float = 0.0
    noise: str | None = None


@dataclass
class Item:
    corpus: str
    key: str
    voice: Voice
    segments: tuple[Segment, ...]
    audio: list[bytes] = field(default_factory=list)  # one per segment, 16 kHz PCM16

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)


COMPLETE = (
    "What time do you open?",
    "Can I book a table for four people tonight at seven?",
    "Do you deliver?",
    "I would like to change my delivery address to my office please.",
    "How much does the premium plan cost per month?",
    "Is there parking near the restaurant?",
    "My order never arrived, can you check what happened to it?",
    "Can you tell me my account balance?",
    "Are you open on Sundays?",
    "I need to cancel my appointment for tomorrow morning.",
    "What is the warranty on the blue model?",
    "Could you send me the invoice by email?",
    "Hi, who am I speaking with?",
    "Do you have any vegetarian options on the menu?",
    "How long does shipping to Canada usually take?",
    "Please transfer me to billing.",
    "I'd like to speak to a manager about a refund I was promised last week.",
    "Can I pay with a credit card over the phone?",
)

PAUSED: tuple[tuple[str, str], ...] = (
    ("I'd like to book a table for", "four people on Friday."),
    ("I'd like to book a table for, um,", "four people on Friday."),
    ("My phone number is five five five,", "one two three four."),
    ("My address is twelve", "Baker Street, London."),
    ("I need eggs, milk, and", "some bread."),
    ("The order number is A B", "seven nine two."),
    ("Can you check if my", "package has shipped?"),
    ("I was wondering whether", "you have any rooms for next weekend."),
    ("My name is spelled J O", "H N S O N."),
    ("I want to change my plan to the", "annual one."),
)
PAUSES_S = (0.3, 0.5, 0.8, 1.0, 1.2, 1.5)

BACKCHANNELS: tuple[Segment, ...] = (
    Segment("mhmm"),
    Segment("yeah"),
    Segment("okay"),
    Segment("right"),
    Segment("I see"),
    Segment("uh huh"),
    Segment("sure"),
    Segment(noise="cough"),
    Segment(noise="door"),
    Segment(noise="keyboard"),
)

INTERRUPTIONS: tuple[str, ...] = (
    "wait",
    "stop",
    "no no",
    "hold on",
    "sorry, can I ask something?",
    "actually I need something else.",
    "no, that's not what I asked.",
    "excuse me, one question.",
)

# The question that makes the assistant talk before a backchannel or an interruption.
PROMPT = "Can you tell me about your opening hours?"

CORPORA = ("complete", "pauses", "backchannels", "interruptions")


def build_corpora(per_corpus: int = 60, seed: int = 7) -> list[Item]:
    """The items of every corpus, voices assigned round-robin (deterministic)."""
    items: list[Item] = []

    def voice(i: int) -> Voice:
        return VOICES[i % len(VOICES)]

    for i in range(per_corpus):
        text = COMPLETE[i % len(COMPLETE)]
        items.append(Item("complete", f"c{i:02d}", voice(i + i // len(COMPLETE)), (Segment(text),)))
    for i in range(per_corpus):
        first, rest = PAUSED[i % len(PAUSED)]
        pause = PAUSES_S[(i // len(PAUSED) + i) % len(PAUSES_S)]
        segments = (Segment(first, pause), Segment(rest))
        items.append(Item("pauses", f"p{i:02d}", voice(i + 1), segments))
    for i in range(per_corpus):
        segment = BACKCHANNELS[i % len(BACKCHANNELS)]
        items.append(Item("backchannels", f"b{i:02d}", voice(i + 2), (Segment(PROMPT), segment)))
    for i in range(per_corpus):
        text = INTERRUPTIONS[i % len(INTERRUPTIONS)]
        items.append(
            Item("interruptions", f"i{i:02d}", voice(i + 3), (Segment(PROMPT), Segment(text)))
        )
    order = np.random.default_rng(seed).permutation(len(items))
    return [items[i] for i in order]


# -- audio ---------------------------------------------------------------------------------


def _trim(pcm: np.ndarray, threshold: int = 300) -> np.ndarray:
    loud = np.flatnonzero(np.abs(pcm) > threshold)
    if loud.size == 0:
        return pcm[:0]
    return pcm[max(0, loud[0] - 80) : loud[-1] + 80]


def _noise(kind: str, rng: np.random.Generator) -> bytes:
    """A cough (a noise burst shaped like one), a door (a low thump) or keys (clicks)."""
    if kind == "cough":
        n = int(0.35 * RATE)
        t = np.arange(n) / RATE
        envelope = np.exp(-t / 0.07) * (1 - np.exp(-t / 0.01))
        burst = rng.normal(0, 1, n)
        burst = np.convolve(burst, np.ones(6) / 6, mode="same")  # a little low-passed
        samples = 9000 * envelope * burst / np.max(np.abs(burst))
    elif kind == "door":
        n = int(0.4 * RATE)
        t = np.arange(n) / RATE
        samples = 14000 * np.exp(-t / 0.06) * np.sin(2 * math.pi * 70 * t)
        samples += 2000 * np.exp(-t / 0.02) * rng.normal(0, 1, n)
    elif kind == "keyboard":
        n = int(1.0 * RATE)
        samples = np.zeros(n)
        for start in rng.integers(0, n - 200, 9):
            click = rng.normal(0, 1, 120) * np.exp(-np.arange(120) / 25)
            samples[start : start + 120] += 8000 * click
    else:
        raise ValueError(f"unknown noise {kind!r}")
    return np.clip(samples, -32768, 32767).astype(np.int16).tobytes()


async def _speak(tts: TTS, voice: Voice, text: str) -> bytes:
    options = TTSOptions(voice_id=voice.voice_id, extra=voice.extra)
    resampler = Resampler(tts.sample_rate, RATE)
    chunks = [resampler.process(c) async for c in tts.synthesize(text, options)]
    chunks.append(resampler.process(b"", last=True))
    pcm = np.frombuffer(b"".join(chunks), dtype=np.int16)
    return _trim(pcm).tobytes()


async def synthesise(items: Sequence[Item]) -> None:
    """Fill each item's ``audio``: one clip per segment (16 kHz, trimmed)."""
    piper = PiperTTS(workers=1)
    espeak = EspeakTTS()
    rng = np.random.default_rng(11)
    cache: dict[tuple[str, str], bytes] = {}
    try:
        for item in items:
            item.audio = []
            for segment in item.segments:
                if segment.noise is not None:
                    item.audio.append(_noise(segment.noise, rng))
                    continue
                key = (item.voice.name, segment.text)
                if key not in cache:
                    tts: TTS = piper if item.voice.engine == "piper" else espeak
                    cache[key] = await _speak(tts, item.voice, segment.text)
                item.audio.append(cache[key])
    finally:
        await piper.aclose()


if __name__ == "__main__":  # print the corpus sizes and total audio
    corpus = build_corpora()
    asyncio.run(synthesise(corpus))
    for name in CORPORA:
        chosen = [i for i in corpus if i.corpus == name]
        seconds = sum(len(a) for i in chosen for a in i.audio) / 2 / RATE
        print(f"{name}: {len(chosen)} items, {seconds:.0f} s of caller audio")
