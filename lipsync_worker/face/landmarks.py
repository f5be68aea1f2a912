"""Dense face landmarks for the bake: MediaPipe's face mesh, from the file inside its wheel.

478 points per face (468 of the mesh, 10 of the irises) with the inner and outer lip contours,
the jaw line, the nose and the chin. A photo is measured three times, shifted and scaled a
little, and the three are averaged (and must agree: a mesh that moves with a two-pixel shift
of the picture is not a mesh to animate); a video is tracked frame by frame and smoothed over
time. Nothing is downloaded: the model files ship in the wheel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from lipsync_worker.contract import BakeError, BakeFailure, Box

N_POINTS = 478
# Contours as MediaPipe numbers them: corners first, then the upper lip left to right, the
# lower lip right to left. UPPER_INNER[k] and LOWER_INNER[-1 - k] face each other.
# fmt: off
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409,
              291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415,
              308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
UPPER_OUTER = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LOWER_OUTER = (375, 321, 405, 314, 17, 84, 181, 91, 146)
UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_INNER = (324, 318, 402, 317, 14, 87, 178, 88, 95)
CORNERS = (61, 291)  # outer corners: they define the mouth's own axis
INNER_CORNERS = (78, 308)
JAW = (323, 361, 288, 397, 365, 379, 378, 400, 377, 152,
       148, 176, 149, 150, 136, 172, 58, 132, 93)
CHIN = (152, 175, 199, 200)
NOSE = (1, 2, 4, 5, 6, 94, 98, 327, 168, 195, 197)
CHEEKS = (234, 454)  # the face's outline at the cheekbones, image left then right
# Points that move with the skull, not the jaw or the lips: they align one frame with another.
RIGID = (1, 4, 5, 6, 168, 197, 195, 33, 133, 362, 263, 10, 151, 9, 8, 127, 356)
# fmt: on
GROUPS = {
    "lips_outer": LIPS_OUTER,
    "lips_inner": LIPS_INNER,
    "jaw": JAW,
    "chin": CHIN,
    "nose": NOSE,
}
UNSTABLE = 0.06  # mouth widths: jitter past this (photo: between the three looks) is unusable
MISSING = 0.2  # a video where the mesh loses the face in more frames than this is unusable


class LandmarksUnavailable(RuntimeError):
    """The face-mesh model cannot run here (mediapipe missing or broken)."""


def face_mesh(static: bool) -> Any:
    """A MediaPipe FaceMesh (static: every image on its own; else tracking a video)."""
    try:
        from mediapipe.python.solutions import face_mesh as solution
    except Exception as exc:  # an import error or a broken install: either way, no model
        raise LandmarksUnavailable(
            f"the face landmark model cannot load ({type(exc).__name__})"
        ) from exc
    return solution.FaceMesh(
        static_image_mode=static,
        max_num_faces=1,
        refine_landmarks=True,  # the attention model: sharper lips, and the irises
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    )


def _points(result: object, width: int, height: int) -> np.ndarray | None:
    faces = getattr(result, "multi_face_landmarks", None)
    if not faces:
        return None
    marks = faces[0].landmark
    return np.array([(p.x * width, p.y * height) for p in marks], np.float32)[:N_POINTS]


def run_mesh(mesh: object, rgb: np.ndarray) -> np.ndarray | None:
    """478 x 2 pixel coordinates of the face in `rgb`, or None when the mesh finds none."""
    result = mesh.process(np.ascontiguousarray(rgb))  # type: ignore[attr-defined]
    return _points(result, rgb.shape[1], rgb.shape[0])


def mouth_width(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[CORNERS[1]] - points[CORNERS[0]]))


def _on_the_face(points: np.ndarray | None, face: Box | None) -> bool:
    if points is None:
        return False
    if face is None:
        return True
    nose = points[1]
    margin = 0.25 * face.w
    return bool(
        face.x - margin <= nose[0] <= face.x + face.w + margin
        and face.y - margin <= nose[1] <= face.y + face.h + margin
    )


def _no_face() -> BakeError:
    return BakeError(
        BakeFailure.NO_FACE,
        "The face landmark model found no face. Use a frontal, well-lit picture of one person.",
    )


def _unstable(why: str) -> BakeError:
    return BakeError(
        BakeFailure.LANDMARKS_UNSTABLE,
        f"The face could not be measured reliably ({why}). Use a sharper, evenly lit, "
        "frontal picture or video.",
    )


def photo_landmarks(rgb: np.ndarray, face: Box | None = None) -> np.ndarray:
    """The mean of three looks at the photo (as is, shifted and enlarged, shifted and shrunk).

    Raises NO_FACE when the mesh sees no face where the face was found, LANDMARKS_UNSTABLE
    when the three looks disagree on the lips by more than UNSTABLE mouth widths.
    """
    height, width = rgb.shape[:2]
    centre = (width / 2, height / 2)
    looks: list[np.ndarray] = []
    mesh = face_mesh(static=True)
    try:
        for dx, dy, scale in ((0.0, 0.0, 1.0), (2.0, 1.0, 1.04), (-2.0, -1.0, 0.97)):
            matrix = cv2.getRotationMatrix2D(centre, 0.0, scale)
            matrix[:, 2] += np.array([dx, dy])
            moved = (
                rgb
                if scale == 1.0 and not dx
                else cv2.warpAffine(
                    rgb,
                    matrix,
                    (width, height),
                    flags=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE,
                )
            )
            points = run_mesh(mesh, moved)
            if not looks and not _on_the_face(points, face):
                raise _no_face()
            if points is None:
                continue
            back = cv2.invertAffineTransform(matrix)
            looks.append(points @ back[:, :2].T + back[:, 2])
    finally:
        mesh.close()
    if len(looks) < 2:
        raise _unstable("the face is found in only some looks at it")
    stack = np.stack(looks)
    lips = list(LIPS_OUTER + LIPS_INNER)
    spread = np.abs(stack[:, lips] - stack[:, lips].mean(0)).max()
    if spread > UNSTABLE * mouth_width(stack[0]):
        raise _unstable("the lips move when the picture moves by two pixels")
    return stack.mean(0).astype(np.float32)


def video_landmarks(frames: Sequence[np.ndarray], faces: Sequence[Box] | None = None) -> np.ndarray:
    """N x 478 x 2: the mesh tracked over the frames, gaps filled, smoothed over time.

    Raises NO_FACE when the first frame has no face, LANDMARKS_UNSTABLE when the face is lost
    too often or the lips jitter from frame to frame by more than UNSTABLE mouth widths.
    """
    n = len(frames)
    found: dict[int, np.ndarray] = {}
    mesh = face_mesh(static=False)
    try:
        for i, frame in enumerate(frames):
            points = run_mesh(mesh, frame)
            if _on_the_face(points, faces[i] if faces else None):
                found[i] = points  # type: ignore[assignment]
    finally:
        mesh.close()
    if 0 not in found and not found:
        raise _no_face()
    if len(found) < (1 - MISSING) * n:
        raise _unstable(f"the face is lost in {n - len(found)} of {n} frames")
    keys = np.array(sorted(found))
    values = np.stack([found[int(k)] for k in keys])  # K x 478 x 2
    flat = values.reshape(len(keys), -1)
    track = np.stack([np.interp(np.arange(n), keys, flat[:, j]) for j in range(flat.shape[1])], 1)
    smooth = _smooth_in_time(track, sigma=1.5)
    lips = np.array(LIPS_OUTER + LIPS_INNER)
    raw = track.reshape(n, N_POINTS, 2)[:, lips]
    residual = np.linalg.norm(raw - smooth.reshape(n, N_POINTS, 2)[:, lips], axis=2).max(1)
    widths = np.array([mouth_width(p) for p in smooth.reshape(n, N_POINTS, 2)])
    if np.median(residual / np.maximum(widths, 1.0)) > UNSTABLE:
        raise _unstable("the lips jump from frame to frame")
    return smooth.reshape(n, N_POINTS, 2).astype(np.float32)


def _smooth_in_time(track: np.ndarray, sigma: float) -> np.ndarray:
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(track, ((radius, radius), (0, 0)), mode="edge")
    out = np.empty_like(track)
    for j in range(track.shape[1]):
        out[:, j] = np.convolve(padded[:, j], kernel, "valid")
    return out


def rigid_motion(reference: np.ndarray, points: np.ndarray) -> np.ndarray:
    """2 x 3 similarity taking `reference`'s skull to `points`' (rotation, scale, shift)."""
    matrix, _ = cv2.estimateAffinePartial2D(
        reference[list(RIGID)].astype(np.float32),
        points[list(RIGID)].astype(np.float32),
        method=cv2.LMEDS,
    )
    if matrix is None:
        return np.array([[1, 0, 0], [0, 1, 0]], np.float64)
    return matrix
