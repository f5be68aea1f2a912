"""The inside of the mouth, made from the photo: its own teeth moved with the lips, a shaded cavity.

The cavity is the photo's lips and mouth stretched into the opening and darkened towards its
middle (an open mouth is dark inside, lighter where the lips fold in); what the source's own
opening shows rides along: its upper part (upper teeth) on the upper lip, its lower part
(lower teeth) on the jaw, cut by the new opening, so the source's mouth comes back exactly
at its own openness. Every
edge is anti-aliased and feathered. Nothing is painted in a colour the photo does not have.
"""

from __future__ import annotations

import cv2
import numpy as np

from lipsync_worker.face import landmarks as lm
from lipsync_worker.face.pose import MouthPose, polygon_mask
from lipsync_worker.renderers.warp import Mesh, Shaped

CAVITY_DARK = 0.18  # brightness left in the middle of the opening
CAVITY_EDGE = 0.26  # added near the lips, fading over EDGE_FADE half mouth widths
EDGE_FADE = 0.15
TONGUE = 0.35  # added at the bottom of the opening
INSIDE_TINT = np.array([1.0, 0.72, 0.72], np.float32)  # RGB: towards red


def cavity_source(crop: np.ndarray, points: np.ndarray, pose: MouthPose) -> np.ndarray:
    """The crop with its own opening (teeth, cavity) filled from the lips around it.

    What fills a new opening is the photo's lip tissue, not what the old opening showed:
    stretched teeth would read as long teeth.
    """
    if pose.state == "closed":
        return crop
    inside = (source_opening(crop.shape[:2], points) > 0.05).astype(np.uint8)
    mask = cv2.dilate(inside, np.ones((3, 3), np.uint8))
    return cv2.inpaint(crop, mask * 255, 3, cv2.INPAINT_TELEA)


def source_opening(shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    return polygon_mask(shape, points[list(lm.LIPS_INNER)])


def compose(
    crop: np.ndarray,
    cavity: np.ndarray,
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
        # filled opening: the lips' edge would otherwise drag teeth along.
        hole = source_opening(crop.shape[:2], source)
        hit = cv2.remap(hole, map_x, map_y, cv2.INTER_LINEAR)[..., None]
        filled = cv2.remap(cavity, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        skin = (skin * (1 - hit) + filled * hit).astype(np.float32)
    origin = mesh.region.origin
    opening = polygon_mask(skin.shape[:2], shaped.points[list(lm.LIPS_INNER)] - origin, soft=0.6)
    if opening.max() < 0.05:
        return np.clip(skin + 0.5, 0, 255).astype(np.uint8)
    out = skin.astype(np.float32)
    inside = cv2.remap(cavity, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.GaussianBlur(inside.astype(np.float32), (0, 0), max(0.5, 0.08 * a))
    solid = (opening > 0.5).astype(np.uint8)
    depth = cv2.distanceTransform(solid, cv2.DIST_L2, 3)
    rows = np.nonzero(solid.any(1))[0]
    top, bottom = (rows[0], rows[-1]) if len(rows) else (0, 1)
    down = np.clip((np.arange(skin.shape[0]) - top) / max(1, bottom - top), 0, 1)[:, None]
    # Dark in the middle, lighter where the lips fold in, and the tongue's back rising at the
    # bottom; redder than the lips (the inside of the mouth is mucosa in shadow).
    # The upper lip shades the top of the opening; the lower lip's fold catches light.
    tongue = TONGUE * np.clip((down - 0.5) / 0.5, 0, 1) ** 2
    fold = CAVITY_EDGE * np.exp(-depth / (EDGE_FADE * a)) * (0.3 + 0.7 * down)
    shade = CAVITY_DARK + fold + tongue
    inside *= shade[..., None] * INSIDE_TINT
    height, width = skin.shape[:2]
    for teeth, shift in (
        (pose.upper_teeth, shaped.upper_shift),
        (pose.lower_teeth, shaped.lower_shift),
    ):
        if not teeth.any():
            continue
        move = np.array([[1, 0, shift[0] - origin[0]], [0, 1, shift[1] - origin[1]]], np.float64)
        pixels = cv2.warpAffine(
            crop, move, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        ).astype(np.float32)
        cover = cv2.warpAffine(teeth, move, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        inside = inside * (1 - cover) + pixels * cover
    alpha = opening[..., None]
    out = out * (1 - alpha) + inside * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
