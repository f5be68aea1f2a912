from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from conversation.tts.resample import StreamResampler

RATES = [(22050, 16000), (24000, 16000), (44100, 16000), (8000, 16000)]


def stream(resampler: StreamResampler, signal: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out, pos = [], 0
    while pos < signal.size:
        size = int(rng.integers(1, 900))
        out.append(resampler.process(signal[pos : pos + size]))
        pos += size
    out.append(resampler.flush())
    return np.concatenate(out)


@pytest.mark.parametrize(("in_rate", "out_rate"), RATES)
def test_streaming_in_random_blocks_equals_one_shot(in_rate: int, out_rate: int) -> None:
    signal = np.random.default_rng(7).standard_normal(in_rate // 2) * 8000
    whole = resample_poly(signal, out_rate, in_rate)

    streamed = stream(StreamResampler(in_rate, out_rate), signal, seed=in_rate)

    assert streamed.size == whole.size
    np.testing.assert_allclose(streamed, whole, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("in_rate", "out_rate"), RATES)
def test_output_length_follows_the_rate_ratio(in_rate: int, out_rate: int) -> None:
    for n_in in (1, 441, 12345):
        out = stream(StreamResampler(in_rate, out_rate), np.ones(n_in), seed=n_in)
        assert abs(out.size - n_in * out_rate / in_rate) < 2


def test_a_1khz_sine_stays_1khz_without_clicks() -> None:
    t = np.arange(22050) / 22050
    out = stream(StreamResampler(22050, 16000), 10000 * np.sin(2 * np.pi * 1000 * t), seed=3)

    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    assert np.fft.rfftfreq(out.size, 1 / 16000)[spectrum.argmax()] == pytest.approx(1000, abs=2)
    # Away from the edges the output is the pure tone: a click at a block seam would show here.
    expected = 10000 * np.sin(2 * np.pi * 1000 * np.arange(out.size) / 16000)
    assert np.max(np.abs(out[200:-200] - expected[200:-200])) < 50


def test_same_rate_passes_through() -> None:
    signal = np.arange(1000, dtype=np.float64)
    np.testing.assert_array_equal(stream(StreamResampler(16000, 16000), signal, seed=1), signal)


def test_flush_resets_for_the_next_stream() -> None:
    resampler = StreamResampler(22050, 16000)
    signal = np.random.default_rng(1).standard_normal(5000)
    first = stream(resampler, signal, seed=1)
    np.testing.assert_array_equal(stream(resampler, signal, seed=2), first)
