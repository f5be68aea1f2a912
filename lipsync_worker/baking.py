"""Bake preparation shared by every renderer: decode, find the face, frame it, build the idle cycle.

Faces are found and framed with OpenCV's bundled Haar cascades (shipped inside
opencv-python-headless); the lips, jaw, nose and chin of every idle frame are then measured
with the dense face mesh (`lipsync_worker.face`, MediaPipe's model from its wheel), and the
source's mouth is described (closed, open, teeth). Nothing is downloaded. Failures raise
`BakeError` with a sentence an operator can act on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lipsync_worker import idle_cycle
from lipsync_worker.contract import FPS, BakeError, BakeFailure, BakeSource, Box
from lipsync_worker.face import landmarks as face_landmarks
from lipsync_worker.face.pose import MouthPose, measure
from lipsync_worker.idle_cycle import IDLE_FILES, encode_idle_clip

MAX_SIDE = 512  # long side of baked frames: enough for a widget, light on the wire
MIN_FACE_PX = 96  # face height in the source below which a mouth has too few pixels
# Haar boxes run from the brows to the lower lip; the whole face (hairline to chin) is ~1.3x.
HAAR_TO_FACE = 1.3
COMPARABLE_AREA = 0.4  # a second face at least this big (by area) makes the picture ambiguous
MIN_VIDEO_S = 1.0
MAX_VIDEO_S = 10.0  # the idle cycle is this, forward then back: longer sources are cut
DETECT_SIDE = 1024  # faces are searched on a copy at most this big: Haar cost grows with area
READ_SIDE = 1024  # decoded frames are shrunk to this as read: 10 s stay under ~450 MB
CROP_SCALE = 1.7  # face crop side / Haar face width: forehead to below the chin
CROP_CENTRE_Y = 0.62  # crop centre, in Haar face heights below its top: extra room for the jaw
FRAME_SCALE = 1.95  # frame side / crop side: head and shoulders; a 256 crop fits a 512 frame
PHOTO_CYCLE_FRAMES = idle_cycle.PHOTO_CYCLE_FRAMES
__all__ = ["IDLE_FILES", "Prepared", "encode_idle_clip", "prepare"]  # the clip lives with the cycle

_CASCADES = cv2.data.haarcascades  # type: ignore[attr-defined]


@dataclass
class Prepared:
    """The idle cycle, where the face crop sits in each frame, and the mouth inside that crop."""

    frames: np.ndarray  # N x H x W x 3 uint8 RGB, H and W even, long side <= MAX_SIDE
    face_boxes: list[Box]  # square, one size for all frames, inside the frame (full-frame coords)
    crop_size: int  # the nominal crop a renderer works at; mask and mouth_box are in its coords
    mask: np.ndarray  # crop_size x crop_size float32 0..1: the lower face, feathered
    mouth_box: Box  # the lips, in crop_size coordinates
    is_video: bool
    # Dense landmarks of every idle frame (N x 478 x 2 float32, in that frame's face-crop
    # pixels), the frame the mouth was measured on, and what it showed. None where the face
    # mesh cannot run here (then only renderers that do not need it can bake).
    landmarks: np.ndarray | None = None
    reference: int = 0
    pose: MouthPose | None = None
    landmarks_missing: str | None = None


def _cascade(name: str) -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(f"{_CASCADES}{name}")


def read_source(path: Path) -> tuple[list[np.ndarray], bool, float]:
    """RGB frames at 25 fps (a video) or one frame (a photo), and the scale they were read at.

    Frames are shrunk to a long side of at most READ_SIDE as they are decoded, so a 4K video
    does not hold gigabytes; `scale` (<= 1) lets face sizes be judged in source pixels.
    Raises UNREADABLE or TOO_SHORT.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # applies EXIF orientation
    if image is not None:
        return _shrunk([cv2.cvtColor(image, cv2.COLOR_BGR2RGB)], False)
    frames = _read_video(path)
    if not frames:
        rgb = _read_with_pil(path)
        if rgb is None:
            raise BakeError(
                BakeFailure.UNREADABLE,
                "The file could not be read as a picture or a video. Upload a JPEG, PNG or MP4.",
            )
        return _shrunk([rgb], False)
    if len(frames) < MIN_VIDEO_S * FPS:
        raise BakeError(
            BakeFailure.TOO_SHORT,
            f"The video is {len(frames) / FPS:.1f} s long; at least {MIN_VIDEO_S:.0f} s is needed.",
        )
    return _shrunk(frames, True)


def _shrink_factor(frame: np.ndarray) -> float:
    return min(1.0, READ_SIDE / max(frame.shape[:2]))


def _shrunk(frames: list[np.ndarray], is_video: bool) -> tuple[list[np.ndarray], bool, float]:
    scale = _shrink_factor(frames[0])
    if scale < 1.0:
        frames = [
            cv2.resize(f, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for f in frames
        ]
    return frames, is_video, scale


def _read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        return []
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if 1.0 <= fps <= 240.0 else float(FPS)  # containers without a rate: assume 25
    limit = int(MAX_VIDEO_S * FPS)
    frames: list[np.ndarray] = []
    index = 0
    while len(frames) < limit:
        ok, frame = capture.read()
        if not ok or frame is None:
            break
        scale = _shrink_factor(frame)
        if scale < 1.0:
            frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # Resample to 25 fps by nearest timestamp: output tick k shows the source frame whose
        # time is nearest k / 25 (repeats frames of slower sources, drops from faster ones).
        while len(frames) < limit and len(frames) / FPS < (index + 0.5) / fps:
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        index += 1
    capture.release()
    return frames


def _read_with_pil(path: Path) -> np.ndarray | None:
    try:
        from PIL import Image, ImageOps

        with Image.open(path) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except Exception:  # any decoder error means the same thing here: not a picture
        return None


def find_faces(rgb: np.ndarray) -> list[Box]:
    """Every face the frontal cascade sees, largest first, in the picture's own pixels."""
    height, width = rgb.shape[:2]
    shrink = min(1.0, DETECT_SIDE / max(height, width))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if shrink < 1.0:
        gray = cv2.resize(gray, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    cascade = _cascade("haarcascade_frontalface_default.xml")
    # Haar windows normalise their own contrast, so plain gray is best; a global histogram
    # equalisation is not (a plain backdrop skews it and hides the face). Local contrast
    # (CLAHE) is the second try, for backlit or dim pictures.
    found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=6, minSize=(24, 24))
    if len(found) == 0:
        local = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
        found = cascade.detectMultiScale(local, scaleFactor=1.1, minNeighbors=6, minSize=(24, 24))
    boxes = [Box(*(int(round(v / shrink)) for v in f)) for f in found]
    return sorted(boxes, key=lambda b: -b.w * b.h)


def detect_face(rgb: np.ndarray, read_scale: float = 1.0) -> Box:
    """The one face in the picture; raises NO_FACE, SEVERAL_FACES or FACE_TOO_SMALL.

    `read_scale` is how much the picture was shrunk on reading: size limits are in source pixels.
    """
    faces = find_faces(rgb)
    if not faces:
        raise BakeError(
            BakeFailure.NO_FACE, "No face was found. Use a frontal, well-lit picture of one person."
        )
    big = [f for f in faces if f.w * f.h >= COMPARABLE_AREA * faces[0].w * faces[0].h]
    if len(big) > 1:
        raise BakeError(
            BakeFailure.SEVERAL_FACES,
            f"{len(big)} faces were found. The picture must show exactly one person.",
        )
    face_px = int(faces[0].h * HAAR_TO_FACE / read_scale)
    if face_px < MIN_FACE_PX:
        raise BakeError(
            BakeFailure.FACE_TOO_SMALL,
            f"The face is about {face_px} px tall; at least {MIN_FACE_PX} px is needed. "
            "Use a larger or closer picture.",
        )
    return faces[0]


def track_faces(frames: list[np.ndarray], first: Box, step: int = 3) -> np.ndarray:
    """Per-frame face centre and width (N x 3 float): detected every `step` frames, smoothed.

    Frames where the cascade misses (a blink, a turn) are interpolated; the track is then
    smoothed so the crop does not jitter with the detector's pixel noise.
    """
    keys = {0: (first.x + first.w / 2, first.y + first.h / 2, float(first.w))}
    for i in range(step, len(frames), step):
        prev = keys[max(keys)]
        near = [
            f
            for f in find_faces(frames[i])
            if abs(f.x + f.w / 2 - prev[0]) < 0.5 * prev[2] and 0.7 < f.w / prev[2] < 1.4
        ]
        if near:
            f = near[0]
            keys[i] = (f.x + f.w / 2, f.y + f.h / 2, float(f.w))
    idx = np.array(sorted(keys))
    values = np.array([keys[i] for i in idx])
    track = np.stack([np.interp(np.arange(len(frames)), idx, values[:, k]) for k in range(3)], 1)
    sigma = 2.0  # frames: removes detector jitter, keeps real head motion
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(track, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, k], kernel, "valid") for k in range(3)], 1)


def frame_area(
    centres: np.ndarray, side: float, width: int, height: int
) -> tuple[int, int, int, int]:
    """The region of the source shown as the avatar frame: x0, y0, x1, y1 (may exceed the source).

    Head and shoulders, shifted to stay inside the source where it can; then grown to hold
    every face crop whole. Growing past the source edge is filled by padding, so a face at the
    border keeps its crop centred on it instead of a crop pushed off the face.
    """
    cx, cy = centres[:, 0].mean(), centres[:, 1].mean() + 0.15 * side
    w, h = min(FRAME_SCALE * side, width), min(FRAME_SCALE * side, height)
    x0 = min(max(cx - w / 2, 0.0), width - w)
    y0 = min(max(cy - h / 2, 0.0), height - h)
    x1, y1 = x0 + w, y0 + h
    half = side / 2
    x0 = min(x0, float(np.min(centres[:, 0])) - half)
    y0 = min(y0, float(np.min(centres[:, 1])) - half)
    x1 = max(x1, float(np.max(centres[:, 0])) + half)
    y1 = max(y1, float(np.max(centres[:, 1])) + half)
    return (
        int(np.floor(x0)),
        int(np.floor(y0)),
        int(np.ceil(x1)),
        int(np.ceil(y1)),
    )


def _cut(frame: np.ndarray, area: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    """`area` of the frame resized to `size`, padding by edge replication outside the frame."""
    x0, y0, x1, y1 = area
    height, width = frame.shape[:2]
    inside = frame[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    pads = (max(-y0, 0), max(y1 - height, 0), max(-x0, 0), max(x1 - width, 0))
    if any(pads):
        inside = cv2.copyMakeBorder(inside, *pads, borderType=cv2.BORDER_REPLICATE)
    shrinking = size[0] < inside.shape[1]
    return cv2.resize(inside, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def mouth_box_in_crop(crop_size: int) -> Box:
    """Where the lips sit in a face crop built with CROP_SCALE and CROP_CENTRE_Y (no landmarks).

    Frontal-face proportions: the mouth centre is ~0.82 Haar heights below the box top and
    ~0.43 Haar widths wide.
    """
    cy = 0.5 + (0.82 - CROP_CENTRE_Y) / CROP_SCALE
    w, h = 0.45 / CROP_SCALE, 0.2 / CROP_SCALE
    return Box(
        int(round((0.5 - w / 2) * crop_size)),
        int(round((cy - h / 2) * crop_size)),
        int(round(w * crop_size)),
        int(round(h * crop_size)),
    )


def lower_face_mask(crop_size: int) -> np.ndarray:
    """Feathered mask of the lower face by proportion (no landmarks): 0 from the nose up."""
    mask = np.zeros((crop_size, crop_size), np.float32)
    centre = (crop_size // 2, int(crop_size * 0.74))
    axes = (int(crop_size * 0.33), int(crop_size * 0.23))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    # Clipped: float rounding in the blur can leave 1.0000002, and a mask promises 0..1.
    return np.clip(cv2.GaussianBlur(mask, (0, 0), crop_size / 24), 0.0, 1.0)


def prepare(source: BakeSource, *, crop_size: int = 256) -> Prepared:
    """Decode the source, check it shows one usable face, and build the framed idle cycle."""
    raw, is_video, read_scale = read_source(source.path)
    first = detect_face(raw[0], read_scale)
    if is_video:
        track = track_faces(raw, first)
    else:
        track = np.array([[first.x + first.w / 2, first.y + first.h / 2, float(first.w)]])
    side = CROP_SCALE * float(np.median(track[:, 2]))
    centres = np.stack([track[:, 0], track[:, 1] + (CROP_CENTRE_Y - 0.5) * track[:, 2]], 1)
    height, width = raw[0].shape[:2]
    area = frame_area(centres, side, width, height)
    area_w, area_h = area[2] - area[0], area[3] - area[1]
    scale = min(crop_size / side, MAX_SIDE / max(area_w, area_h))
    out_w, out_h = max(2, int(area_w * scale) // 2 * 2), max(2, int(area_h * scale) // 2 * 2)
    sx, sy = out_w / area_w, out_h / area_h
    box_side = min(int(round(side * scale)), out_w, out_h)
    boxes = []
    for cx, cy in centres:
        # Rounding may push a box a pixel past the frame; the area holds every crop by design.
        x = int(round((cx - area[0]) * sx - box_side / 2))
        y = int(round((cy - area[1]) * sy - box_side / 2))
        boxes.append(
            Box(
                min(max(x, 0), out_w - box_side),
                min(max(y, 0), out_h - box_side),
                box_side,
                box_side,
            )
        )
    framed = [_cut(f, area, (out_w, out_h)) for f in raw]
    if is_video:
        # Forward then back: a loop with no jump, the mouth as it was in the source.
        frames = np.stack(framed + framed[-2:0:-1])
        face_boxes = boxes + boxes[-2:0:-1]
    else:
        face_in_frame = Box(
            int(round((first.x - area[0]) * sx)),
            int(round((first.y - area[1]) * sy)),
            int(round(first.w * sx)),
            int(round(first.h * sy)),
        )
        frames = idle_cycle.photo_idle(framed[0], face_in_frame)
        face_boxes = boxes * len(frames)  # the sway is sub-pixel to a pixel: one box holds it
    prepared = Prepared(
        frames=frames,
        face_boxes=face_boxes,
        crop_size=crop_size,
        mask=lower_face_mask(crop_size),
        mouth_box=mouth_box_in_crop(crop_size),
        is_video=is_video,
    )
    try:
        if is_video:
            points = face_landmarks.video_landmarks(framed, boxes)
            points = np.concatenate([points, points[-2:0:-1]])
        else:
            found = face_landmarks.photo_landmarks(framed[0], face_in_frame)
            motion = idle_cycle.photo_motion(framed[0].shape[:2], face_in_frame)
            points = np.stack([found @ m[:, :2].T + m[:, 2] for m in motion])
    except face_landmarks.LandmarksUnavailable as missing:
        prepared.landmarks_missing = str(missing)
        return prepared
    offsets = np.array([[b.x, b.y] for b in face_boxes], np.float32)[:, None, :]
    prepared.landmarks = (points - offsets).astype(np.float32)
    box = face_boxes[0]
    reference_crop = frames[0, box.y : box.y + box.h, box.x : box.x + box.w]
    prepared.pose = measure(reference_crop, prepared.landmarks[0])
    # The lips and the lower face where the landmarks put them, not where proportions guess.
    in_crop = prepared.landmarks[0] * (crop_size / box.w)
    prepared.mouth_box = lips_box(in_crop)
    prepared.mask = lower_face_mask_from(in_crop, crop_size)
    return prepared


def lips_box(points: np.ndarray) -> Box:
    lips = points[list(face_landmarks.LIPS_OUTER)]
    x0, y0 = np.floor(lips.min(0)).astype(int)
    x1, y1 = np.ceil(lips.max(0)).astype(int)
    return Box(int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def lower_face_mask_from(points: np.ndarray, crop_size: int) -> np.ndarray:
    """Feathered mask of the lower face from its landmarks: the jaw line, closed under the nose."""
    jaw = points[list(face_landmarks.JAW)]
    under_nose = float(points[2, 1])
    polygon = np.concatenate([jaw, [[jaw[-1, 0], under_nose], [jaw[0, 0], under_nose]]])
    mask = np.zeros((crop_size, crop_size), np.float32)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1.0, cv2.LINE_AA)
    return np.clip(cv2.GaussianBlur(mask, (0, 0), crop_size / 32), 0.0, 1.0)
