"""Audio to mouth shape: loudness opens, silence closes, timbre shapes, chunks join exactly."""

from __future__ import annotations

import numpy as np
import pytest

from lipsync_worker.contract import SAMPLE_RATE, SAMPLES_PER_FRAME
from lipsync_worker.renderers import mouth
from tests.speech_audio import espeak_pcm16

SENTENCE = "Our store is open from nine to six, Monday to Saturday."


def tone(hz: float, seconds: float, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_one_shape_per_frame_and_silence_is_shut() -> None:
    shapes = mouth.mouth_shapes(np.zeros(SAMPLES_PER_FRAME * 10 + 1, np.int16))
    assert shapes.shape == (11, 2) and shapes.dtype == np.float32
    assert not shapes.any()
    quiet = (np.random.default_rng(0).normal(0, 40, SAMPLE_RATE)).astype(np.int16)  # room noise
    assert not mouth.mouth_shapes(quiet).any()


def test_the_mouth_opens_fast_and_closes_slower() -> None:
    on = tone(220, 0.4)
    audio = np.concatenate(
        [np.zeros(SAMPLES_PER_FRAME * 5, np.int16), on, np.zeros(8000, np.int16)]
    )
    openness = mouth.mouth_shapes(audio)[:, 0]
    assert openness[4] == 0.0 and openness[5] > 0.6  # ~30 ms attack: open within one frame
    peak = openness[14]
    assert peak > 0.8
    assert openness[15] > 0.45 * peak  # ~80 ms release: still half open 40 ms later
    assert openness[-1] == 0.0  # and shut by the end of the pause


def test_rounded_sounds_are_narrow_and_spread_sounds_wide() -> None:
    rounded = mouth.mouth_shapes(tone(350, 0.5))[5:, 1]  # an "oo": energy low in the spectrum
    spread = mouth.mouth_shapes(tone(3500, 0.5))[5:, 1]  # an "ee"/"s": energy high
    assert rounded.mean() < -0.5 and spread.mean() > 0.5


@pytest.mark.parametrize("cut_frames", [1, 17, 40])
def test_two_chunks_with_left_context_equal_one_whole(cut_frames: int) -> None:
    audio = espeak_pcm16(SENTENCE, silence_before=0.2)
    whole = mouth.mouth_shapes(audio)
    cut = cut_frames * SAMPLES_PER_FRAME
    first = mouth.mouth_shapes(audio[:cut])
    second = mouth.mouth_shapes(audio[cut:], left_audio=audio[max(0, cut - SAMPLE_RATE) : cut])
    joined = np.concatenate([first, second])
    assert joined.shape == whole.shape
    assert np.abs(joined - whole).max() < 1e-3
    # Without the context the border frame differs: the context is what makes it seamless.
    bare = mouth.mouth_shapes(audio[cut:])
    assert np.abs(bare - whole[cut_frames:]).max() > 1e-2 or not whole[cut_frames - 1].any()
