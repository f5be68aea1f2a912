"""The CPU renderer: the mouth follows the audio, closes in silence, and chunks join seamlessly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipsync_worker.contract import SAMPLES_PER_FRAME, BakeSource, RenderCancelled, StreamState
from lipsync_worker.cpu_renderer import CpuRenderer
from lipsync_worker.mouth import mouth_shapes
from tests.speech_audio import espeak_pcm16

SENTENCE = "Our store is open from nine to six, Monday to Saturday."


@pytest.fixture(scope="module")
def baked(portrait: Path, tmp_path_factory: pytest.TempPathFactory):
    return CpuRenderer().bake(BakeSource(path=portrait, out_dir=tmp_path_factory.mktemp("cpu")))


def render_all(baked, audio, state=None):
    return [
        f
        for batch in CpuRenderer().render(baked, audio, state or StreamState(), lambda: False)
        for f in batch
    ]


def openness_from_pixels(baked, frames) -> np.ndarray:
    """How open each rendered mouth is, measured only from pixels: dark area vs the idle crop."""
    values = []
    for frame in frames:
        box = frame.box
        idle = baked.frames[frame.idle_index, box.y : box.y + box.h, box.x : box.x + box.w]
        dark_now = (frame.image.astype(int).sum(2) < 250).sum()
        dark_idle = (idle.astype(int).sum(2) < 250).sum()
        values.append(max(0, dark_now - dark_idle))
    return np.array(values, float)


def loudness(audio: np.ndarray) -> np.ndarray:
    n = -(-len(audio) // SAMPLES_PER_FRAME)
    padded = np.zeros(n * SAMPLES_PER_FRAME)
    padded[: len(audio)] = audio
    return np.sqrt((padded.reshape(n, -1) ** 2).mean(1))


def test_mouth_opening_follows_the_audio_and_closes_in_silence(baked) -> None:
    audio = espeak_pcm16(SENTENCE, silence_before=0.5, silence_after=0.5)
    frames = render_all(baked, audio)
    assert len(frames) == -(-len(audio) // SAMPLES_PER_FRAME)
    opened = openness_from_pixels(baked, frames)
    level = loudness(audio)
    best = max(
        (
            np.corrcoef(
                opened[max(0, lag) : len(opened) + min(0, lag)],
                level[max(0, -lag) : len(level) - max(0, lag)],
            )[0, 1],
            lag,
        )
        for lag in range(-3, 4)
    )
    assert best[0] >= 0.6, best
    assert abs(best[1]) <= 1
    silent = [
        i for i in range(len(frames)) if level[max(0, i - 5) : i + 1].max() < 30
    ]  # 200 ms of silence
    assert len(silent) >= 15
    for i in silent:  # closed: exactly the idle pixels
        box = frames[i].box
        idle = baked.frames[frames[i].idle_index, box.y : box.y + box.h, box.x : box.x + box.w]
        assert np.array_equal(frames[i].image, idle)


def test_rendering_in_chunks_equals_rendering_whole(baked) -> None:
    audio = espeak_pcm16(SENTENCE)
    audio = audio[: len(audio) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME]
    whole = render_all(baked, audio, StreamState(idle_start=7))
    cuts = [0, 10 * SAMPLES_PER_FRAME, 35 * SAMPLES_PER_FRAME, len(audio)]
    chunked = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        state = StreamState(
            idle_start=7,
            turn_frame=start // SAMPLES_PER_FRAME,
            left_audio=audio[max(0, start - 16000) : start],
        )
        chunked += render_all(baked, audio[start:end], state)
    assert [f.index for f in chunked] == [f.index for f in whole]
    assert [f.idle_index for f in chunked] == [f.idle_index for f in whole]
    shapes_whole = mouth_shapes(audio)
    for f_whole, f_chunk in zip(whole, chunked, strict=True):
        assert np.abs(f_whole.image.astype(int) - f_chunk.image).max() <= 1
    assert np.isfinite(shapes_whole).all()


def test_output_is_deterministic_and_cancel_stops_before_the_next_batch(baked) -> None:
    audio = espeak_pcm16(SENTENCE)
    first, second = render_all(baked, audio), render_all(baked, audio)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, second, strict=True))
    batches = 0

    def cancel_after_first() -> bool:
        return batches >= 1

    with pytest.raises(RenderCancelled):
        for _ in CpuRenderer().render(baked, audio, StreamState(), cancel_after_first):
            batches += 1
    assert batches == 1
