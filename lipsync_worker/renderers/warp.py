"""Mouth shapes as moved landmarks, and the piecewise-affine warp that moves the face with them.

Everything is in the pixels of the reference frame's face crop. A shape is two numbers:
`openness` 0..1, the inner-lip gap at the centre as a share of the widest opening (0 is lips
together), and `width` -1 (rounded, corners in) .. +1 (wide, corners out). The source's own
mouth sits at openness `rest` (0 for a closed mouth) and width 0, where the warp is the
identity. The jaw carries the lower lip, the chin and the skin between; the upper lip barely
moves (a speaker's upper lip is nearly still); the corners move in and out with the width.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from lipsync_worker.face import landmarks as lm

GAP_MAX = 0.8  # widest inner-lip gap, in half mouth widths (two fifths of the mouth's width)
LIFT_OPENING = 0.05  # share of an opening the upper lip takes (the jaw takes the rest)
LIFT_CLOSING = 0.3  # share of a closing the upper lip's inner edge takes (it rolls down)
WIDE = 0.14  # corner shift outwards at width +1, in half mouth widths
ROUND = 0.36  # corner shift inwards at width -1
# Rounding (width -1), in half mouth widths unless said otherwise:
ROUND_SPAN = 0.75  # the opening's half width, as a share of the inner lips' (a small round o)
ROUND_TALLER = 0.15  # the opening's gap grows by this share: an o is taller than it is wide
GATHER = 0.12  # the inner lip's corners move in by this much more than the outer ones
UNSMILE = 0.9  # share of a smile's corner lift taken back
POUT = 0.12  # the lower lip's outer edge drops
PUSH_UP = 0.05  # the upper lip's outer edge rises
COVER = 0.5  # share of the source's own opening (at its middle) the rounded lips close over
LIPS = frozenset(lm.LIPS_OUTER + lm.LIPS_INNER)


@dataclass(frozen=True, slots=True)
class MouthAxes:
    """The mouth's own frame: centre between the corners, x along them, y down, unit a px."""

    centre: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    a: float  # half the mouth's width, px

    @classmethod
    def of(cls, points: np.ndarray) -> MouthAxes:
        left, right = points[lm.CORNERS[0]].astype(np.float64), points[lm.CORNERS[1]]
        span = right - left
        a = float(np.linalg.norm(span)) / 2
        ex = span / max(2 * a, 1e-6)
        ey = np.array([-ex[1], ex[0]])
        return cls((left + right) / 2, ex, ey if ey[1] >= 0 else -ey, a)  # y points down

    def uv(self, points: np.ndarray) -> np.ndarray:
        d = points - self.centre
        return np.stack([d @ self.ex, d @ self.ey], -1) / self.a

    def to_px(self, duv: np.ndarray) -> np.ndarray:
        return (duv[..., :1] * self.ex + duv[..., 1:2] * self.ey) * self.a


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def smile_height(uv: np.ndarray) -> float:
    """How far the upper lip's inner edge sits below the corners (a smile), in half mouth widths.

    The upper lip, not the middle of the opening: an open mouth's middle is low without a smile.
    """
    return float(np.clip(uv[13, 1], 0.0, 0.3))


def centre_gap(uv: np.ndarray) -> float:
    """Inner-lip gap at the centre (mean of the three middle pairs), in half mouth widths."""
    upper, lower = list(lm.UPPER_INNER[3:6]), list(lm.LOWER_INNER[3:6][::-1])
    return float(max(0.0, np.mean(uv[lower, 1] - uv[upper, 1])))


@dataclass(frozen=True, slots=True)
class Shaped:
    points: np.ndarray  # 478 x 2, crop px
    # px: how the upper lip's middle moved, less what it came down over them by (upper teeth)
    upper_shift: np.ndarray
    lower_shift: np.ndarray  # px: how the lower lip's middle moved (lower teeth, the jaw)
    seal: float  # 0 (the source's corners) .. 1 (closed or rounded: the lips meet at the corners)


def shape_points(points: np.ndarray, openness: float, width: float, gap_max: float) -> Shaped:
    """The landmarks moved to a mouth shape (see the module's doc for the two numbers)."""
    axes = MouthAxes.of(points)
    uv = axes.uv(points.astype(np.float64))
    duv = np.zeros_like(uv)
    up, lo = np.array(lm.UPPER_INNER), np.array(lm.LOWER_INNER[::-1])
    g0 = np.maximum(uv[lo, 1] - uv[up, 1], 0.0)
    u_pair = (uv[up, 0] + uv[lo, 0]) / 2
    wide, rnd = max(width, 0.0), max(-width, 0.0)
    # An opening is a lens; a rounded one an ellipse, its sides falling off faster.
    lens = 1 - 0.55 * np.minimum(u_pair**2, 1.0)
    ellipse = np.sqrt(1 - np.minimum((u_pair / ROUND_SPAN) ** 2, 1.0))
    taper = (1 - rnd) * lens + rnd * ellipse
    target = openness * gap_max * (1 - 0.2 * wide + ROUND_TALLER * rnd)
    rest = centre_gap(uv)
    delta = target - rest
    if delta >= 0:
        pair_delta, lift = delta * taper, LIFT_OPENING
    else:  # closing: every pair closes by the same share of its own gap, so the lips meet evenly
        pair_delta, lift = (target / rest - 1) * g0, LIFT_CLOSING
    if rnd > 0:
        # Rounded, the opening becomes an ellipse of the target's height, whatever the source's
        # opening (a smile's long slit) was: its sides close, so the lips meet at the corners.
        pair_delta = (1 - rnd) * pair_delta + rnd * (target * ellipse - g0)
    upper_dv, lower_dv = -lift * pair_delta, (1 - lift) * pair_delta
    # Rounded, the lips also close, evenly, over what the source's opening showed (a smile's
    # upper teeth, which stay where they are): the opening left is the part of the ellipse
    # taller than that, smaller, rounder and closed towards the corners. Open (an o), the upper
    # lip comes down over the teeth; nearly closed (a u), the lower lip comes up instead: a
    # stretched upper lip over a slit reads as a smile again.
    cover = COVER * rnd * rest
    # The upper lip's share: none at openness 0.25 and below, all of it from 0.55 (an o) up.
    upper_cover = cover * float(_smoothstep(np.array((openness - 0.25) / 0.3)))
    upper_dv += upper_cover
    lower_dv = upper_dv + np.maximum(g0 + pair_delta - cover, 0.0) - g0
    duv[up, 1] += upper_dv
    duv[lo, 1] += lower_dv
    corner_dv = 0.25 * (1 - lift) * max(delta, 0.0)
    order = np.argsort(u_pair)
    line_u = np.concatenate([[-1.0], u_pair[order], [1.0]])
    along_upper = np.concatenate([[0.0], upper_dv[order], [0.0]])
    along_lower = np.concatenate([[corner_dv], lower_dv[order], [corner_dv]])
    uo, lo_out = np.array(lm.UPPER_OUTER), np.array(lm.LOWER_OUTER)
    duv[uo, 1] += 0.25 * np.interp(uv[uo, 0], line_u, along_upper)  # the lip's top barely moves
    duv[lo_out, 1] += np.interp(uv[lo_out, 0], line_u, along_lower)
    corners = np.array(lm.CORNERS + lm.INNER_CORNERS)
    duv[corners, 1] += corner_dv - 0.05 * wide
    # The lower lip thins when wide; rounded, the lips push forward: the lower lip drops and
    # pouts, the upper lip's edge rises a little (the lips look fuller).
    duv[lo_out, 1] += (POUT * rnd - 0.04 * wide) * (1 - np.minimum(uv[lo_out, 0] ** 2, 1))
    duv[uo, 1] -= PUSH_UP * rnd * (1 - np.minimum(uv[uo, 0] ** 2, 1))
    # The jaw: skin below the mouth follows the lower lip's middle, fading towards the ears.
    jaw_dv = (1 - lift) * delta if delta >= 0 else float(np.mean(lower_dv[3:6]))
    u, v = uv[:, 0], uv[:, 1]
    lips = np.zeros(len(uv), bool)
    lips[list(LIPS)] = True
    jaw = _smoothstep((v - 0.05) / 0.6) * np.exp(-((u / 2.6) ** 2))
    duv[~lips, 1] += jaw_dv * jaw[~lips]
    # Width: lips and the cheeks beside the corners move along the mouth's axis.
    k = WIDE * wide - ROUND * rnd
    near = np.exp(-((np.maximum(np.abs(u) - 1, 0) / 0.6) ** 2)) * np.exp(
        -((np.maximum(np.abs(v) - 0.45, 0) / 0.45) ** 2)
    )
    near[lips] = 1.0
    duv[:, 0] += u * k * near
    if rnd > 0:
        # Pursed lips gather towards the middle, the inner edge more than the outer (an o's
        # opening is narrower than the mouth), and a smile's raised corners come down to
        # the lips' middle line, taking the skin beside them along.
        inner = np.array(lm.LIPS_INNER)
        duv[inner, 0] -= GATHER * rnd * uv[inner, 0] * np.minimum(uv[inner, 0] ** 2, 1)
        drop = UNSMILE * rnd * smile_height(uv)
        # Fading out above the lips: the region's top edge under the nose stays put, and skin
        # squeezed against it would tear.
        below_nose = _smoothstep((v + 0.35) / 0.3)
        duv[:, 1] += drop * np.minimum(u**2, 1) * near * below_nose
    moved = points + axes.to_px(duv)
    teeth_stay = axes.to_px(np.array([0.0, upper_cover]))  # the lip covers them, they stay
    return Shaped(
        moved.astype(np.float32),
        (moved[13] - points[13] - teeth_stay).astype(np.float32),
        (moved[14] - points[14]).astype(np.float32),
        max(rnd, float(np.clip(-delta / max(rest, 1e-6), 0.0, 1.0))),
    )


@dataclass(frozen=True, slots=True)
class Region:
    """The part of the face crop a mouth shape changes: cheek to cheek, nose to below the chin."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def origin(self) -> np.ndarray:
        return np.array([self.x0, self.y0], np.float64)

    @classmethod
    def around(cls, points: np.ndarray, side: int) -> Region:
        a = MouthAxes.of(points).a
        jaw = points[list(lm.JAW)]
        x0 = max(0, int(np.floor(jaw[:, 0].min() - 0.2 * a)))
        x1 = min(side, int(np.ceil(jaw[:, 0].max() + 0.2 * a)))
        y0 = max(0, int(np.floor(points[2, 1] - 0.15 * a)))  # just under the nose
        y1 = min(side, int(np.ceil(points[152, 1] + 1.3 * a)))  # room for the chin to drop
        return cls(x0, y0, x1, y1)

    def ring(self, step: float) -> np.ndarray:
        """Fixed points along the region's border: the warp is the identity there."""
        xs = np.linspace(self.x0, self.x1 - 1, max(2, int((self.x1 - self.x0) / step) + 1))
        ys = np.linspace(self.y0, self.y1 - 1, max(2, int((self.y1 - self.y0) / step) + 1))
        top = np.stack([xs, np.full_like(xs, self.y0)], 1)
        bottom = np.stack([xs, np.full_like(xs, self.y1 - 1)], 1)
        left = np.stack([np.full_like(ys, self.x0), ys], 1)[1:-1]
        right = np.stack([np.full_like(ys, self.x1 - 1), ys], 1)[1:-1]
        return np.concatenate([top, bottom, left, right])


class Mesh:
    """The landmarks inside a region plus its fixed border, triangulated once.

    Triangulated on the widest-open shape, where no lip triangle is degenerate; triangles
    inside the mouth opening come first, so the lips drawn after them win at the lip line.
    """

    def __init__(self, points: np.ndarray, region: Region, gap_max: float) -> None:
        a = MouthAxes.of(points).a
        inside = (
            (points[:, 0] > region.x0 + 1)
            & (points[:, 0] < region.x1 - 2)
            & (points[:, 1] > region.y0 + 1)
            & (points[:, 1] < region.y1 - 2)
        )
        self.index = np.flatnonzero(inside)
        self.region = region
        self.ring = region.ring(max(6.0, 0.5 * a))
        wide_open = shape_points(points, 1.0, 0.0, gap_max).points
        triangles = Delaunay(self._vertices(wide_open)).simplices
        inner = set(np.flatnonzero(np.isin(self.index, lm.LIPS_INNER)))
        first = np.array([all(int(v) in inner for v in t) for t in triangles])
        self.triangles = np.concatenate([triangles[first], triangles[~first]])

    def _vertices(self, points: np.ndarray) -> np.ndarray:
        return np.concatenate([points[self.index], self.ring]).astype(np.float64)

    def backward_map(self, source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """cv2.remap maps (region pixels -> crop pixels) that move `source` landmarks to `target`."""
        src, dst = self._vertices(source), self._vertices(target) - self.region.origin
        height, width = self.region.shape
        which = np.zeros((height, width), np.int32)
        affine = np.zeros((len(self.triangles) + 1, 2, 3), np.float64)
        affine[0] = [[1, 0, self.region.x0], [0, 1, self.region.y0]]  # uncovered: stays put
        for t, tri in enumerate(self.triangles, 1):
            d = dst[tri]
            e1, e2 = d[1] - d[0], d[2] - d[0]
            area = abs(e1[0] * e2[1] - e1[1] * e2[0]) / 2
            if area < 0.25:
                continue
            affine[t] = cv2.getAffineTransform(d.astype(np.float32), src[tri].astype(np.float32))
            cv2.fillConvexPoly(which, np.round(d * 16).astype(np.int32), t, cv2.LINE_8, 4)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        m = affine[which]
        map_x = m[..., 0, 0] * xs + m[..., 0, 1] * ys + m[..., 0, 2]
        map_y = m[..., 1, 0] * xs + m[..., 1, 1] * ys + m[..., 1, 2]
        return map_x.astype(np.float32), map_y.astype(np.float32)
