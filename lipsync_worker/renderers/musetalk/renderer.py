"""MuseTalk v1.5 as a LipSyncRenderer: one UNet pass per frame in latent space, blended on the idle cycle.

Bake encodes every idle-cycle face crop twice with the VAE: with its lower half blacked out
(what to inpaint) and whole (the reference identity). Render pairs each output frame with
its idle-cycle frame, conditions the UNet on the frame's audio window, decodes, and pastes
the result through the soft lower-face mask so only the mouth region changes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from lipsync_worker import artifacts as store
from lipsync_worker.contract import (
    Baked,
    BakeSource,
    Box,
    CancelCheck,
    RenderCancelled,
    RenderedFrame,
    StreamState,
    frames_for_samples,
)
from lipsync_worker.renderers.musetalk.audio_features import frame_features
from lipsync_worker.renderers.musetalk.device_latents import DeviceLatents
from lipsync_worker.renderers.musetalk.models import MuseTalkModels, load_models

CROP_SIZE = 256  # MuseTalk is trained on 256 x 256 face crops (32 x 32 latents)
# Avatars' latents resident on the render device (a worker takes LIPSYNC_DEVICE_MEMORY_MB).
DEVICE_MEMORY_BYTES = 2 * 2**30


class PreparedAvatar(Protocol):
    """What `lipsync_worker.baking.prepare` hands back (only the fields used here)."""

    frames: np.ndarray
    face_boxes: list[Box]
    crop_size: int
    mask: np.ndarray
    mouth_box: Any


PrepareFn = Callable[..., PreparedAvatar]


def _baking_prepare(source: BakeSource, *, crop_size: int) -> PreparedAvatar:
    baking: Any = importlib.import_module("lipsync_worker.baking")
    prepared: PreparedAvatar = baking.prepare(source, crop_size=crop_size)
    return prepared


def face_crops(frames: np.ndarray, boxes: list[Box], size: int) -> np.ndarray:
    """The face crop of every frame, resized to size x size: N x size x size x 3 uint8."""
    crops = np.empty((len(boxes), size, size, 3), dtype=np.uint8)
    height, width = frames.shape[1:3]
    for i, box in enumerate(boxes):
        if box.x < 0 or box.y < 0 or box.x + box.w > width or box.y + box.h > height or not box.w:
            # Rendered crops are pasted back at the box, so it must lie inside the frame.
            raise ValueError(
                f"face box {box} of frame {i} is not inside the {width}x{height} frame"
            )
        patch = frames[i, box.y : box.y + box.h, box.x : box.x + box.w]
        shrinking = box.w > size or box.h > size
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
        crops[i] = cv2.resize(patch, (size, size), interpolation=interpolation)
    return crops


def without_lower_half(crops: np.ndarray) -> np.ndarray:
    """The UNet's inpainting input: the crop with its lower half black, as in training."""
    masked = crops.copy()
    masked[:, crops.shape[1] // 2 :] = 0
    return masked


def blend(idle_patch: np.ndarray, generated: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Paste a generated crop onto the idle frame's face patch through the soft mask."""
    h, w = idle_patch.shape[:2]
    face = cv2.resize(generated, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    alpha = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    mixed = idle_patch.astype(np.float32) * (1.0 - alpha) + face * alpha
    return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """One chunk on its way through the UNet: its avatar, place in the turn and audio windows."""

    baked: Baked
    state: StreamState
    features: torch.Tensor  # one cross-attention input per frame of the chunk
    n_frames: int


class MuseTalkRenderer:
    """Bakes avatars into VAE latents and renders audio chunks with the MuseTalk v1.5 UNet."""

    kind = "musetalk"

    def __init__(
        self,
        models: MuseTalkModels | str | Path,
        *,
        batch_size: int = 8,
        device: torch.device | str | None = None,
        prepare: PrepareFn | None = None,
        device_memory_bytes: int = DEVICE_MEMORY_BYTES,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.models = (
            models if isinstance(models, MuseTalkModels) else load_models(models, device=device)
        )
        self.batch_size = batch_size
        self.latents = DeviceLatents(self.models.device, self.models.dtype, device_memory_bytes)
        self._prepare: PrepareFn = prepare or _baking_prepare

    def bake(self, source: BakeSource) -> Baked:
        prepared = self._prepare(source, crop_size=CROP_SIZE)
        crops = face_crops(prepared.frames, list(prepared.face_boxes), CROP_SIZE)
        masked, reference = [], []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = crops[start : start + self.batch_size]
                masked.append(self.models.encode_crops(without_lower_half(batch)))
                reference.append(self.models.encode_crops(batch))
        mask: np.ndarray = np.asarray(prepared.mask, dtype=np.float32)
        if mask.shape[:2] != (CROP_SIZE, CROP_SIZE):
            mask = cv2.resize(mask, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)
        arrays = {
            "masked_latents": np.concatenate(masked),
            "reference_latents": np.concatenate(reference),
            "mask": np.clip(mask, 0.0, 1.0),
        }
        mouth_box = prepared.mouth_box
        extra = {"crop_size": CROP_SIZE, "mouth_box": _box_list(mouth_box) if mouth_box else None}
        return store.save(
            self.kind, source.out_dir, prepared.frames, list(prepared.face_boxes), arrays, extra
        )

    def load(self, out_dir: Path) -> Baked:
        return store.load(self.kind, out_dir)

    def render(
        self,
        baked: Baked,
        audio: np.ndarray,
        state: StreamState,
        should_cancel: CancelCheck,
    ) -> Iterator[list[RenderedFrame]]:
        plan: ChunkPlan | None = None
        n_frames = frames_for_samples(len(audio))
        for start in range(0, n_frames, self.batch_size):
            if should_cancel():
                raise RenderCancelled(f"cancelled before frame {state.turn_frame + start}")
            if plan is None:
                plan = self.plan(baked, audio, state)
            stop = min(start + self.batch_size, n_frames)
            (frames,) = self.render_frames([(plan, start, stop)])
            yield frames

    def plan(self, baked: Baked, audio: np.ndarray, state: StreamState) -> ChunkPlan:
        """A chunk's audio conditioning, ready for its frames to join any UNet batch."""
        with torch.inference_mode():
            features = frame_features(
                self.models,
                audio,
                state.left_audio,
                state.turn_frame,
                right_audio=state.right_audio,
            )
        return ChunkPlan(baked, state, features, frames_for_samples(len(audio)))

    def render_frames(
        self, spans: Sequence[tuple[ChunkPlan, int, int]]
    ) -> list[list[RenderedFrame]]:
        """Frames of several chunks (any avatar, any turn) in one UNet pass and one VAE decode."""
        crops = self.generate(spans)
        return [
            self.blend_frames(plan, start, c)
            for (plan, start, _), c in zip(spans, crops, strict=True)
        ]

    def generate(self, spans: Sequence[tuple[ChunkPlan, int, int]]) -> list[np.ndarray]:
        """The generated face crops of frames start..stop of each planned chunk: the GPU's part.

        Each frame depends on its own latents and audio window only, so a frame comes out the
        same whichever frames share its batch. The avatars' latents stay on the device
        (`DeviceLatents`): a pass sends each chunk's idle-frame indices and takes back its
        decoded crops, one transfer each way per batch, none per frame.
        """
        if not sum(stop - start for _, start, stop in spans):
            return [np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8) for _ in spans]
        latents, audio, sizes = [], [], []
        with torch.inference_mode():
            for plan, start, stop in spans:
                idle = self._idle(plan, start, stop)
                resident = self.latents.get(plan.baked)
                index = torch.as_tensor(idle, dtype=torch.long).to(resident.device)
                latents.append(resident.index_select(0, index))
                audio.append(plan.features[start:stop])
                sizes.append(len(idle))
            generated = self._generate(torch.cat(latents), torch.cat(audio))
        offsets = np.cumsum([0, *sizes])
        return [generated[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]

    def blend_frames(self, plan: ChunkPlan, start: int, crops: np.ndarray) -> list[RenderedFrame]:
        """Generated crops pasted onto their idle frames: the CPU's part, any thread's."""
        idle = self._idle(plan, start, start + len(crops))
        mask = plan.baked.arrays["mask"]
        return [
            self._frame(plan.baked, plan.state.turn_frame + start + k, i, crop, mask)
            for k, (i, crop) in enumerate(zip(idle, crops, strict=True))
        ]

    @staticmethod
    def _idle(plan: ChunkPlan, start: int, stop: int) -> list[int]:
        return [plan.state.idle_index(j, plan.baked.frame_count) for j in range(start, stop)]

    def _generate(self, latents: torch.Tensor, audio: torch.Tensor) -> np.ndarray:
        m = self.models
        timestep = torch.zeros(1, dtype=torch.long, device=m.device)
        audio = audio.to(m.device, m.dtype)
        predicted = m.unet(latents, timestep, encoder_hidden_states=audio).sample
        return m.decode_latents(predicted)

    @staticmethod
    def _frame(
        baked: Baked, index: int, idle_index: int, generated: np.ndarray, mask: np.ndarray
    ) -> RenderedFrame:
        box = baked.face_boxes[idle_index]
        patch = baked.frames[idle_index, box.y : box.y + box.h, box.x : box.x + box.w]
        return RenderedFrame(
            index=index, idle_index=idle_index, box=box, image=blend(patch, generated, mask)
        )


def _box_list(box: Any) -> list[int]:
    return [int(box.x), int(box.y), int(box.w), int(box.h)]
