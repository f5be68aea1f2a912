"""Audio to mouth shape: loudness opens, silence closes, timbre shapes, chunks join exactly."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.phonemes import PhonemeSpan
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
    loud = mouth.AUDIO_OPEN  # a loud tone: the widest loudness alone opens the mouth
    assert openness[4] == 0.0 and openness[5] > 0.7 * loud  # ~30 ms attack: open in one frame
    peak = openness[14]
    assert peak > 0.95 * loud
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


def test_silence_goes_back_to_the_sources_own_rest_exactly() -> None:
    rest = 0.25  # exact in float32, as the renderer stores it
    assert (
        mouth.mouth_shapes(np.zeros(SAMPLES_PER_FRAME * 6, np.int16), rest=rest) == (rest, 0)
    ).all()
    audio = np.concatenate([tone(220, 0.4), np.zeros(SAMPLE_RATE // 2, np.int16)])
    shapes = mouth.mouth_shapes(audio, rest=rest)
    assert shapes[:10, 0].max() > 0.7  # speech opens past the rest
    assert (shapes[-3:] == (rest, 0)).all()  # and silence is the rest itself, not near it


def spans(*phonemes: tuple[str, float]) -> list[PhonemeSpan]:
    out, at = [], 0
    for ipa, seconds in phonemes:
        end = at + int(seconds * SAMPLE_RATE)
        out.append(PhonemeSpan(ipa, at, end))
        at = end
    return out


def test_phonemes_close_for_m_b_p_open_for_a_widen_for_ee_round_for_oo() -> None:
    timing = spans(("ɑː", 0.2), ("m", 0.12), ("ɑː", 0.2), ("iː", 0.24), ("uː", 0.24), ("p", 0.12))
    audio = tone(200, sum(s.end - s.start for s in timing) / SAMPLE_RATE)
    shapes = mouth.mouth_shapes(audio, phonemes=timing)
    frame = lambda seconds: int(seconds * 25)  # noqa: E731
    assert shapes[frame(0.16), 0] > 0.7  # a: open
    assert shapes[frame(0.30), 0] < 0.15  # m: the lips meet inside the consonant
    assert shapes[frame(0.48), 0] > 0.7
    assert shapes[frame(0.66), 1] > 0.6  # ee: wide
    assert shapes[frame(0.92), 1] < -0.6  # oo: rounded
    # Co-articulation: each shape blends into the next over a frame or two, then holds still.
    assert -0.6 < shapes[frame(0.76), 1] < 0.6  # the first frame of oo is still on its way
    assert np.ptp(shapes[frame(0.64) : frame(0.76), 1]) < 0.1  # no jitter inside a vowel


def test_phoneme_shapes_join_across_chunks_like_audio_ones() -> None:
    timing = spans(("h", 0.1), ("ə", 0.2), ("l", 0.1), ("oʊ", 0.3), ("m", 0.1), ("iː", 0.3))
    audio = tone(180, 1.1)
    whole = mouth.mouth_shapes(audio, phonemes=timing)
    cut = 14 * SAMPLES_PER_FRAME
    first = mouth.mouth_shapes(audio[:cut], phonemes=timing)
    second = mouth.mouth_shapes(audio[cut:], left_audio=audio[:cut], phonemes=timing)
    assert np.abs(np.concatenate([first, second]) - whole).max() < 1e-3
