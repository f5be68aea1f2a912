"""The idle loop: synthesised from a still photo, and encoded as the clip the widget plays.

A photo gets breathing, a slight sway and a blink. Every motion is a whole number of periods
over the cycle, so the last frame leads into the first with no jump; the mouth is left as the
photo shows it (closed, for a good source).
"""

from __future__ import annotations

import math
import subprocess
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from lipsync_worker.contract import FPS, Box

PHOTO_CYCLE_FRAMES = 4 * FPS  # a 4 s loop: one blink per loop reads as a natural ~4 s rhythm
SWAY_PX = 0.7  # sideways, sub-pixel to a pixel: alive, never swimming
BOB_PX = 0.4
BREATH = 0.003  # scale change about the shoulders
# Lid closure per frame of the blink (starting at BLINK_AT): fast down, slower up, like a person.
BLINK = (0.35, 0.8, 1.0, 1.0, 0.7, 0.4, 0.15)
BLINK_AT = 38
IDLE_FILES = ("idle.webm", "idle.mp4", "idle_poster.jpg")


def photo_idle(frame: np.ndarray, face: Box) -> np.ndarray:
    """PHOTO_CYCLE_FRAMES x H x W x 3 uint8: the photo breathing, swaying and blinking once."""
    height, width = frame.shape[:2]
    eyes = eye_boxes(frame, face)
    frames = np.empty((PHOTO_CYCLE_FRAMES, height, width, 3), np.uint8)
    for i, matrix in enumerate(photo_motion(frame.shape[:2], face)):
        closure = BLINK[i - BLINK_AT] if 0 <= i - BLINK_AT < len(BLINK) else 0.0
        still = blink(frame, eyes, closure) if closure else frame
        if i == 0:
            frames[i] = still  # every offset is zero at phase 0: the poster is the photo itself
            continue
        frames[i] = cv2.warpAffine(
            still, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    return frames


def photo_motion(shape: tuple[int, int], face: Box) -> list[np.ndarray]:
    """The 2 x 3 matrix taking the photo to each idle frame: one breath and one sway per loop.

    The renderer moves the mouth it draws by the same matrices, so it rides on the idle motion.
    """
    height = shape[0]
    pivot = (face.x + face.w / 2, min(height - 1.0, face.y + 2.0 * face.h))  # the shoulders
    matrices = []
    for i in range(PHOTO_CYCLE_FRAMES):
        phase = 2 * math.pi * i / PHOTO_CYCLE_FRAMES
        scale = 1.0 + BREATH * (1 - math.cos(phase)) / 2  # one slow breath per loop
        dx, dy = SWAY_PX * math.sin(phase), BOB_PX * math.sin(2 * phase)
        matrices.append(
            np.array(
                [[scale, 0, (1 - scale) * pivot[0] + dx], [0, scale, (1 - scale) * pivot[1] + dy]]
            )
        )
    return matrices


def eye_boxes(frame: np.ndarray, face: Box) -> list[Box]:
    """The two eyes, from the bundled eye cascade or, when it misses, frontal-face geometry."""
    height, width = frame.shape[:2]
    x0, y0 = max(face.x, 0), max(face.y, 0)
    upper = frame[y0 : min(face.y + face.h * 55 // 100, height), x0 : min(face.x + face.w, width)]
    found: Sequence[Sequence[int]] = []
    if upper.size:
        gray = cv2.equalizeHist(cv2.cvtColor(upper, cv2.COLOR_RGB2GRAY))
        min_side = max(8, face.w // 8)
        found = cv2.CascadeClassifier(
            f"{cv2.data.haarcascades}haarcascade_eye.xml"  # type: ignore[attr-defined]
        ).detectMultiScale(gray, 1.1, 5, minSize=(min_side, min_side))
    eyes = [Box(x0 + int(x), y0 + int(y), int(w), int(h)) for x, y, w, h in found]
    left = [e for e in eyes if e.x + e.w / 2 < face.x + face.w / 2]
    right = [e for e in eyes if e.x + e.w / 2 >= face.x + face.w / 2]
    if left and right:
        pair = [max(left, key=lambda b: b.w), max(right, key=lambda b: b.w)]
        if abs(pair[0].y - pair[1].y) < face.h * 0.12:  # both at one height, or it is a nostril
            return pair
    side = face.w // 4
    return [
        Box(
            face.x + int(face.w * fx) - side // 2,
            face.y + int(face.h * 0.38) - side // 2,
            side,
            side,
        )
        for fx in (0.3, 0.7)
    ]


def blink(frame: np.ndarray, eyes: list[Box], closure: float) -> np.ndarray:
    """Lower the upper lids by `closure` (0 open .. 1 shut): the eye fills with skin from the top."""
    out = frame.copy()
    height, width = frame.shape[:2]
    for eye in eyes:
        x0, x1 = max(eye.x, 0), min(eye.x + eye.w, width)
        y0, y1 = max(eye.y, 0), min(eye.y + eye.h, height)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        # Lid colour: the skin just under the eye, a shade darker (lids sit in shadow).
        cheek = frame[min(y1, height - 1) : min(y1 + eye.h // 6 + 1, height), x0:x1]
        skin = (cheek if cheek.size else frame[y0:y1, x0:x1]).reshape(-1, 3).mean(0) * 0.95
        rows = (np.arange(y0, y1, dtype=np.float32) - eye.y) / eye.h
        # The eyeball spans ~0.3..0.75 of a cascade eye box: the lid edge travels over it.
        edge = 0.25 + 0.5 * closure
        alpha = np.clip((edge - rows) * 12.0 + 0.5, 0.0, 1.0)
        alpha *= np.clip((rows - 0.18) * 12.0, 0.0, 1.0)  # leave the brow alone
        cols = (np.arange(x0, x1, dtype=np.float32) - eye.x) / eye.w
        across = np.clip((0.48 - np.abs(cols - 0.5)) * 6.0, 0.0, 1.0)
        sigma = max(1.0, eye.w / 24)
        # An almond, not a box: the lid covers the eye's opening, which narrows at its corners.
        almond = 1.0 - ((cols[None, :] - 0.5) / 0.47) ** 2 - ((rows[:, None] - 0.5) / 0.3) ** 2
        cover = alpha[:, None] * np.clip(almond * 4.0, 0.0, 1.0)
        a = cv2.GaussianBlur(cover, (0, 0), sigma)[..., None]
        # The lash line: a soft dark seam where the lid meets the lower lid, once nearly shut.
        seam = np.exp(-(((rows - edge) * eye.h / max(1.0, eye.h / 14)) ** 2))
        lash = cv2.GaussianBlur(seam[:, None] * across[None, :], (0, 0), sigma)[..., None]
        lash = lash * (0.9 * max(0.0, closure - 0.5))
        patch = out[y0:y1, x0:x1].astype(np.float32)
        lid = (patch * (1 - a) + skin * a) * (1 - lash)
        out[y0:y1, x0:x1] = np.clip(lid + 0.5, 0, 255).astype(np.uint8)
    return out


def encode_idle_clip(frames: np.ndarray, out_dir: Path) -> dict[str, Path]:
    """The idle loop for the widget: VP8 WebM, H.264 MP4 (yuv420p, faststart) and a poster JPEG."""
    out_dir.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    raw = np.ascontiguousarray(frames, dtype=np.uint8).tobytes()
    codecs = {
        "idle.webm": ["-c:v", "libvpx", "-b:v", "800k", "-crf", "10", "-auto-alt-ref", "0"],
        "idle.mp4": [
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-movflags",
            "+faststart",
        ],
    }
    paths: dict[str, Path] = {}
    for name, codec in codecs.items():
        path = out_dir / name
        command = [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(FPS),
            "-i", "-", "-an", *codec, "-pix_fmt", "yuv420p", str(path),
        ]  # fmt: skip
        subprocess.run(command, input=raw, check=True, timeout=300, capture_output=True)
        paths[name] = path
    poster = out_dir / "idle_poster.jpg"
    bgr = cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(poster), bgr, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise OSError(f"could not write {poster}")
    paths["idle_poster.jpg"] = poster
    return paths
