"""What the source's mouth is doing, where its teeth are, and whether the face can be animated.

Measured on one frame (the reference of the rig) from its landmarks and pixels:
- state: `closed` (lips together), `open` (lips apart, no teeth to speak of) or `teeth`
  (lips apart showing teeth, as in a smile);
- the opening split into what rides on the upper lip (upper teeth) and what rides on the jaw
  (lower teeth), cut where the mouth is darkest in each column;
- refusals: a face turned too far to one side, a mouth that does not look like lips (covered
  by a hand, a mask, a microphone).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import cv2
import numpy as np

from lipsync_worker.contract import BakeError, BakeFailure
from lipsync_worker.face import landmarks as lm

CLOSED_GAP = 0.035  # inner-lip gap at the centre / mouth width below which the lips touch
TEETH_SHARE = 0.15  # teeth over this share of the opening make a `teeth` mouth
MAX_YAW = 0.2  # nose off the cheeks' midpoint by this share of the face width: turned too far
LIPS_VS_SKIN = 5.0  # Lab distance of lips from the skin around them below which lips are hidden
# ... unless the line between the lips is this much darker than the lips (L*, 0..255): thin
# pale lips on a ruddy face (Joe Biden's portrait: 2.5 from the skin) show their closed mouth's
# seam (21 darker) where a hand or a patch of cheek over the mouth shows none (-2).
SEAM_DARKER = 10.0


class MouthState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    TEETH = "teeth"


@dataclass(frozen=True, slots=True)
class MouthPose:
    state: MouthState
    gap: float  # inner-lip gap at the centre, in mouth widths
    yaw: float  # nose offset from the face's middle, in face widths (0 frontal)
    # The opening's upper part (upper teeth, with what shows around them) and lower part, as
    # soft masks (H x W float32 0..1) in the measured frame's pixels; zeros when closed.
    upper_teeth: np.ndarray
    lower_teeth: np.ndarray
    teeth_box: tuple[int, int, int, int] | None  # x, y, w, h of all teeth, None when none

    def describe(self) -> dict[str, object]:
        """For the bake's manifest: what an operator (or a test) can read back."""
        return {
            "state": str(self.state),
            "gap": round(self.gap, 4),
            "yaw": round(self.yaw, 4),
            "teeth_box": list(self.teeth_box) if self.teeth_box else None,
        }


def polygon_mask(shape: tuple[int, int], polygon: np.ndarray, *, soft: float = 0.0) -> np.ndarray:
    """float32 0..1 mask of a polygon, anti-aliased to a sixteenth of a pixel, optionally blurred."""
    mask = np.zeros(shape, np.uint8)
    pts = np.round(np.asarray(polygon, np.float64) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, 4)
    out: np.ndarray = mask.astype(np.float32) * (1 / 255)
    if soft > 0:
        out = cv2.GaussianBlur(out, (0, 0), soft)
    return out


def inner_gap(points: np.ndarray) -> float:
    """Inner-lip gap at the centre (mean of the three middle pairs) over the mouth width."""
    upper, lower = lm.UPPER_INNER[3:6], lm.LOWER_INNER[3:6][::-1]
    gaps = [np.linalg.norm(points[u] - points[d]) for u, d in zip(upper, lower, strict=True)]
    return float(np.mean(gaps)) / max(lm.mouth_width(points), 1.0)


def yaw(points: np.ndarray) -> float:
    left, right = points[lm.CHEEKS[0], 0], points[lm.CHEEKS[1], 0]
    return float((points[1, 0] - left) / max(right - left, 1.0) - 0.5)


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)


def _mean(lab: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weight = mask.sum()
    return (lab * mask[..., None]).reshape(-1, 3).sum(0) / max(weight, 1.0)


def measure(rgb: np.ndarray, points: np.ndarray) -> MouthPose:
    """The mouth of `rgb` from its landmarks; raises FACE_TURNED or MOUTH_COVERED."""
    shape = rgb.shape[:2]
    turned = yaw(points)
    if abs(turned) > MAX_YAW:
        raise BakeError(
            BakeFailure.FACE_TURNED,
            "The face is turned too far to one side. Use a picture looking at the camera.",
        )
    width = lm.mouth_width(points)
    outer = polygon_mask(shape, points[list(lm.LIPS_OUTER)])
    inner = polygon_mask(shape, points[list(lm.LIPS_INNER)])
    lips = np.clip(outer - inner, 0, 1)
    ring_size = max(3, int(round(0.25 * width)))
    grown = cv2.dilate(outer, np.ones((ring_size, ring_size), np.uint8))
    skin = np.clip(grown - cv2.dilate(outer, np.ones((3, 3), np.uint8)), 0, 1)
    lab = _lab(rgb)
    apart_from_skin = float(np.linalg.norm(_mean(lab, lips) - _mean(lab, skin)))
    if apart_from_skin < LIPS_VS_SKIN and _seam_darkness(lab, points, outer, inner) < SEAM_DARKER:
        raise BakeError(
            BakeFailure.MOUTH_COVERED,
            "The lips cannot be told from the skin around them: the mouth looks covered. "
            "Use a picture with the mouth in full view.",
        )
    gap = inner_gap(points)
    none = np.zeros(shape, np.float32)
    if gap < CLOSED_GAP or inner.sum() < 4:
        return MouthPose(MouthState.CLOSED, gap, turned, none, none, None)
    upper, lower = _split(lab, inner)
    teeth = _teeth(lab, lips, inner)
    if teeth.sum() < TEETH_SHARE * inner.sum():
        return MouthPose(MouthState.OPEN, gap, turned, upper, lower, None)
    ys, xs = np.nonzero(teeth > 0.5)
    box = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    return MouthPose(MouthState.TEETH, gap, turned, upper, lower, box)


def _seam_darkness(
    lab: np.ndarray, points: np.ndarray, outer: np.ndarray, inner: np.ndarray
) -> float:
    """How much darker (L*) the line between the lips, and any opening, is than the lips."""
    seam = np.zeros(lab.shape[:2], np.float32)
    middle = (points[list(lm.UPPER_INNER)] + points[list(lm.LOWER_INNER)][::-1]) / 2
    thickness = max(1, int(round(lm.mouth_width(points) / 40)))
    cv2.polylines(seam, [np.round(middle).astype(np.int32)], False, 1.0, thickness)
    seam = np.clip(seam + inner, 0, 1)
    return float(_mean(lab, np.clip(outer - seam, 0, 1))[0] - _mean(lab, seam)[0])


def _teeth(lab: np.ndarray, lips: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Soft mask of teeth pixels inside the opening: brighter than the lips and less coloured."""
    lip = _mean(lab, lips)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    lip_chroma = float(np.hypot(lip[1] - 128, lip[2] - 128))
    bright = np.clip((lab[..., 0] - (lip[0] + 20)) / 20, 0, 1)
    pale = np.clip((0.8 * lip_chroma + 6 - chroma) / 6, 0, 1)
    teeth = bright * pale * (inner > 0.5)
    return cv2.GaussianBlur(teeth.astype(np.float32), (0, 0), 0.7) * inner


def _split(lab: np.ndarray, inner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The opening cut where it is darkest in each column: above rides on the upper lip.

    Upper teeth hang from the upper lip and lower teeth stand on the jaw, with the dark of the
    mouth between them; a column with no dark gap (teeth from lip to lip) is all upper.
    """
    solid = inner > 0.5
    light = np.where(solid, lab[..., 0], np.inf)
    cols = np.flatnonzero(solid.any(0))
    height = inner.shape[0]
    split = np.full(inner.shape[1], -1.0, np.float32)
    for x in cols:
        rows = np.flatnonzero(solid[:, x])
        column = light[rows, x]
        top = np.percentile(column, 90)
        bright = np.flatnonzero(column >= top - 25)
        if top - column.min() < 40:  # no dark gap: teeth (or the dark) fill the column
            split[x] = rows[-1] + 1 if len(bright) else rows[len(rows) // 2]
            continue
        # Below the first run of bright pixels (the upper teeth): the darkest row is the gap.
        run_end = bright[0]
        while run_end + 1 < len(column) and column[run_end + 1] >= top - 25:
            run_end += 1
        below = column[run_end + 1 :]
        if len(below) and below.min() < top - 40:
            split[x] = rows[run_end + 1 + int(np.argmin(below))]
        else:
            split[x] = rows[-1] + 1
    if len(cols):
        split[cols] = _median(split[cols], 5)
    if len(cols):  # columns just past the corners take the nearest column's cut
        split[: cols[0]] = split[cols[0]]
        split[cols[-1] + 1 :] = split[cols[-1]]
    grid = np.arange(height, dtype=np.float32)[:, None]
    above = np.clip(split[None, :] - grid + 0.5, 0, 1)
    # A little past the opening's edge: whatever cuts the layers later (the new opening, soft)
    # then finds them whole, and the source's mouth comes back exactly at its own openness.
    grown = cv2.dilate((inner > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8))
    upper = cv2.GaussianBlur((grown * above).astype(np.float32), (0, 0), 0.6)
    lower = cv2.GaussianBlur((grown * (1 - above)).astype(np.float32), (0, 0), 0.6)
    return upper.astype(np.float32), lower.astype(np.float32)


def _median(values: np.ndarray, size: int) -> np.ndarray:
    padded = np.pad(values, size // 2, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size)
    return np.median(windows, axis=1).astype(np.float32)
