"""MuseTalkRenderer end to end on tiny random models: bake, reload, render in chunks, cancel."""

from __future__ import annotations

import json

import numpy as np
import pytest

from contracts.messages import RenderRequest
from conversation.reply.audio_chunks import TurnAudioChunker
from lipsync_worker.artifacts import ArtifactsCorrupt
from lipsync_worker.contract import (
    Baked,
    Box,
    LipSyncRenderer,
    RenderCancelled,
    RenderedFrame,
    StreamState,
)
from lipsync_worker.renderers.musetalk.models import MuseTalkModels
from lipsync_worker.renderers.musetalk.renderer import MuseTalkRenderer, face_crops

HALF = 9_600  # 0.6 s: 15 frames


def render_all(
    renderer: MuseTalkRenderer, baked: Baked, audio: np.ndarray, state: StreamState
) -> list[list[RenderedFrame]]:
    return list(renderer.render(baked, audio, state, lambda: False))


def stacked(frames: list[RenderedFrame]) -> np.ndarray:
    return np.stack([f.image for f in frames]).astype(np.int16)


def test_implements_the_contract(renderer: MuseTalkRenderer) -> None:
    assert isinstance(renderer, LipSyncRenderer)
    assert renderer.kind == "musetalk"


def test_bake_stores_latents_and_mask_with_checksums(baked: Baked) -> None:
    n = baked.frame_count
    assert baked.renderer == "musetalk"
    assert baked.arrays["masked_latents"].shape == (n, 4, 32, 32)
    assert baked.arrays["reference_latents"].shape == (n, 4, 32, 32)
    assert baked.arrays["mask"].shape == (256, 256)
    assert not np.allclose(baked.arrays["masked_latents"], baked.arrays["reference_latents"])
    manifest = json.loads((baked.out_dir / "manifest.json").read_text())
    assert manifest == baked.manifest
    assert {"frames", "masked_latents", "reference_latents", "mask"} <= set(manifest["files"])
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())


def test_load_returns_what_bake_wrote_and_refuses_tampering(
    renderer: MuseTalkRenderer, baked: Baked, tmp_path_factory: pytest.TempPathFactory
) -> None:
    loaded = renderer.load(baked.out_dir)
    assert loaded.face_boxes == baked.face_boxes
    assert np.array_equal(loaded.frames, baked.frames)
    assert loaded.arrays.keys() == baked.arrays.keys()
    assert all(np.array_equal(loaded.arrays[k], baked.arrays[k]) for k in baked.arrays)

    copy = tmp_path_factory.mktemp("tampered")
    for path in baked.out_dir.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    latents = np.load(copy / "masked_latents.npy")
    np.save(copy / "masked_latents.npy", latents + 1.0)
    with pytest.raises(ArtifactsCorrupt, match="checksum"):
        renderer.load(copy)


def test_two_chunks_give_every_frame_once_in_order(
    renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray
) -> None:
    first = render_all(renderer, baked, speech[:HALF], StreamState(idle_start=3))
    second = render_all(
        renderer,
        baked,
        speech[HALF:],
        StreamState(idle_start=3, turn_frame=15, left_audio=speech[:HALF]),
    )
    assert [len(batch) for batch in first] == [4, 4, 4, 3]  # batch size 4
    frames = [f for batch in first + second for f in batch]
    assert [f.index for f in frames] == list(range(30))
    assert [f.idle_index for f in frames] == [(3 + i) % baked.frame_count for i in range(30)]
    for frame in frames:
        assert frame.box == baked.face_boxes[frame.idle_index]
        assert frame.image.shape == (frame.box.h, frame.box.w, 3)
        assert frame.image.dtype == np.uint8


def test_a_partial_last_frame_counts(
    renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray
) -> None:
    assert sum(map(len, render_all(renderer, baked, speech[:700], StreamState()))) == 2
    assert render_all(renderer, baked, speech[:0], StreamState()) == []


def test_only_the_masked_lower_face_changes(
    renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray
) -> None:
    frames = [
        f for batch in render_all(renderer, baked, speech[:HALF], StreamState()) for f in batch
    ]
    mask = baked.arrays["mask"]
    untouched_rows = int(np.argmax(mask.max(axis=1) > 0))  # first crop row the mask reaches
    assert untouched_rows > 0
    for frame in frames:
        box = frame.box
        idle = baked.frames[frame.idle_index, box.y : box.y + box.h, box.x : box.x + box.w]
        top = box.h * untouched_rows // 256 - 2  # the mask is resized to the box: keep a margin
        assert np.array_equal(frame.image[:top], idle[:top])
        assert not np.array_equal(frame.image, idle)


def test_rendering_is_deterministic(
    renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray
) -> None:
    state = StreamState(idle_start=1, turn_frame=15, left_audio=speech[:HALF])
    once = [f for b in render_all(renderer, baked, speech[HALF:], state) for f in b]
    again = [f for b in render_all(renderer, baked, speech[HALF:], state) for f in b]
    assert np.array_equal(stacked(once), stacked(again))


def test_cancel_is_checked_before_each_batch(
    renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray
) -> None:
    checks: list[int] = []

    def cancel_after_two_batches() -> bool:
        checks.append(1)
        return len(checks) > 2

    batches = renderer.render(baked, speech, StreamState(), cancel_after_two_batches)
    assert len(next(batches)) == 4
    assert len(next(batches)) == 4
    with pytest.raises(RenderCancelled):
        next(batches)
    assert len(checks) == 3

    with pytest.raises(RenderCancelled):
        next(iter(renderer.render(baked, speech, StreamState(), lambda: True)))


def chunk_by_chunk(
    renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray, *, right_samples: int
) -> list[RenderedFrame]:
    """`speech` in two chunks, each with up to `right_samples` of the audio after it."""
    first = render_all(
        renderer,
        baked,
        speech[:HALF],
        StreamState(right_audio=speech[HALF : HALF + right_samples]),
    )
    second = render_all(
        renderer, baked, speech[HALF:], StreamState(turn_frame=15, left_audio=speech[:HALF])
    )
    return [f for b in first + second for f in b]


def edge_difference(
    models: MuseTalkModels, baked: Baked, speech: np.ndarray, right_samples: int
) -> np.ndarray:
    """Per frame, the largest pixel difference between chunked and whole-turn renders."""
    renderer = MuseTalkRenderer(models, batch_size=8)  # another batch size than the chunks'
    whole = [f for b in render_all(renderer, baked, speech, StreamState()) for f in b]
    chunked = chunk_by_chunk(renderer, baked, speech, right_samples=right_samples)
    assert [f.index for f in chunked] == [f.index for f in whole]
    difference: np.ndarray = np.abs(stacked(chunked) - stacked(whole)).max(axis=(1, 2, 3))
    return difference


def test_right_context_chunks_match_the_whole_turn_frame_for_frame(
    models: MuseTalkModels, baked: Baked, speech: np.ndarray
) -> None:
    """With the 200 ms after it, a chunk's last frames render as in the whole turn."""
    difference = edge_difference(models, baked, speech, right_samples=3_200)
    assert (difference <= 2).all(), difference  # float noise after JPEG-free uint8 rounding


def test_without_right_context_the_chunk_edge_differs(
    models: MuseTalkModels, baked: Baked, speech: np.ndarray
) -> None:
    """Left context only: the first chunk's last two frames see silence where speech goes on."""
    difference = edge_difference(models, baked, speech, right_samples=0)
    border = [13, 14]
    assert all(difference[i] <= 2 for i in range(30) if i not in border), difference
    assert all(difference[i] > 8 for i in border), difference


def test_right_context_from_the_turn_chunker_renders_like_the_whole_turn(
    renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray
) -> None:
    """Two sentences cut by the gateway's chunker, sent as task kwargs, rendered one by one."""
    chunker = TurnAudioChunker()
    chunks = chunker.push(speech[:12_800]) + chunker.end_sentence()
    chunks += chunker.push(speech[12_800:]) + chunker.end_sentence() + chunker.release_held()
    assert [(c.sentence, len(c.pcm)) for c in chunks] == [(0, 6400), (0, 6400), (1, 6400)]
    frames = []
    for seq, chunk in enumerate(chunks):
        kwargs = RenderRequest(
            channel="c",
            avatar_id=1,
            baked_checksum="0" * 64,
            renderer="musetalk",
            turn_id="t",
            seq=seq,
            audio=chunk.pcm.tobytes(),
            idle_start=0,
            turn_frame=chunk.first_frame,
            left_audio=chunk.left_audio.tobytes(),
            right_audio=chunk.right_audio.tobytes(),
        ).to_kwargs()
        request = RenderRequest.from_kwargs(kwargs)
        state = StreamState(
            turn_frame=request.turn_frame,
            left_audio=np.frombuffer(request.left_audio, np.int16),
            right_audio=np.frombuffer(request.right_audio, np.int16),
        )
        audio = np.frombuffer(request.audio, np.int16)
        frames += [f for b in render_all(renderer, baked, audio, state) for f in b]
    whole = [f for b in render_all(renderer, baked, speech, StreamState()) for f in b]
    difference = np.abs(stacked(frames) - stacked(whole)).max(axis=(1, 2, 3))
    assert (difference <= 2).all(), difference


def test_face_boxes_must_lie_inside_the_frame() -> None:
    frames = np.zeros((1, 100, 100, 3), np.uint8)
    assert face_crops(frames, [Box(10, 10, 80, 90)], 32).shape == (1, 32, 32, 3)
    with pytest.raises(ValueError, match="not inside"):
        face_crops(frames, [Box(30, 30, 80, 80)], 32)
