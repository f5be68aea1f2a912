"""Bake preparation: framing, face finding with clear refusals, the idle cycle, the idle clip."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from lipsync_worker import baking, idle_cycle
from lipsync_worker.contract import FPS, BakeError, BakeFailure, BakeSource, Box


def write_png(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def write_video(path: Path, rgb: np.ndarray, seconds: float, fps: int = 30) -> Path:
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (rgb.shape[1], rgb.shape[0])
    )
    for i in range(int(round(seconds * fps))):
        writer.write(cv2.cvtColor(np.roll(rgb, i % 4, axis=1), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def prepare(path: Path) -> baking.Prepared:
    return baking.prepare(BakeSource(path=path, out_dir=path.parent / "out"))


def refusal(path: Path) -> BakeError:
    with pytest.raises(BakeError) as error:
        prepare(path)
    assert error.value.message.endswith(".") and str(path) not in error.value.message
    return error.value


def inside(box: Box, frames: np.ndarray) -> bool:
    height, width = frames.shape[1:3]
    return box.x >= 0 and box.y >= 0 and box.x + box.w <= width and box.y + box.h <= height


def crop(frames: np.ndarray, i: int, box: Box) -> np.ndarray:
    return frames[i, box.y : box.y + box.h, box.x : box.x + box.w]


def test_the_portrait_bakes_with_one_face_a_mask_and_a_looping_idle_cycle(portrait: Path) -> None:
    prepared = prepare(portrait)
    frames = prepared.frames
    n, height, width, _ = frames.shape
    assert n == idle_cycle.PHOTO_CYCLE_FRAMES == 4 * FPS and frames.dtype == np.uint8
    assert max(height, width) <= baking.MAX_SIDE and height % 2 == 0 and width % 2 == 0
    assert len(prepared.face_boxes) == n
    assert all(inside(b, frames) and b.w == b.h == 256 for b in prepared.face_boxes)
    m = prepared.mouth_box
    assert m.x > 0 and m.x + m.w < 256 and 128 < m.y + m.h / 2 < 200  # lower half, inside
    mask = prepared.mask
    assert mask.shape == (256, 256) and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert mask[: 256 // 3].max() < 0.01  # eyes and forehead never change
    assert mask[m.y + m.h // 2, m.x + m.w // 2] > 0.95
    diff = lambda a, b: np.abs(frames[a].astype(int) - frames[b]).mean()  # noqa: E731
    assert diff(25, 0) > 0.1 and diff(50, 0) > 0.1  # it moves...
    assert diff(n - 1, 0) < 0.5 * diff(50, 0)  # ...and the last frame leads back to the first


def test_the_photo_idle_cycle_blinks(portrait: Path) -> None:
    prepared = prepare(portrait)
    box = prepared.face_boxes[0]
    shut = idle_cycle.BLINK_AT + 2
    eyes = slice(box.h * 25 // 100, box.h * 45 // 100)  # the eye band of the face crop
    mouth = slice(box.h * 60 // 100, box.h * 80 // 100)
    change = lambda rows: np.abs(  # noqa: E731
        crop(prepared.frames, shut, box)[rows].astype(int)
        - crop(prepared.frames, shut - 6, box)[rows]
    ).mean()
    assert change(eyes) > 4 * change(mouth) and change(eyes) > 3.0


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
    tmp_path: Path, make: Callable[[], np.ndarray], code: BakeFailure
) -> None:
    assert refusal(write_png(tmp_path / "in.png", make())).code == code


def test_garbage_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    path.write_bytes(b"\x00garbage" * 100)
    assert refusal(path).code == BakeFailure.UNREADABLE
    assert refusal(tmp_path / "missing.mp4").code == BakeFailure.UNREADABLE


def test_a_short_video_is_too_short(tmp_path: Path) -> None:
    portrait = data.astronaut()[:400, 56:456]
    error = refusal(write_video(tmp_path / "short.avi", portrait, 0.4))
    assert error.code == BakeFailure.TOO_SHORT and "0.4 s" in error.message


def test_a_video_is_resampled_to_25_fps_and_loops_forward_then_back(tmp_path: Path) -> None:
    portrait = data.astronaut()[:400, 56:456]
    prepared = prepare(write_video(tmp_path / "ok.avi", portrait, 2.0, fps=30))
    forward = 2 * FPS  # 60 source frames at 30 fps are 50 at 25 fps
    n = len(prepared.frames)
    assert n == 2 * forward - 2 and len(prepared.face_boxes) == n
    for k in range(1, forward - 1):  # ping-pong: frame k comes back as frame n - k
        assert np.array_equal(prepared.frames[k], prepared.frames[n - k])
        assert prepared.face_boxes[k] == prepared.face_boxes[n - k]
    assert not np.array_equal(prepared.frames[0], prepared.frames[1])  # the source moves
    assert all(
        inside(b, prepared.frames) and b.w == prepared.face_boxes[0].w for b in prepared.face_boxes
    )
    xs = np.array([b.x for b in prepared.face_boxes[:forward]])
    assert np.abs(np.diff(xs)).max() <= 2  # smoothed: no jumps from detector noise


@pytest.mark.parametrize("corner", ["top-left", "bottom-right"])
def test_a_face_at_the_edge_keeps_a_centred_crop_inside_the_frame(
    tmp_path: Path, corner: str
) -> None:
    face = data.astronaut()[30:230, 130:320]  # the head, cut close
    canvas = np.full((480, 520, 3), 200, np.uint8)
    if corner == "top-left":
        canvas[:200, :190] = face
        canvas = canvas[30:, 25:]  # the crop would start ~11 px left of and ~14 px above it
    else:
        canvas[-200:, -190:] = face
        canvas = canvas[:-30, :-30]  # the crop would end ~17 px right of and ~8 px below it
    prepared = prepare(write_png(tmp_path / "edge.png", canvas))
    box = prepared.face_boxes[0]
    assert all(inside(b, prepared.frames) for b in prepared.face_boxes)
    # Padding, not shifting: the face is found again in the middle of its crop.
    found = baking.find_faces(crop(prepared.frames, 0, box).copy())
    assert found, "no face in the crop"
    f = found[0]
    assert abs(f.x + f.w / 2 - box.w / 2) < 0.06 * box.w
    expected_cy = box.w / 2 - (baking.CROP_CENTRE_Y - 0.5) * box.w / baking.CROP_SCALE
    assert abs(f.y + f.h / 2 - expected_cy) < 0.06 * box.w


def test_the_frame_area_grows_past_the_source_rather_than_moving_the_crop() -> None:
    centres = np.array([[20.0, 30.0], [24.0, 31.0]])
    x0, y0, x1, y1 = baking.frame_area(centres, side=100.0, width=400, height=300)
    assert x0 <= 20 - 50 and y0 <= 30 - 50  # both crops whole: padding on the left and top
    assert x1 >= 24 + 50 and y1 >= 31 + 50
    assert (x1 - x0) <= 400 and (y1 - y0) <= 300 + 50


def ffprobe(path: Path) -> dict:
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_name,pix_fmt,width,height,nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(probe.stdout)["streams"][0]


def test_the_idle_clip_is_written_in_both_codecs_and_a_poster(tmp_path: Path) -> None:
    frames = np.stack(
        [np.full((120, 160, 3), (i * 5, 100, 255 - i * 5), np.uint8) for i in range(30)]
    )
    paths = baking.encode_idle_clip(frames, tmp_path / "clip")
    assert set(paths) == set(baking.IDLE_FILES)
    for name, codec in (("idle.webm", "vp8"), ("idle.mp4", "h264")):
        stream = ffprobe(paths[name])
        assert stream["codec_name"] == codec and stream["pix_fmt"] == "yuv420p"
        assert (stream["width"], stream["height"]) == (160, 120)
        assert int(stream["nb_read_frames"]) == 30
    mp4 = paths["idle.mp4"].read_bytes()
    assert mp4.index(b"moov") < mp4.index(b"mdat")  # faststart: playable while it downloads
    poster = cv2.imread(str(paths["idle_poster.jpg"]))
    assert poster.shape == (120, 160, 3)


def test_the_bake_measures_lips_jaw_nose_and_chin_and_what_the_mouth_shows(
    portrait: Path,
) -> None:
    from lipsync_worker.face import landmarks as lm

    prepared = prepare(portrait)
    points = prepared.landmarks
    assert points is not None and points.shape == (len(prepared.frames), lm.N_POINTS, 2)
    side = prepared.face_boxes[0].w
    assert points.min() > -0.1 * side and points.max() < 1.1 * side  # in face-crop pixels
    first = points[0]
    lips = first[list(lm.LIPS_OUTER)]
    assert first[1, 1] < lips[:, 1].min() < lips[:, 1].max() < first[152, 1]  # nose, lips, chin
    assert prepared.pose is not None and prepared.pose.state == "teeth"  # she smiles
    x, y, w, h = prepared.pose.teeth_box or (0, 0, 0, 0)
    assert lips[:, 0].min() <= x and x + w <= lips[:, 0].max() + 1 and w > h > 0
    # The idle motion moves the landmarks with it: frame 25 sways, so its points differ a little.
    shift = np.abs(points[25] - points[0]).max()
    assert 0.05 < shift < 3.0
