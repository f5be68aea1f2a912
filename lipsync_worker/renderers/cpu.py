"""The CPU renderer: audio-driven mouth animation warped onto the baked face crop.

Bake precomputes, once per avatar, displacement fields for the jaw, the upper lip and the mouth
corners over a small region around the mouth, and the colours of the inner mouth and teeth.
Per frame, render scales those fields by two numbers (openness, width), remaps the idle
frame's mouth region, paints the gap between the lips, and blends through the feathered
lower-face mask: well under a millisecond on one core. Frames carry the mouth region only
(silent ones are that region of the idle frame itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from lipsync_worker import artifacts, baking
from lipsync_worker.contract import (
    Baked,
    BakeSource,
    Box,
    CancelCheck,
    RenderCancelled,
    RenderedFrame,
    StreamState,
)
from lipsync_worker.renderers.mouth import mouth_shapes

VERSION = 2  # bump when baked arrays or drawing change: old bakes are then rebaked
BATCH = 8
JAW = 0.45  # jaw drop at full openness, in mouth half-widths
UPPER = 0.12  # upper-lip lift at full openness
SPREAD = 0.14  # mouth-corner shift at full width cue
TEETH_DEPTH = 0.28  # the upper-teeth band's height, at most, in half-widths
SUB = 16  # cv2 drawing fixed point (shift=4): sub-pixel, anti-aliased mouth outlines


class CpuRenderer:
    kind = "cpu"

    def bake(self, source: BakeSource) -> Baked:
        prepared = baking.prepare(source, crop_size=int(source.params.get("crop_size", 256)))
        arrays = mouth_rig(prepared)
        extra = {
            "renderer_version": VERSION,
            "crop_size": prepared.crop_size,
            "mouth_box": [*_fields(prepared.mouth_box)],
            "source_kind": "video" if prepared.is_video else "photo",
        }
        baked = artifacts.save(
            self.kind,
            source.out_dir,
            prepared.frames,
            prepared.face_boxes,
            arrays,
            extra,
            renderer_version=VERSION,
        )
        return baked  # the bake task encodes the idle clip, for every renderer alike

    def load(self, out_dir: Path) -> Baked:
        baked = artifacts.load(out_dir, renderer=self.kind)
        if baked.manifest.get("renderer_version") != VERSION:
            raise artifacts.ArtifactsCorrupt(
                f"{out_dir} was baked by CPU renderer v{baked.manifest.get('renderer_version')}, "
                f"this is v{VERSION}; rebake the avatar"
            )
        return baked

    def render(
        self, baked: Baked, audio: np.ndarray, state: StreamState, should_cancel: CancelCheck
    ) -> Iterator[list[RenderedFrame]]:
        shapes = mouth_shapes(audio, state.left_audio)
        cycle = baked.frame_count
        # Only the mouth region ever differs from the idle frame: send just that (a third of
        # the face crop's pixels, so a third of the bandwidth), pasted at its own box.
        x0, y0, x1, y1 = (int(v) for v in baked.arrays["mouth_region"])
        for start in range(0, len(shapes), BATCH):
            if should_cancel():
                raise RenderCancelled()
            batch = []
            for j in range(start, min(len(shapes), start + BATCH)):
                idle = state.idle_index(j, cycle)
                face = baked.face_boxes[idle]
                crop = baked.frames[idle, face.y : face.y + face.h, face.x : face.x + face.w]
                openness, width = float(shapes[j, 0]), float(shapes[j, 1])
                drawn = crop if openness <= 0.0 else draw_mouth(baked.arrays, crop, openness, width)
                image = np.ascontiguousarray(drawn[y0:y1, x0:x1])
                box = Box(face.x + x0, face.y + y0, x1 - x0, y1 - y0)
                batch.append(
                    RenderedFrame(index=state.turn_frame + j, idle_index=idle, box=box, image=image)
                )
            yield batch


def _fields(box: Box) -> tuple[int, int, int, int]:
    return box.x, box.y, box.w, box.h


def mouth_rig(prepared: baking.Prepared) -> dict[str, np.ndarray]:
    """Everything render needs per avatar: region, warp fields, mask and colours (float32)."""
    side = prepared.face_boxes[0].w
    k = side / prepared.crop_size  # mouth box and mask are in crop_size coordinates
    mb = prepared.mouth_box
    cx, cy, a = (mb.x + mb.w / 2) * k, (mb.y + mb.h / 2) * k, mb.w / 2 * k
    # The region that can change: cheek to cheek, nose to below the chin.
    x0, x1 = max(0, int(cx - 2.0 * a)), min(side, int(np.ceil(cx + 2.0 * a)))
    y0, y1 = max(0, int(cy - 1.1 * a)), min(side, int(np.ceil(cy + 2.6 * a)))
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u, v = (xs - cx) / a, (ys - cy) / a
    mask = prepared.mask
    if mask.shape[0] != side:
        mask = cv2.resize(mask, (side, side), interpolation=cv2.INTER_LINEAR)
    support = mask[y0:y1, x0:x1]  # displacements fade out where the blend fades out
    across = np.exp(-((u / 1.4) ** 2))
    lower = np.clip((v - 0.02) / 0.18, 0, 1)
    lower = lower * lower * (3 - 2 * lower)  # smoothstep: lower lip and jaw move, the rest stays
    chin_fade = np.clip((2.5 - v) / 0.8, 0, 1)  # the neck below the chin stays put
    jaw = JAW * a * across * lower * chin_fade * support
    upper = -UPPER * a * across * np.exp(-(((v + 0.2) / 0.3) ** 2)) * (v < 0.02) * support
    spread = SPREAD * a * u * np.exp(-((u / 1.3) ** 2)) * np.exp(-((v / 0.7) ** 2)) * support
    lips = _mean_colour(prepared, (cx, cy + 0.03 * a), (0.6 * a, 0.28 * a))
    skin = _mean_colour(prepared, (cx, cy + 1.1 * a), (0.5 * a, 0.2 * a))  # the chin
    inner = np.clip(lips * 0.22, 8, 60)  # a shadowed mouth: the lips' hue, nearly black
    teeth = 0.9 * np.array([238, 234, 224], np.float32) + 0.1 * skin
    return {
        "mouth_region": np.array([x0, y0, x1, y1], np.int32),
        "mouth_geometry": np.array([cx - x0, cy - y0, a], np.float32),
        "grid_x": (xs - x0).astype(np.float32),
        "grid_y": (ys - y0).astype(np.float32),
        "field_jaw": jaw.astype(np.float32),
        "field_upper": upper.astype(np.float32),
        "field_spread": spread.astype(np.float32),
        "blend": np.ascontiguousarray(support[..., None], dtype=np.float32),
        "palette": np.stack([inner, teeth]).astype(np.float32),
    }


def _mean_colour(
    prepared: baking.Prepared, centre: tuple[float, float], half: tuple[float, float]
) -> np.ndarray:
    """Mean RGB of a small rectangle of the first idle crop, in crop pixels."""
    box = prepared.face_boxes[0]
    crop = prepared.frames[0, box.y : box.y + box.h, box.x : box.x + box.w]
    (cx, cy), (hw, hh) = centre, half
    rows = slice(max(0, int(cy - hh)), max(0, int(cy + hh) + 1))
    cols = slice(max(0, int(cx - hw)), max(0, int(cx + hw) + 1))
    patch = crop[rows, cols].reshape(-1, 3)
    return patch.mean(0).astype(np.float32) if len(patch) else np.full(3, 128, np.float32)


def draw_mouth(
    arrays: dict[str, np.ndarray], crop: np.ndarray, openness: float, width: float
) -> np.ndarray:
    """The face crop with the mouth opened by `openness` (0..1) and spread by `width` (-1..1)."""
    x0, y0, x1, y1 = (int(v) for v in arrays["mouth_region"])
    cx, cy, a = (float(v) for v in arrays["mouth_geometry"])
    region = crop[y0:y1, x0:x1]
    map_x = arrays["grid_x"] - width * arrays["field_spread"]
    map_y = arrays["grid_y"] - openness * (arrays["field_jaw"] + arrays["field_upper"])
    warped = cv2.remap(region, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    warped = warped.astype(np.float32)
    # The gap between the lips: from the lifted upper lip to the dropped lower lip.
    top = cy - 0.9 * UPPER * a * openness
    bottom = cy + 0.1 * a + 0.85 * JAW * a * openness
    half_h = (bottom - top) / 2
    if half_h >= 0.5:
        half_w = a * 0.8 * (1 + 0.18 * width) * (0.8 + 0.2 * min(1.0, 2 * openness))
        centre = (int(round(cx * SUB)), int(round((top + half_h) * SUB)))
        gap = np.zeros(region.shape[:2], np.uint8)
        axes = (int(half_w * SUB), int(half_h * SUB))
        cv2.ellipse(gap, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_AA, 4)
        # Upper teeth: the top of the opening, just under the upper lip, with a soft lower edge.
        depth = min(TEETH_DEPTH * a, 0.45 * (bottom - top))
        rows = np.clip(top + depth - arrays["grid_y"][:, :1], 0.0, 1.0)[..., None]
        g = gap.astype(np.float32)[..., None] * (1 / 255)
        t = g * rows
        inner, teeth = arrays["palette"]
        warped = warped * (1 - g) + inner * (g - t) + teeth * t
    m = arrays["blend"]
    out = crop.copy()
    out[y0:y1, x0:x1] = np.clip(region * (1 - m) + warped * m + 0.5, 0, 255).astype(np.uint8)
    return out
