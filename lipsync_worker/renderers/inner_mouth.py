"""The inside of the mouth, made from the photo: its own teeth moved with the lips, a shaded cavity.

The cavity is lined with the photo's own lips, unrolled into the opening (the upper lip above,
the lower lip below), and shaded for depth: darkest in the middle and under the upper teeth
(dark but not black), lighter towards the sides and the floor, lighter still only near the lips,
and the tongue a soft dome rising from the bottom, lit on top. What the
source's own opening shows rides along: its upper part (upper teeth) on the upper lip, its
lower part (lower teeth) on the jaw, cut by the new opening, so the source's mouth comes back
exactly at its own openness. Every edge is anti-aliased and feathered. Nothing is painted in a
colour the photo does not have: every shade is a lip pixel of the photo, darkened and tinted.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from lipsync_worker.face import landmarks as lm
from lipsync_worker.face.pose import MouthPose, polygon_mask
from lipsync_worker.renderers.warp import Mesh, MouthAxes, Shaped

CORNER_DARK = 0.65  # a corner gap's pixels are darker than this share of the lips' light
CAVITY_BACK = 0.36  # the back of the mouth, in the middle: this share of the lips' light
CAVITY_SIDES = 0.1  # added towards the sides (the cheeks' inside catches some light)
CAVITY_FLOOR = 0.08  # added towards the bottom (the floor of the mouth, below the tongue)
CAVITY_EDGE = 0.34  # added near the lips (the lining they roll into), fading over EDGE_FADE
EDGE_FADE = 0.08  # half mouth widths
TEETH_SHADOW = 0.12  # taken off just below the upper teeth (their shadow), as a share
TONGUE_TOP = 0.82  # the tongue's lit top, as a share of the lips' light
TONGUE_SIDE = 0.42  # its sides, turning away into the shadow
TONGUE_RISE = 0.32  # how high the tongue's top rises above the opening's bottom, half widths
INSIDE_TINT = np.array([1.0, 0.68, 0.64], np.float32)  # RGB: mucosa in shadow, towards red
TONGUE_TINT = np.array([1.0, 0.8, 0.8], np.float32)  # the tongue: pinker, lighter than lips
STRIP = (12, 48)  # rows (inner edge to outer), columns (corner to corner) of an unrolled lip


def lip_strip(
    crop: np.ndarray, points: np.ndarray, inner: tuple[int, ...], outer: tuple[int, ...]
) -> np.ndarray:
    """One lip unrolled into a small rectangle, inner edge first: its grain and colours.

    Its middle rows only, corner to corner short of the corners: the edges are skin or shadow.
    """
    axes = MouthAxes.of(points)
    uv = axes.uv(points.astype(np.float64))
    u = np.linspace(-0.7, 0.7, STRIP[1])
    near, far = (uv[list(edge)] for edge in (inner, outer))
    v_in = np.interp(u, *near[np.argsort(near[:, 0])].T)
    v_out = np.interp(u, *far[np.argsort(far[:, 0])].T)
    depth = np.linspace(0.2, 0.8, STRIP[0])[:, None]
    grid = np.stack(np.broadcast_arrays(u[None, :], v_in + depth * (v_out - v_in)), -1)
    maps = (axes.centre + axes.to_px(grid)).astype(np.float32)
    return cv2.remap(crop, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR).astype(np.float32)


def cavity_lining(lips: tuple[np.ndarray, np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """The opening's texture (height x width): the upper lip's strip above, the lower's below."""
    height, width = size
    upper, lower = lips
    top = max(1, height // 2)
    return np.concatenate(
        [
            cv2.resize(upper[::-1], (width, top), interpolation=cv2.INTER_LINEAR),
            cv2.resize(lower, (width, max(1, height - top)), interpolation=cv2.INTER_LINEAR),
        ]
    )[:height]


@dataclass(frozen=True, slots=True)
class FilledSource:
    """What every shape of one bake draws from: the crop with its own opening, and the dark
    rim around it, filled from the lips; that opening; and the lips unrolled (the lining)."""

    pixels: np.ndarray
    # Soft mask (crop pixels) of the opening, a pixel beyond it and a smile's dark corner gaps:
    # what the lips cover where they meet. Zeros for a closed mouth.
    rim: np.ndarray
    opening: np.ndarray  # the source's own opening (`source_opening`)
    lips: tuple[np.ndarray, np.ndarray]  # the upper and the lower lip's strips (`lip_strip`)


def cavity_source(crop: np.ndarray, points: np.ndarray, pose: MouthPose) -> FilledSource:
    """The crop with its own opening (teeth, cavity) filled from the lips around it.

    What fills a new opening is the photo's lip tissue, not what the old opening showed:
    stretched teeth would read as long teeth. The rim is filled too: the face model's inner lip
    line lies a little inside the opening, and a smile's dark corner gaps lie beyond it; where
    the lips close or round, both would be squeezed into light or dark slivers along the seam.
    """
    opening = source_opening(crop.shape[:2], points)
    lips = (
        lip_strip(crop, points, lm.UPPER_INNER, lm.UPPER_OUTER),
        lip_strip(crop, points, lm.LOWER_INNER, lm.LOWER_OUTER),
    )
    if pose.state == "closed":
        return FilledSource(crop, np.zeros(crop.shape[:2], np.float32), opening, lips)
    inside = (opening > 0.05) | corner_gaps(crop, points)
    rim = cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8))
    mask = cv2.dilate(rim, np.ones((3, 3), np.uint8))
    filled = cv2.inpaint(crop, mask * 255, 3, cv2.INPAINT_TELEA)
    rim_soft = cv2.GaussianBlur(rim.astype(np.float32), (0, 0), 0.6)
    return FilledSource(filled, rim_soft, opening, lips)


def corner_gaps(crop: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The dark gaps at the mouth's corners that touch the opening (bool, crop pixels).

    Within the outer lips (a pixel beyond), in the outer part of each side, much darker than
    the lips: the shadow between a smile's teeth and its corners, which the face model's inner
    lip line leaves out.
    """
    shape = crop.shape[:2]
    outer = polygon_mask(shape, points[list(lm.LIPS_OUTER)])
    inner = source_opening(shape, points)
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lip_light = float(np.median(gray[(outer - inner) > 0.5]))
    axes = MouthAxes.of(points)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    u = axes.uv(np.stack([xs, ys], -1))[..., 0]
    grown = cv2.dilate((outer > 0.05).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    dark = grown & (gray < CORNER_DARK * lip_light) & (np.abs(u) > 0.45)
    opening = inner > 0.5
    _, labels = cv2.connectedComponents((dark | opening).astype(np.uint8), connectivity=8)
    touching = np.unique(labels[opening])
    return dark & np.isin(labels, touching[touching > 0])


def source_opening(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    return polygon_mask(shape, points[list(lm.LIPS_INNER)])


def compose(
    crop: np.ndarray,
    filled: FilledSource,
    mesh: Mesh,
    source: np.ndarray,
    shaped: Shaped,
    pose: MouthPose,
    a: float,
) -> np.ndarray:
    """The region of `crop` with the face warped to `shaped` and the opening filled; uint8."""
    map_x, map_y = mesh.backward_map(source, shaped.points)
    skin = cv2.remap(crop, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if pose.state != "closed":
        # Where the warp samples the source's opening (lips closing over it), it takes the
        # filled opening: the lips' edge would otherwise drag teeth along. Its rim too, as far
        # as the corners close (`seal`): the lips then meet there, clean.
        hole = np.maximum(filled.opening, shaped.seal * filled.rim)
        hit = cv2.remap(hole, map_x, map_y, cv2.INTER_LINEAR)[..., None]
        fill = cv2.remap(
            filled.pixels, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        skin = (skin * (1 - hit) + fill * hit).astype(np.float32)
    origin = mesh.region.origin
    opening = polygon_mask(skin.shape[:2], shaped.points[list(lm.LIPS_INNER)] - origin, soft=0.6)
    if opening.max() < 0.05:
        return np.clip(skin + 0.5, 0, 255).astype(np.uint8)
    out = skin.astype(np.float32)
    solid = (opening > 0.5).astype(np.uint8)
    rows, cols = np.nonzero(opening > 0.05)
    top, bottom = int(rows.min()), int(rows.max())
    left, right = int(cols.min()), int(cols.max())
    # The lining: the photo's own lips unrolled into the opening (a stretched lip line would
    # streak), softened; the shading below decides how dark, the lips what colour and grain.
    inside: np.ndarray = out.copy()
    pad = 3
    y0, y1 = max(0, top - pad), min(out.shape[0], bottom + pad + 1)
    x0, x1 = max(0, left - pad), min(out.shape[1], right + pad + 1)
    inside[y0:y1, x0:x1] = cavity_lining(filled.lips, (y1 - y0, x1 - x0))
    inside = cv2.GaussianBlur(inside, (0, 0), max(0.5, 0.05 * a))
    depth = cv2.distanceTransform(solid, cv2.DIST_L2, 3)
    ys = np.arange(out.shape[0], dtype=np.float32)[:, None]
    xs = np.arange(out.shape[1], dtype=np.float32)[None, :]
    down = np.clip((ys - top) / max(1, bottom - top), 0, 1)
    across = (xs - (left + right) / 2) / max(1.0, (right - left) / 2)
    height, width = skin.shape[:2]
    layers = []
    for teeth, shift in (
        (pose.upper_teeth, shaped.upper_shift),
        (pose.lower_teeth, shaped.lower_shift),
    ):
        move = np.array([[1, 0, shift[0] - origin[0]], [0, 1, shift[1] - origin[1]]], np.float64)
        cover = cv2.warpAffine(teeth, move, (width, height), flags=cv2.INTER_LINEAR)
        layers.append((move, cover))
    # Darkest at the back, in the middle and just under the upper teeth; lighter towards the
    # sides and the floor, and lighter still only close to the lips, where the lining rolls in
    # (more at the lower lip, which folds towards the light).
    fold = CAVITY_EDGE * np.exp(-depth / (EDGE_FADE * a)) * (0.4 + 0.6 * down)
    back = CAVITY_BACK + CAVITY_SIDES * np.minimum(across**2, 1) + CAVITY_FLOOR * down + fold
    upper_teeth = layers[0][1]
    if upper_teeth.any():
        drop = max(1, round(0.06 * a))
        under = np.zeros_like(upper_teeth)
        under[drop:] = upper_teeth[:-drop]
        back *= 1 - TEETH_SHADOW * cv2.GaussianBlur(under, (0, 0), max(1.0, 0.12 * a))
    # The tongue lies low: a soft dome rising TONGUE_RISE half mouth widths above the opening's
    # bottom, lit on top, its sides turning into the shadow; a small opening shows little of it.
    above = (bottom - ys) / max(a, 1.0)
    dome = 1 - (across / 0.75) ** 2 - ((above + 0.1) / (TONGUE_RISE + 0.1)) ** 2
    tongue = np.clip(dome / 0.45, 0, 1)
    tongue = tongue * tongue * (3 - 2 * tongue)
    lit = TONGUE_SIDE + (TONGUE_TOP - TONGUE_SIDE) * np.sqrt(np.clip(dome, 0, 1))
    tint = (1 - tongue[..., None]) * (back[..., None] * INSIDE_TINT) + tongue[..., None] * (
        lit[..., None] * TONGUE_TINT
    )
    inside *= tint
    for move, cover in layers:
        if not cover.any():
            continue
        pixels = cv2.warpAffine(
            crop, move, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        inside = inside * (1 - cover[..., None]) + pixels * cover[..., None]
    alpha = opening[..., None]
    out = out * (1 - alpha) + inside * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
