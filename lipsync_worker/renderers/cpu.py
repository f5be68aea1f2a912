"""The CPU renderer: the person's own face, warped by its dense landmarks, speaks the audio.

Bake measures the lips, jaw, nose and chin of every idle frame (`baking.prepare`), then renders
once a small table of mouth regions over the two shape numbers (openness levels x widths from
rounded to wide): each a piecewise-affine warp of the reference frame's lower face with the
inside of the mouth made from the photo (`inner_mouth`). Per frame, render blends the four
table entries around the frame's shape, moves the result with the idle frame's head motion and
feathers it in: well under a millisecond on one core. Frames carry the mouth region only;
silent ones are that region of the idle frame itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.spatial import QhullError

from lipsync_worker import artifacts, baking
from lipsync_worker.contract import (
    Baked,
    BakeError,
    BakeFailure,
    BakeSource,
    Box,
    CancelCheck,
    RenderCancelled,
    RenderedFrame,
    StreamState,
)
from lipsync_worker.face import landmarks as lm
from lipsync_worker.face.pose import inner_gap
from lipsync_worker.renderers.inner_mouth import cavity_source, compose
from lipsync_worker.renderers.mouth import mouth_shapes
from lipsync_worker.renderers.warp import GAP_MAX, Mesh, MouthAxes, Region, centre_gap, shape_points

VERSION = 5  # bump when baked arrays or drawing change (5: o over the teeth, clean corners)
BATCH = 8
OPEN_LEVELS = 13  # 0..1 in twelfths, plus the source's own openness: fine steps, no ghosting
WIDTH_LEVELS = (-1.0, -0.5, 0.0, 0.5, 1.0)
FEATHER = 0.35  # the blend into the idle frame fades over this many half mouth widths


class CpuRenderer:
    kind = "cpu"

    def bake(self, source: BakeSource) -> Baked:
        prepared = baking.prepare(source, crop_size=int(source.params.get("crop_size", 256)))
        if prepared.landmarks is None or prepared.pose is None:
            raise BakeError(
                BakeFailure.MODEL_MISSING,
                "The face landmark model is not installed on this worker; "
                "install the pinned mediapipe package.",
            )
        try:
            arrays, rig = mouth_rig(prepared)
        except (ValueError, ArithmeticError, QhullError, cv2.error) as error:
            # Landmarks that pass the checks but do not make a mesh (points on top of each
            # other, a mouth a few pixels wide): the operator's answer is a better picture.
            raise BakeError(
                BakeFailure.LANDMARKS_UNSTABLE,
                "The mouth could not be rigged from its landmarks. Use a sharper, larger, "
                "frontal picture.",
            ) from error
        extra = {
            "renderer_version": VERSION,
            "crop_size": prepared.crop_size,
            "mouth_box": _mouth_box(prepared),
            "source_kind": "video" if prepared.is_video else "photo",
            "mouth": prepared.pose.describe(),
            "rig": rig,
            "landmark_groups": {name: list(ids) for name, ids in lm.GROUPS.items()},
        }
        return artifacts.save(
            self.kind,
            source.out_dir,
            prepared.frames,
            prepared.face_boxes,
            arrays,
            extra,
            renderer_version=VERSION,
        )  # the bake task encodes the idle clip, for every renderer alike

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
        rest = float(baked.manifest["rig"]["rest"])
        shapes = mouth_shapes(audio, state.left_audio, rest=rest, phonemes=state.phonemes)
        cycle = baked.frame_count
        # Only the mouth region ever differs from the idle frame: send just that, at its own box.
        x0, y0, x1, y1 = (int(v) for v in baked.arrays["mouth_region"])
        for start in range(0, len(shapes), BATCH):
            if should_cancel():
                raise RenderCancelled()
            batch = []
            for j in range(start, min(len(shapes), start + BATCH)):
                idle = state.idle_index(j, cycle)
                face = baked.face_boxes[idle]
                region = baked.frames[idle, face.y + y0 : face.y + y1, face.x + x0 : face.x + x1]
                openness, width = float(shapes[j, 0]), float(shapes[j, 1])
                if openness == rest and width == 0.0:
                    image = np.ascontiguousarray(region)
                else:
                    image = draw_mouth(baked.arrays, region, idle, openness, width)
                box = Box(face.x + x0, face.y + y0, x1 - x0, y1 - y0)
                batch.append(
                    RenderedFrame(index=state.turn_frame + j, idle_index=idle, box=box, image=image)
                )
            yield batch


def _mouth_box(prepared: baking.Prepared) -> list[int]:
    """The lips' bounding box in crop_size coordinates (what the manifest has always said)."""
    box = prepared.mouth_box
    return [box.x, box.y, box.w, box.h]


def open_levels(rest: float) -> np.ndarray:
    """Openness levels of the table: even steps, with the source's own openness exactly on one."""
    levels = np.linspace(0.0, 1.0, OPEN_LEVELS)
    nearest = int(np.argmin(np.abs(levels - rest)))
    if abs(levels[nearest] - rest) < 0.5 / (OPEN_LEVELS - 1) and 0 < nearest < OPEN_LEVELS - 1:
        levels[nearest] = rest
    else:
        levels = np.unique(np.append(levels, rest))
    return levels.astype(np.float32)


def mouth_rig(prepared: baking.Prepared) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The table of mouth regions and what render needs to blend and place them."""
    assert prepared.landmarks is not None and prepared.pose is not None
    ref = prepared.reference
    box = prepared.face_boxes[ref]
    crop = prepared.frames[ref, box.y : box.y + box.h, box.x : box.x + box.w]
    points = prepared.landmarks[ref]
    axes = MouthAxes.of(points)
    rest_gap = centre_gap(axes.uv(points))
    gap_max = max(GAP_MAX, 1.1 * rest_gap)
    rest = float(np.float32(rest_gap / gap_max))
    levels = open_levels(rest)
    widths = np.array(WIDTH_LEVELS, np.float32)
    region = Region.around(points, box.w)
    mesh = Mesh(points, region, gap_max)
    filled = cavity_source(crop, points, prepared.pose)
    height, width = region.shape
    table = np.empty((len(levels), len(widths), height, width, 3), np.uint8)
    gaps = np.empty((len(levels), len(widths)), np.float32)
    for i, openness in enumerate(levels):
        for j, spread in enumerate(widths):
            shaped = shape_points(points, float(openness), float(spread), gap_max)
            table[i, j] = compose(crop, filled, mesh, points, shaped, prepared.pose, axes.a)
            gaps[i, j] = inner_gap(shaped.points)
    motion = np.stack([lm.rigid_motion(points, p) for p in prepared.landmarks])
    feather = _feather(region.shape, FEATHER * axes.a)
    arrays: dict[str, np.ndarray] = {
        "mouth_region": np.array([region.x0, region.y0, region.x1, region.y1], np.int32),
        "landmarks": prepared.landmarks.astype(np.float32),
        "table": table,
        "table_gap": gaps,
        "levels_open": levels,
        "levels_width": widths,
        "blend": feather,
        "blend_rest": 1.0 - feather,
        "motion": _patch_motion(motion, region).astype(np.float32),
    }
    rig: dict[str, Any] = {
        "rest": rest,
        "gap_max": round(gap_max, 4),
        "reference": ref,
        "a": round(axes.a, 2),
    }
    return arrays, rig


def _feather(shape: tuple[int, int], fade: float) -> np.ndarray:
    """1 inside the region, easing to 0 at its border: the warp is the identity there anyway."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    edge = np.minimum(np.minimum(xs, width - 1 - xs), np.minimum(ys, height - 1 - ys))
    t = np.clip(edge / max(fade, 1.0), 0, 1)
    return np.ascontiguousarray(t * t * (3 - 2 * t), dtype=np.float32)


def _patch_motion(motion: np.ndarray, region: Region) -> np.ndarray:
    """Per idle frame, the crop motion from the reference as a move of the region's pixels."""
    origin = region.origin
    out = motion.astype(np.float64).copy()
    out[:, :, 2] = motion[:, :, :2] @ origin + motion[:, :, 2] - origin
    return out


def mouth_patch(arrays: dict[str, np.ndarray], openness: float, width: float) -> np.ndarray:
    """The table's four entries around (openness, width), blended: uint8 region pixels."""
    levels, widths, table = arrays["levels_open"], arrays["levels_width"], arrays["table"]
    i = int(np.clip(np.searchsorted(levels, openness) - 1, 0, len(levels) - 2))
    j = int(np.clip(np.searchsorted(widths, width) - 1, 0, len(widths) - 2))
    fo = float(np.clip((openness - levels[i]) / (levels[i + 1] - levels[i]), 0, 1))
    fw = float(np.clip((width - widths[j]) / (widths[j + 1] - widths[j]), 0, 1))
    # uint8 all the way (OpenCV rounds each step): a float pipeline costs three times as much.
    top = cv2.addWeighted(table[i, j], 1 - fw, table[i, j + 1], fw, 0.0)
    bottom = cv2.addWeighted(table[i + 1, j], 1 - fw, table[i + 1, j + 1], fw, 0.0)
    return cv2.addWeighted(top, 1 - fo, bottom, fo, 0.0)


def intended_gap(arrays: dict[str, np.ndarray], openness: float, width: float) -> float:
    """The inner-lip gap (in mouth widths) the table draws for a shape, blended as render does."""
    levels, widths, gaps = arrays["levels_open"], arrays["levels_width"], arrays["table_gap"]
    rows = np.array([np.interp(openness, levels, gaps[:, k]) for k in range(len(widths))])
    return float(np.interp(width, widths, rows))


def draw_mouth(
    arrays: dict[str, np.ndarray], region: np.ndarray, idle: int, openness: float, width: float
) -> np.ndarray:
    """The idle frame's mouth region with the mouth at (openness, width); uint8, region-sized."""
    patch = mouth_patch(arrays, openness, width)
    blend = arrays["blend"]
    move = arrays["motion"][idle]
    if np.abs(move - _IDENTITY).max() > 1e-3:  # the head has moved since the reference frame
        size = (region.shape[1], region.shape[0])
        # The feather is smooth over a third of a mouth width: a sway of a pixel or so leaves it
        # as it is; only the mouth moves with the head.
        patch = cv2.warpAffine(  # cubic: the idle frame was resampled once, and so is this
            patch, move, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
        )
    return cv2.blendLinear(patch, np.ascontiguousarray(region), blend, arrays["blend_rest"])


_IDENTITY = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
