"""How a lipsync worker encodes its frames and splits a chunk into messages under the budget."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from contracts.messages import FramesReady
from lipsync_worker.contract import RenderedFrame

# The mouth region at 25 fps: 76 looks the same as 82 at the widget's size, and keeps a speaking
# session (16 kHz PCM audio included) under 1 Mbit/s (docs/performance.md).
JPEG_QUALITY = 76


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """RGB uint8 image -> baseline JPEG bytes a browser decodes with createImageBitmap."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


MESSAGE_BUDGET = 600_000  # bytes of JPEG per message; channels-redis refuses about 1 MB


def frames_messages(
    turn_id: str, seq: int, frames: Sequence[RenderedFrame], render_ms: float
) -> list[FramesReady]:
    """The messages carrying one chunk's frames back to its session, in order.

    Usually one (a second of mouth crops is a few hundred kB); more when the crops are large,
    each with its `part` and the total `parts` so the gateway can reassemble the chunk.
    """
    encoded = [encode_jpeg(f.image) for f in frames]
    groups: list[list[int]] = [[]]
    size = 0
    for i, jpeg in enumerate(encoded):
        if groups[-1] and size + len(jpeg) > MESSAGE_BUDGET:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += len(jpeg)
    return [
        FramesReady(
            turn_id=turn_id,
            seq=seq,
            part=part,
            parts=len(groups),
            first_frame=frames[group[0]].index if group else 0,
            idle_indices=tuple(frames[i].idle_index for i in group),
            boxes=tuple(frames[i].box for i in group),
            jpegs=tuple(encoded[i] for i in group),
            render_ms=round(render_ms, 2),
        )
        for part, group in enumerate(groups)
    ]
