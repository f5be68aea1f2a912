"""Bake preparation: framing, face finding with clear refusals, idle cycle, artifacts."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from lipsync_worker import artifacts, baking
from lipsync_worker.contract import FPS, BakeError, BakeFailure, BakeSource
from lipsync_worker.cpu_renderer import CpuRenderer


def write_png(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def write_video(path: Path, rgb: np.ndarray, seconds: float, fps: int = 30) -> Path:
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (rgb.shape[1], rgb.shape[0])
    )
    for i in range(int(seconds * fps)):
        shifted = np.roll(rgb, i % 3, axis=1)
        writer.write(cv2.cvtColor(shifted, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def refusal(path: Path) -> BakeFailure:
    with pytest.raises(BakeError) as error:
        baking.prepare(BakeSource(path=path, out_dir=path.parent / "out"))
    assert error.value.message and str(path) not in error.value.message
    return error.value.code


def test_the_portrait_is_framed_with_one_face_and_an_idle_cycle(portrait: Path) -> None:
    prepared = baking.prepare(BakeSource(path=portrait, out_dir=portrait.parent / "out"))
    frames = prepared.frames
    assert frames.shape == (baking.PHOTO_CYCLE_FRAMES, 512, 512, 3)
    for box in prepared.face_boxes + prepared.mouth_boxes:
        assert box.x >= 0 and box.y >= 0 and box.x + box.w <= 512 and box.y + box.h <= 512
    face = prepared.face_boxes[0]
    assert face.w > 150  # head-and-shoulders framing made the small face large
    # slight motion, a blink, and a seamless loop (last frame close to the first)
    assert not np.array_equal(frames[0], frames[25])
    assert (
        np.abs(frames[-1].astype(int) - frames[0]).mean()
        < np.abs(frames[50].astype(int) - frames[0]).mean() + 1
    )


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: np.full((400, 400, 3), 180, np.uint8), BakeFailure.NO_FACE),
        (
            lambda: np.concatenate([data.astronaut()[:300, 100:400]] * 2, axis=1),
            BakeFailure.SEVERAL_FACES,
        ),
        (lambda: cv2.resize(data.astronaut(), (200, 200)), BakeFailure.FACE_TOO_SMALL),
    ],
    ids=["no-face", "two-faces", "tiny-face"],
)
def test_pictures_that_cannot_make_an_avatar_are_refused_with_a_reason(
    tmp_path: Path, make, code
) -> None:
    assert refusal(write_png(tmp_path / "in.png", make())) == code


def test_garbage_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    path.write_bytes(b"\x00garbage" * 100)
    assert refusal(path) == BakeFailure.UNREADABLE


def test_a_short_video_is_too_short_and_a_longer_one_bakes_forward_then_back(
    tmp_path: Path,
) -> None:
    portrait = data.astronaut()[:400, 56:456]
    assert refusal(write_video(tmp_path / "short.avi", portrait, 0.4)) == BakeFailure.TOO_SHORT
    prepared = baking.prepare(
        BakeSource(path=write_video(tmp_path / "ok.avi", portrait, 2.0), out_dir=tmp_path)
    )
    n = len(prepared.frames)
    forward = 2 * FPS
    assert n == 2 * forward - 2
    assert np.array_equal(prepared.frames[1], prepared.frames[n - 1])  # ping-pong


def test_a_face_at_the_edge_gets_boxes_inside_the_frame(tmp_path: Path) -> None:
    edge = np.full((420, 420, 3), 200, np.uint8)
    face = data.astronaut()[40:200, 150:310]  # the face, close to the left and top edges
    edge[:160, :160] = face
    prepared = baking.prepare(
        BakeSource(path=write_png(tmp_path / "edge.png", edge), out_dir=tmp_path)
    )
    height, width = prepared.frames.shape[1:3]
    for box in prepared.face_boxes + prepared.mouth_boxes:
        assert box.x >= 0 and box.y >= 0 and box.x + box.w <= width and box.y + box.h <= height
        assert box.w > 0 and box.h > 0


def test_artifacts_have_checksums_and_tampering_is_caught(portrait: Path, tmp_path: Path) -> None:
    out = tmp_path / "baked"
    baked = CpuRenderer().bake(BakeSource(path=portrait, out_dir=out))
    clip = baking.encode_idle_clip(baked.frames, out)
    artifacts.add_files(out, list(clip))
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"idle.webm", "idle.mp4", "idle_poster.jpg", "frames"} <= set(manifest["files"])
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames,width",
            "-of",
            "json",
            str(out / "idle.mp4"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert int(stream["nb_read_frames"]) == len(baked.frames) and stream["width"] == 512
    assert CpuRenderer().load(out).frame_count == baked.frame_count
    with (out / "mouth_boxes.npy").open("r+b") as handle:
        handle.seek(-1, 2)
        handle.write(b"\x07")
    with pytest.raises(artifacts.ArtifactsCorrupt):
        CpuRenderer().load(out)
