"""Bake preparation shared by every renderer: decode, frame, find the face, build the idle cycle.

Faces are found with OpenCV's bundled Haar cascades (shipped inside opencv-python-headless):
nothing is downloaded. Failures raise `BakeError` with a sentence an operator can act on.
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lipsync_worker.contract import FPS, BakeError, BakeFailure, BakeSource, Box

MAX_SIDE = 512  # long side of baked frames: enough for a widget, light on the wire
MIN_FACE_PX = 64  # a smaller face (in the source) has too few pixels for a mouth
MIN_VIDEO_S = 1.0
MAX_VIDEO_S = 10.0  # the idle cycle is this, forward then back: longer sources are cut
PHOTO_CYCLE_FRAMES = 100  # a still photo idles on a 4 s loop
IDLE_FILES = ("idle.webm", "idle.mp4", "idle_poster.jpg")

_CASCADES = cv2.data.haarcascades  # type: ignore[attr-defined]


@dataclass
class Prepared:
    """Frames of the idle cycle with, per frame, the face box and the mouth geometry."""

    frames: np.ndarray  # N x H x W x 3 uint8 RGB
    face_boxes: list[Box]  # square, inside the frame
    mouth_boxes: list[Box]  # the region a renderer redraws (lower face), inside the frame
    mouth_center: tuple[float, float]  # in mouth-box coordinates (same for every frame)
    mouth_half_width: float
    crop_size: int
    mask: np.ndarray  # crop_size x crop_size float32 feathered lower-face mask (MuseTalk)

    @property
    def mouth_box(self) -> Box:
        return self.mouth_boxes[0]


def _cascade(name: str) -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(f"{_CASCADES}{name}")


def read_source(path: Path) -> tuple[list[np.ndarray], bool]:
    """RGB frames at 25 fps (a video) or one frame (a photo); raises UNREADABLE or TOO_SHORT."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is not None:
        return [cv2.cvtColor(image, cv2.COLOR_BGR2RGB)], False
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or FPS
    frames: list[np.ndarray] = []
    index = 0
    while len(frames) < MAX_VIDEO_S * FPS:
        ok, frame = capture.read()
        if not ok:
            break
        # Resample to 25 fps: keep source frame i when it is the nearest to the next output tick.
        while len(frames) * fps / FPS <= index + 0.5 and len(frames) < MAX_VIDEO_S * FPS:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    if not frames:
        raise BakeError(BakeFailure.UNREADABLE, "The file is neither a readable image nor a video.")
    if len(frames) < MIN_VIDEO_S * FPS:
        raise BakeError(
            BakeFailure.TOO_SHORT,
            f"The video is {len(frames) / FPS:.1f} s long; at least {MIN_VIDEO_S:.0f} s is needed.",
        )
    return frames, True


def detect_face(rgb: np.ndarray) -> Box:
    """The one face in the picture; raises NO_FACE, SEVERAL_FACES or FACE_TOO_SMALL."""
    gray = cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    found = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=6, minSize=(24, 24)
    )
    faces = sorted((Box(*map(int, f)) for f in found), key=lambda b: -b.w * b.h)
    if not faces:
        raise BakeError(BakeFailure.NO_FACE, "No face was found. Use a frontal, well-lit picture.")
    big = [f for f in faces if f.w * f.h >= 0.4 * faces[0].w * faces[0].h]
    if len(big) > 1:
        raise BakeError(
            BakeFailure.SEVERAL_FACES,
            f"{len(big)} faces were found. The picture must show exactly one person.",
        )
    if faces[0].w < MIN_FACE_PX:
        raise BakeError(
            BakeFailure.FACE_TOO_SMALL,
            f"The face is {faces[0].w} px wide; at least {MIN_FACE_PX} px is needed.",
        )
    return faces[0]


def square_inside(cx: float, cy: float, side: float, width: int, height: int) -> Box:
    """A square of `side` centred near (cx, cy), shifted (never cut) to lie inside the frame."""
    s = int(round(min(side, width, height)))
    x = int(round(min(max(cx - s / 2, 0), width - s)))
    y = int(round(min(max(cy - s / 2, 0), height - s)))
    return Box(x, y, s, s)


def frame_around(face: Box, width: int, height: int) -> Box:
    """Head-and-shoulders framing, so a face small in a wide picture still fills the widget."""
    if face.w * 3.2 >= min(width, height):
        return Box(0, 0, width, height)
    return square_inside(face.x + face.w / 2, face.y + face.h * 1.1, face.w * 3.2, width, height)


def _reframe(frames: list[np.ndarray], area: Box) -> tuple[list[np.ndarray], float]:
    scale = MAX_SIDE / max(area.w, area.h)
    size = (int(area.w * scale) // 2 * 2, int(area.h * scale) // 2 * 2)
    out = [
        cv2.resize(
            f[area.y : area.y + area.h, area.x : area.x + area.w],
            size,
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC,
        )
        for f in frames
    ]
    return out, scale


def _face_boxes(frames: list[np.ndarray], first: Box) -> list[Box]:
    """Per-frame face boxes for a video: detected every 5th frame, smoothed, interpolated."""
    if len(frames) == 1:
        return [first]
    keys: dict[int, Box] = {0: first}
    for i in range(5, len(frames), 5):
        try:
            keys[i] = detect_face(frames[i])
        except BakeError:
            continue  # a turned head or a blink: interpolate across it
    idx = np.array(sorted(keys))
    arr = np.array([[keys[i].x, keys[i].y, keys[i].w] for i in idx], dtype=np.float64)
    track = np.stack([np.interp(np.arange(len(frames)), idx, arr[:, k]) for k in range(3)], 1)
    kernel = np.ones(5) / 5
    track = np.stack(
        [np.convolve(np.pad(track[:, k], 2, mode="edge"), kernel, "valid") for k in range(3)], 1
    )
    return [Box(int(round(x)), int(round(y)), int(round(w)), int(round(w))) for x, y, w in track]


def _photo_cycle(frame: np.ndarray, face: Box) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Four seconds of idle from one photo: slight sway and breathing, and one blink."""
    height, width = frame.shape[:2]
    eyes = _eye_boxes(frame, face)
    frames, shifts = [], []
    for i in range(PHOTO_CYCLE_FRAMES):
        phase = 2 * math.pi * i / PHOTO_CYCLE_FRAMES
        dx, dy = 1.5 * math.sin(phase), 1.0 * math.sin(2 * phase)
        scale = 1.0 + 0.004 * math.sin(phase)
        cx, cy = face.x + face.w / 2, face.y + face.h
        matrix = np.array([[scale, 0, (1 - scale) * cx + dx], [0, scale, (1 - scale) * cy + dy]])
        moved = cv2.warpAffine(
            frame, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        closure = {30: 0.5, 31: 1.0, 32: 1.0, 33: 0.5}.get(i, 0.0)
        if closure:
            moved = _blink(
                moved, [Box(e.x + round(dx), e.y + round(dy), e.w, e.h) for e in eyes], closure
            )
        frames.append(moved)
        shifts.append((dx, dy))
    return np.stack(frames), shifts


def _eye_boxes(frame: np.ndarray, face: Box) -> list[Box]:
    upper = cv2.cvtColor(
        frame[face.y : face.y + face.h // 2, face.x : face.x + face.w], cv2.COLOR_RGB2GRAY
    )
    found = _cascade("haarcascade_eye.xml").detectMultiScale(upper, 1.1, 5)
    eyes = sorted(
        (Box(face.x + int(x), face.y + int(y), int(w), int(h)) for x, y, w, h in found),
        key=lambda b: -b.w,
    )[:2]
    if len(eyes) < 2:  # geometry of a frontal face when the cascade misses
        size = face.w // 4
        eyes = [
            Box(
                face.x + int(face.w * fx) - size // 2,
                face.y + int(face.h * 0.38) - size // 2,
                size,
                size,
            )
            for fx in (0.3, 0.7)
        ]
    return eyes


def _blink(frame: np.ndarray, eyes: list[Box], closure: float) -> np.ndarray:
    """Lower the upper lid: the eye fills with lid colour from the top, softly."""
    out = frame.copy()
    for eye in eyes:
        lid = (
            frame[max(0, eye.y - eye.h // 4) : eye.y + 1, eye.x : eye.x + eye.w]
            .reshape(-1, 3)
            .mean(0)
        )
        rows = np.arange(eye.h, dtype=np.float32)[:, None] / eye.h
        lid_rows = np.clip((closure * 0.75 - rows) * 6 + 1, 0, 1) * closure
        alpha = cv2.GaussianBlur(np.repeat(lid_rows, eye.w, 1), (0, 0), max(1.0, eye.w / 12))[
            ..., None
        ]
        patch = out[eye.y : eye.y + eye.h, eye.x : eye.x + eye.w].astype(np.float32)
        out[eye.y : eye.y + eye.h, eye.x : eye.x + eye.w] = (
            patch * (1 - alpha) + lid * alpha
        ).astype(np.uint8)
    return out


def lower_face_mask(size: int) -> np.ndarray:
    """Feathered mask of the lower face in a square face crop: 1 around mouth and jaw, 0 above."""
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(
        mask,
        (size // 2, int(size * 0.74)),
        (int(size * 0.36), int(size * 0.24)),
        0,
        0,
        360,
        1.0,
        -1,
    )
    return cv2.GaussianBlur(mask, (0, 0), size / 24)


def prepare(source: BakeSource, *, crop_size: int = 256) -> Prepared:
    raw, is_video = read_source(source.path)
    face = detect_face(raw[0])
    area = frame_around(face, raw[0].shape[1], raw[0].shape[0])
    framed, scale = _reframe(raw, area)
    height, width = framed[0].shape[:2]
    first = Box(
        int((face.x - area.x) * scale),
        int((face.y - area.y) * scale),
        int(face.w * scale),
        int(face.h * scale),
    )
    if is_video:
        boxes = _face_boxes(framed, first)
        frames = np.stack(framed + framed[-2:0:-1])  # forward then back: a seamless loop
        boxes = boxes + boxes[-2:0:-1]
    else:
        frames, shifts = _photo_cycle(framed[0], first)
        boxes = [
            Box(first.x + round(dx), first.y + round(dy), first.w, first.h) for dx, dy in shifts
        ]
    face_boxes = [
        square_inside(b.x + b.w / 2, b.y + b.h * 0.62, b.w * 1.5, width, height) for b in boxes
    ]
    mouth_boxes = _mouth_regions(boxes, width, height)
    m, b = mouth_boxes[0], boxes[0]
    center = (b.x + b.w * 0.5 - m.x, b.y + b.h * 0.8 - m.y)
    return Prepared(
        frames, face_boxes, mouth_boxes, center, b.w * 0.21, crop_size, lower_face_mask(crop_size)
    )


def _mouth_regions(faces: list[Box], width: int, height: int) -> list[Box]:
    """Nose tip to below the chin, cheek to cheek: what moves when a person speaks.

    One size for every frame (the first face's), placed on each frame's face, inside the frame.
    """
    w = min(width, int(faces[0].w * 0.76) // 2 * 2)
    h = min(height, int(faces[0].h * 0.52) // 2 * 2)
    regions = []
    for face in faces:
        x = min(max(int(round(face.x + face.w * 0.12)), 0), width - w)
        y = min(max(int(round(face.y + face.h * 0.6)), 0), height - h)
        regions.append(Box(x, y, w, h))
    return regions


def encode_idle_clip(frames: np.ndarray, out_dir: Path) -> dict[str, Path]:
    """The idle loop for the widget: VP8 WebM, H.264 MP4 (faststart) and a poster JPEG."""
    height, width = frames.shape[1:3]
    raw = np.ascontiguousarray(frames).tobytes()
    outputs = {
        "idle.webm": ["-c:v", "libvpx", "-b:v", "600k", "-deadline", "realtime", "-cpu-used", "8"],
        "idle.mp4": [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "24",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ],
    }
    paths = {}
    for name, codec in outputs.items():
        path = out_dir / name
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "rawvideo",
                "-pix_fmt",
                "rgb24",
                "-s",
                f"{width}x{height}",
                "-r",
                str(FPS),
                "-i",
                "-",
                "-an",
                *codec,
                str(path),
            ],
            input=raw,
            check=True,
            timeout=120,
        )
        paths[name] = path
    poster = out_dir / "idle_poster.jpg"
    cv2.imwrite(
        str(poster), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
    )
    paths["idle_poster.jpg"] = poster
    return paths
