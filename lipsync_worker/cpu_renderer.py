"""The CPU renderer: audio-driven mouth animation warped onto the baked lower face.

Per frame it only computes a displacement map from two numbers (openness, width), remaps the
idle frame's mouth region, paints the inner mouth and teeth, and blends through a feathered
mask: a fraction of a millisecond on one core. Output is the mouth region, pasted by the client
over the idle frame at its box. Silent frames are the idle region itself: the mouth is closed.
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
from lipsync_worker.mouth import mouth_shapes

BATCH = 8
INNER_MOUTH = np.array([70, 28, 34], np.float32)
TEETH = np.array([226, 222, 212], np.float32)


class CpuRenderer:
    kind = "cpu"

    def bake(self, source: BakeSource) -> Baked:
        prepared = baking.prepare(source, crop_size=int(source.params.get("crop_size", 256)))
        cx, cy = prepared.mouth_center
        arrays = {
            "mouth_boxes": np.array([[b.x, b.y, b.w, b.h] for b in prepared.mouth_boxes], np.int32),
            "mouth_geometry": np.array([cx, cy, prepared.mouth_half_width], np.float32),
        }
        baked = artifacts.save(
            self.kind, source.out_dir, prepared.frames, prepared.face_boxes, arrays, {}
        )
        return _with_fields(baked)

    def load(self, out_dir: Path) -> Baked:
        return _with_fields(artifacts.load(self.kind, out_dir))

    def render(
        self, baked: Baked, audio: np.ndarray, state: StreamState, should_cancel: CancelCheck
    ) -> Iterator[list[RenderedFrame]]:
        shapes = mouth_shapes(audio, state.left_audio)
        boxes = baked.arrays["mouth_boxes"]
        cycle = baked.frame_count
        for start in range(0, len(shapes), BATCH):
            if should_cancel():
                raise RenderCancelled()
            batch = []
            for j in range(start, min(len(shapes), start + BATCH)):
                idle = state.idle_index(j, cycle)
                x, y, w, h = (int(v) for v in boxes[idle])
                region = baked.frames[idle, y : y + h, x : x + w]
                openness, width = float(shapes[j, 0]), float(shapes[j, 1])
                image = region.copy() if openness == 0.0 else _draw(baked, region, openness, width)
                batch.append(
                    RenderedFrame(
                        index=state.turn_frame + j,
                        idle_index=idle,
                        box=Box(x, y, w, h),
                        image=image,
                    )
                )
            yield batch


def _with_fields(baked: Baked) -> Baked:
    """Precompute the displacement fields and the blend mask once per resident avatar."""
    _, _, w, h = (int(v) for v in baked.arrays["mouth_boxes"][0])
    cx, cy, a = (float(v) for v in baked.arrays["mouth_geometry"])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    across = np.exp(-(((xs - cx) / (1.6 * a)) ** 2))
    below = np.clip((ys - cy - 0.15 * a) / (0.3 * a), 0, 1)
    below = below * below * (3 - 2 * below)  # smoothstep: lower lip and jaw move, the rest stays
    jaw = 0.55 * a * across * below * np.clip((h - ys) / (0.25 * h), 0, 1)
    upper = -0.12 * a * across * np.exp(-(((ys - cy + 0.2 * a) / (0.3 * a)) ** 2)) * (ys < cy)
    spread = (
        0.14
        * a
        * (xs - cx)
        / a
        * np.exp(-(((ys - cy) / (0.7 * a)) ** 2))
        * np.exp(-(((xs - cx) / (1.4 * a)) ** 2))
    )
    region = np.zeros((h, w), np.float32)
    cv2.ellipse(
        region,
        (int(cx), int(cy + 0.3 * a)),
        (int(1.55 * a), int(min(h - cy, 1.3 * a))),
        0,
        0,
        360,
        1.0,
        -1,
    )
    blend = cv2.GaussianBlur(region, (0, 0), max(1.0, a / 4))
    baked.arrays.update(
        grid_x=xs,
        grid_y=ys,
        field_jaw=jaw.astype(np.float32),
        field_upper=upper.astype(np.float32),
        field_spread=spread.astype(np.float32),
        blend=blend[..., None],
    )
    return baked


def _draw(baked: Baked, region: np.ndarray, openness: float, width: float) -> np.ndarray:
    f = baked.arrays
    cx, cy, a = (float(v) for v in f["mouth_geometry"])
    map_x = f["grid_x"] - width * f["field_spread"]
    map_y = f["grid_y"] - openness * (f["field_jaw"] + f["field_upper"])
    warped = cv2.remap(region, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    jaw_px, lip_px = 0.55 * a * openness, 0.12 * a * openness
    top, bottom = cy + 0.22 * a - lip_px, cy + 0.3 * a + jaw_px * 0.8
    half_h = (bottom - top) / 2
    if half_h >= 0.75:
        mouth = np.zeros(region.shape[:2], np.uint8)
        centre = (int(round(cx * 4)), int(round((top + half_h) * 4)))
        axes = (int(round(0.62 * a * (1 + 0.25 * width) * 4)), int(round(half_h * 4)))
        cv2.ellipse(mouth, centre, axes, 0, 0, 360, 255, -1, cv2.LINE_AA, 2)
        teeth = np.zeros_like(mouth)
        teeth_axes = (int(axes[0] * 0.85), int(axes[1] * 0.55))
        cv2.ellipse(
            teeth, (centre[0], centre[1] - axes[1]), teeth_axes, 0, 0, 360, 255, -1, cv2.LINE_AA, 2
        )
        inner = mouth.astype(np.float32)[..., None] / 255.0
        tooth = np.minimum(teeth, mouth).astype(np.float32)[..., None] / 255.0
        warped = warped * (1 - inner) + INNER_MOUTH * (inner - tooth) + TEETH * tooth
    out = region * (1 - f["blend"]) + warped * f["blend"]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
