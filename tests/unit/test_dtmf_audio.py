"""The send_dtmf tool's tones: each key's frequency pair for 100 ms, then 100 ms of
silence, decoded back to the keys by a Goertzel detector after the μ-law round trip a
Twilio Media Stream puts them through."""

from __future__ import annotations

import pytest

from callwright.audio.codec import mulaw_decode, mulaw_encode
from callwright.audio.dtmf import DTMF_DIGITS, dtmf_audio
from tests.support.dtmf import detect_dtmf


@pytest.mark.parametrize("sample_rate", [8000, 16000])
def test_every_key_decodes_back_through_mulaw(sample_rate: int) -> None:
    keys = "1234567890*#ABCD"
    assert set(keys) == DTMF_DIGITS
    audio = mulaw_decode(mulaw_encode(dtmf_audio(keys, sample_rate)))
    assert detect_dtmf(audio, sample_rate) == keys


def test_repeated_keys_stay_apart_and_timing_is_100_ms_tone_and_gap() -> None:
    audio = dtmf_audio("00w9", 8000)
    # Three keys of 200 ms each and a 500 ms wait, at 8 kHz and 2 bytes a sample.
    assert len(audio) == (3 * 1600 + 4000) * 2
    assert detect_dtmf(audio, 8000) == "009"
    # The tone is on for the first 100 ms of a key and off for the next 100 ms.
    assert detect_dtmf(audio[:1600], 8000) == "0"
    assert detect_dtmf(audio[1600:3200], 8000) == ""


def test_a_key_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match="'E' is not a DTMF key"):
        dtmf_audio("1E", 8000)
