"""Smart Turn v3.2 on real synthesised speech (Piper, deterministic with its noise
off): a finished sentence scores higher than the same sentence cut mid-way; batched
answers equal single ones; the worker thread answers on the asker's loop and skips
withdrawn questions."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from callwright.audio.resample import Resampler
from callwright.providers.errors import ProviderUnavailable
from callwright.providers.protocols import TTSOptions
from tests.support.optional import require, require_installed

require("onnxruntime", "the Smart Turn model runs on onnxruntime")
require_installed("faster_whisper", why="its numpy feature extractor is the model's front end")
require_installed("pipecat", why="the Smart Turn v3.2 model ships in the pipecat-ai wheel")

from callwright.providers.turn import smart_turn_v3
from callwright.providers.turn.features import WINDOW_SAMPLES, log_mel, to_model_rate
from callwright.providers.turn.smart_turn_v3 import SmartTurnV3, _Question

# 200 ms of silence after the speech, as the policy asks at a pause.
PAUSE = bytes(2 * 3_200)
# Finished sentences. The model alone misjudges some cuts (a cut that lands on a word
# boundary can sound final: "I would like to book a table for…" scored 0.85-0.93 against
# 0.77 whole on one machine's Piper audio — the weakness issue 17 measured, which the
# words' veto covers, tests/engine), and its scores move from machine to machine with
# the audio's last bits: so it is judged over the population, not sentence by sentence.
SENTENCES = (
    "What time do you open on Saturday?",
    "Please send the invoice to my office address.",
    "I would like to book a table for four people at eight tonight.",
    "Can you tell me the balance on my account?",
    "What time do you close today?",
    "I need to change my delivery address.",
)
# Where each sentence is cut.
CUTS = (0.3, 0.4, 0.5, 0.6, 0.7)


async def _piper(text: str) -> bytes:
    require_installed("piper", why="Piper synthesises the caller's speech")
    from callwright.providers.tts.piper import PiperTTS

    tts = PiperTTS()
    try:
        options = TTSOptions(extra={"noise_scale": 0.0, "noise_w_scale": 0.0})
        pcm = b"".join([chunk async for chunk in tts.synthesize(text, options)])
    finally:
        await tts.aclose()
    return Resampler(tts.sample_rate, 16_000).process(pcm)


@pytest.fixture(scope="module")
def model() -> SmartTurnV3:
    return SmartTurnV3()


def test_the_model_file_is_found_without_importing_pipecat() -> None:
    import sys

    assert smart_turn_v3.model_file().name == "smart-turn-v3.2-cpu.onnx"
    assert "pipecat" not in sys.modules


def test_the_features_are_whisper_log_mel_of_the_last_8_s() -> None:
    audio = to_model_rate(np.full(9 * 8_000, 1000, "<i2").tobytes(), 8_000)
    assert audio.shape == (9 * 16_000,)
    features = log_mel(audio)
    assert features.shape == (80, 800)
    assert features.dtype == np.float32
    # Shorter audio is padded in front: its end lands on the last frames.
    short = log_mel(np.zeros(WINDOW_SAMPLES // 4, np.float32))
    assert short.shape == (80, 800)


async def test_finished_sentences_score_higher_than_ones_cut_mid_way(model: SmartTurnV3) -> None:
    finished, cuts = [], []
    for text in SENTENCES:
        pcm = await _piper(text)
        finished.append(model.predict_now(pcm + PAUSE, 16_000))
        for at in CUTS:
            cuts.append(model.predict_now(pcm[: int(len(pcm) * at) // 2 * 2] + PAUSE, 16_000))
    assert all(0.0 <= score <= 1.0 for score in (*finished, *cuts))
    assert min(finished) > 0.9, finished
    # Measured here: finished 0.94-0.99, cuts 0.05-0.98 with a mean of 0.68; features
    # computed wrongly (scale, window, padding) leave the two alike.
    assert sum(cuts) / len(cuts) < sum(finished) / len(finished) - 0.15, cuts
    assert sum(cut < 0.9 for cut in cuts) >= len(cuts) // 2, cuts


async def test_batched_answers_equal_single_ones_and_come_back_on_the_loop(
    model: SmartTurnV3,
) -> None:
    pcm = await _piper(SENTENCES[0])
    stretches = [pcm + PAUSE, pcm[: len(pcm) // 4 * 2] + PAUSE, pcm[: len(pcm) // 8 * 2]]
    single = [model.predict_now(s, 16_000) for s in stretches]
    loop = asyncio.get_running_loop()
    questions = [_Question(s, 16_000, loop.create_future(), loop) for s in stretches]
    withdrawn = _Question(pcm, 16_000, loop.create_future(), loop)
    withdrawn.answer.cancel()
    before = model.batches, model.predictions
    await asyncio.to_thread(model._run_batch, [*questions, withdrawn])
    batched = [await q.answer for q in questions]
    assert (model.batches, model.predictions) == (before[0] + 1, before[1] + 3)
    assert batched == pytest.approx(single, abs=1e-4)


async def test_predict_is_answered_by_the_worker_thread() -> None:
    model = SmartTurnV3(max_batch=4)
    try:
        pcm = await _piper(SENTENCES[1])
        answers = [model.predict(pcm + PAUSE, 16_000) for _ in range(3)]
        results = await asyncio.gather(*answers)
        assert results == pytest.approx([model.predict_now(pcm + PAUSE, 16_000)] * 3, abs=1e-4)
        assert model.predictions == 3
        assert 1 <= model.batches <= 3
    finally:
        await asyncio.to_thread(model.close)
    closed = model.predict(PAUSE, 16_000)
    with pytest.raises(ProviderUnavailable):
        await closed
