"""The CPU renderer: the mouth follows the audio, closes in silence, and chunks join seamlessly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipsync_worker.contract import (
    SAMPLES_PER_FRAME,
    Baked,
    BakeSource,
    LipSyncRenderer,
    RenderCancelled,
    RenderedFrame,
    StreamState,
    frames_for_samples,
)
from lipsync_worker.renderers.cpu import CpuRenderer
from lipsync_worker.renderers.mouth import mouth_shapes
from tests.speech_audio import espeak_pcm16

SENTENCE = "Our store is open from nine to six, Monday to Saturday."


@pytest.fixture(scope="module")
def sentence() -> np.ndarray:
    return espeak_pcm16(SENTENCE, silence_before=0.5, silence_after=0.5)


def render_all(
    baked: Baked, audio: np.ndarray, state: StreamState | None = None
) -> list[RenderedFrame]:
    batches = CpuRenderer().render(baked, audio, state or StreamState(), lambda: False)
    return [frame for batch in batches for frame in batch]


def idle_crop(baked: Baked, frame: RenderedFrame) -> np.ndarray:
    box = frame.box
    return baked.frames[frame.idle_index, box.y : box.y + box.h, box.x : box.x + box.w]


def idle_face(baked: Baked, frame: RenderedFrame) -> np.ndarray:
    face = baked.face_boxes[frame.idle_index]
    return baked.frames[frame.idle_index, face.y : face.y + face.h, face.x : face.x + face.w]


def pasted_face(baked: Baked, frame: RenderedFrame) -> np.ndarray:
    """The face as the widget shows it: the frame's image pasted at its box over the idle frame."""
    face, box = baked.face_boxes[frame.idle_index], frame.box
    image = idle_face(baked, frame).copy()
    image[box.y - face.y : box.y - face.y + box.h, box.x - face.x : box.x - face.x + box.w] = (
        frame.image
    )
    return image


# Dark: R + G + B under this (a mean of 110 of 255). The cavity's back is shaded to about a
# third of the lips' light, which lies well under it; skin and lips do not. (A threshold of
# 250 counted only the near-black, which a mouth lit like a real one hardly has: 109 pixels
# at the widest against 289 now.)
DARK = 330


def openness_from_pixels(baked: Baked, frames: list[RenderedFrame]) -> np.ndarray:
    """How open each rendered mouth is, from pixels only: new dark area in the lips' middle.

    The middle three fifths of the lips, from their top to where the lower lip drops at most:
    not the corners, which move in and out with the mouth's width (their shadows with them),
    nor the neck, whose dark clothing the dropping chin covers.
    """
    x, y, w, h = baked.manifest["mouth_box"]
    k = baked.face_boxes[0].w / baked.manifest["crop_size"]
    rows = slice(int((y - 0.2 * h) * k), int((y + 1.5 * h) * k))
    cols = slice(int((x + 0.2 * w) * k), int((x + 0.8 * w) * k))
    values = []
    for frame in frames:
        dark_now = (pasted_face(baked, frame)[rows, cols].astype(int).sum(2) < DARK).sum()
        dark_idle = (idle_face(baked, frame)[rows, cols].astype(int).sum(2) < DARK).sum()
        values.append(dark_now - dark_idle)
    return np.array(values, float)


def loudness(audio: np.ndarray) -> np.ndarray:
    n = frames_for_samples(len(audio))
    padded = np.zeros(n * SAMPLES_PER_FRAME)
    padded[: len(audio)] = audio
    return np.sqrt((padded.reshape(n, -1) ** 2).mean(1))


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 4) -> tuple[float, int]:
    """Highest Pearson r of a[t + lag] against b[t], and its lag in frames."""
    scores = []
    for lag in range(-max_lag, max_lag + 1):
        x = a[max(0, lag) : len(a) + min(0, lag)]
        y = b[max(0, -lag) : len(b) - max(0, lag)]
        scores.append((float(np.corrcoef(x, y)[0, 1]), lag))
    return max(scores)


def test_the_cpu_renderer_implements_the_contract() -> None:
    assert isinstance(CpuRenderer(), LipSyncRenderer) and CpuRenderer.kind == "cpu"


def test_the_mouth_opens_with_the_voice_and_is_the_idle_crop_in_silence(
    cpu_baked: Baked, sentence: np.ndarray
) -> None:
    frames = render_all(cpu_baked, sentence)
    assert len(frames) == frames_for_samples(len(sentence))
    assert all(f.image.shape == (f.box.h, f.box.w, 3) and f.image.dtype == np.uint8 for f in frames)
    opened = openness_from_pixels(cpu_baked, frames)
    level = loudness(sentence)
    r, lag = best_lag(opened, level)
    assert r >= 0.6, (r, lag)
    assert abs(lag) <= 1, (r, lag)
    assert opened.max() > 100  # a visible opening in the middle of the lips, not a few pixels
    # Silence: the half second before the voice, and the tail once the ~80 ms release is over.
    speech = np.flatnonzero(level > 30)
    silent = list(range(speech[0])) + list(range(speech[-1] + 8, len(frames)))
    assert len(silent) >= 15
    for i in silent:
        assert np.array_equal(frames[i].image, idle_crop(cpu_baked, frames[i])), i
    assert sum(not np.array_equal(f.image, idle_crop(cpu_baked, f)) for f in frames) > 30


def test_rendering_in_three_chunks_with_left_context_equals_rendering_whole(
    cpu_baked: Baked, sentence: np.ndarray
) -> None:
    audio = sentence[: len(sentence) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME - 123]  # odd tail
    whole = render_all(cpu_baked, audio, StreamState(idle_start=7))
    cuts = [0, 20 * SAMPLES_PER_FRAME, 47 * SAMPLES_PER_FRAME, len(audio)]
    chunked: list[RenderedFrame] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        state = StreamState(
            idle_start=7,
            turn_frame=start // SAMPLES_PER_FRAME,
            left_audio=audio[max(0, start - 16000) : start],
        )
        chunked += render_all(cpu_baked, audio[start:end], state)
    assert len(whole) == len(chunked) == frames_for_samples(len(audio))
    assert [f.index for f in chunked] == list(range(len(whole)))
    assert [(f.idle_index, f.box) for f in chunked] == [(f.idle_index, f.box) for f in whole]
    for a, b in zip(whole, chunked, strict=True):
        assert np.abs(a.image.astype(int) - b.image).max() <= 1, a.index
    left = audio[: cuts[1]]
    shapes = np.concatenate([mouth_shapes(left), mouth_shapes(audio[cuts[1] :], left_audio=left)])
    assert np.abs(shapes - mouth_shapes(audio)).max() < 1e-3


def test_the_idle_index_follows_the_turn(cpu_baked: Baked) -> None:
    n = cpu_baked.frame_count
    state = StreamState(idle_start=n - 2, turn_frame=5)
    frames = render_all(cpu_baked, np.zeros(SAMPLES_PER_FRAME * 3, np.int16), state)
    assert [f.index for f in frames] == [5, 6, 7]
    assert [f.idle_index for f in frames] == [(n - 2 + 5 + j) % n for j in range(3)]


def test_output_is_deterministic(cpu_baked: Baked, sentence: np.ndarray) -> None:
    first, second = render_all(cpu_baked, sentence), render_all(cpu_baked, sentence)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize(
    "samples", [1, SAMPLES_PER_FRAME - 1, SAMPLES_PER_FRAME, 8 * SAMPLES_PER_FRAME + 1]
)
def test_frame_count_is_samples_over_640_rounded_up(cpu_baked: Baked, samples: int) -> None:
    audio = (np.random.default_rng(1).normal(0, 5000, samples)).astype(np.int16)
    assert len(render_all(cpu_baked, audio)) == -(-samples // SAMPLES_PER_FRAME)
    assert render_all(cpu_baked, np.zeros(0, np.int16)) == []


def test_cancel_stops_before_the_next_batch(cpu_baked: Baked, sentence: np.ndarray) -> None:
    batches = 0

    def cancel_after_first() -> bool:
        return batches >= 1

    with pytest.raises(RenderCancelled):
        for _ in CpuRenderer().render(cpu_baked, sentence, StreamState(), cancel_after_first):
            batches += 1
    assert batches == 1
    with pytest.raises(RenderCancelled):  # a turn cancelled before it starts renders nothing
        next(CpuRenderer().render(cpu_baked, sentence, StreamState(), lambda: True))


def test_load_gives_back_the_same_avatar_and_refuses_a_changed_one(cpu_baked: Baked) -> None:
    loaded = CpuRenderer().load(cpu_baked.out_dir)
    assert loaded.face_boxes == cpu_baked.face_boxes
    assert np.array_equal(loaded.frames, cpu_baked.frames)
    audio = espeak_pcm16("Hello there.")
    a, b = render_all(cpu_baked, audio), render_all(loaded, audio)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))


def test_a_video_avatar_renders_on_its_moving_face_boxes(tmp_path: Path) -> None:
    from skimage import data

    from tests.lipsync_worker.test_baking import write_video

    source = write_video(tmp_path / "v.avi", data.astronaut()[:400, 56:456], 1.2, fps=25)
    baked = CpuRenderer().bake(BakeSource(path=source, out_dir=tmp_path / "baked"))
    assert baked.frame_count == 2 * 30 - 2
    frames = render_all(baked, espeak_pcm16("Nine to six."), StreamState(idle_start=3))
    x0, y0, x1, y1 = baked.arrays["mouth_region"]
    for f in frames:  # the mouth region, riding on the face box of its idle frame
        face = baked.face_boxes[f.idle_index]
        assert (f.box.x - face.x, f.box.y - face.y, f.box.w, f.box.h) == (x0, y0, x1 - x0, y1 - y0)
    assert any(not np.array_equal(f.image, idle_crop(baked, f)) for f in frames)
