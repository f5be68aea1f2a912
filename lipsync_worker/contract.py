"""The renderer contract: what every lip-sync backend (CPU renderer, MuseTalk) implements.

Renderers are plain Python over numpy: they never import Celery or Django, so they can be
tested, benchmarked and run on a GPU box without the rest of the product.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from contracts.media import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, Box, frames_for_samples
from contracts.phonemes import PhonemeSpan

__all__ = [
    "FPS",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "BakeError",
    "BakeFailure",
    "BakeSource",
    "Baked",
    "Box",
    "CancelCheck",
    "LipSyncRenderer",
    "RenderCancelled",
    "RenderedFrame",
    "StreamState",
    "frames_for_samples",
]


class BakeFailure(enum.StrEnum):
    """Why a bake failed, in terms an operator can act on."""

    UNREADABLE = "unreadable"
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    TOO_SHORT = "too_short"
    MODEL_MISSING = "model_missing"
    MOUTH_COVERED = "mouth_covered"
    FACE_TURNED = "face_turned"
    LANDMARKS_UNSTABLE = "landmarks_unstable"


class BakeError(Exception):
    """A bake that cannot succeed for this source; `message` is shown to an operator as is."""

    def __init__(self, code: BakeFailure, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RenderCancelled(Exception):
    """Raised by `render` when the cancel callback said the turn is over."""


@dataclass(frozen=True, slots=True)
class BakeSource:
    """What a bake starts from: a short frontal video or a still photo on disk."""

    path: Path
    out_dir: Path
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Baked:
    """The resident, per-avatar artifacts a renderer needs to render any audio quickly.

    `frames` is the idle cycle (N x H x W x 3 uint8 RGB, forward then reverse for videos,
    mouth closed); `face_boxes[i]` is where the face crop of frame i sits; `arrays` holds
    renderer-specific tensors (masks, latents) by name. `manifest` is what was written to
    `out_dir/manifest.json`, checksums included.
    """

    renderer: str
    frames: np.ndarray
    face_boxes: list[Box]
    arrays: dict[str, np.ndarray]
    manifest: dict[str, Any]
    out_dir: Path

    @property
    def frame_count(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of a full avatar frame."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    def nbytes(self) -> int:
        return int(self.frames.nbytes + sum(a.nbytes for a in self.arrays.values()))


@dataclass(slots=True)
class StreamState:
    """Where a chunk sits in its turn; everything a stateless render of that chunk needs.

    Chunks of one turn may land on different workers, and chunk n+1 is queued before chunk n
    has rendered, so nothing is carried in worker memory: the conversation sends this with
    every chunk. `left_audio` is the turn's audio just before this chunk (empty for the first
    chunk, up to about a second otherwise); renderers warm their smoothing or their audio
    encoder window on it so there is no jump at chunk borders. Every chunk but a turn's last
    must hold a whole number of frames (a multiple of SAMPLES_PER_FRAME samples).
    `right_audio` is the turn's audio just after this chunk (a few frames; empty after the
    turn's last chunk, where silence follows): renderers that look ahead in the audio (MuseTalk
    looks two frames ahead) read it so a chunk's last frames render as in the whole turn.
    `phonemes`, when the TTS reported them, are the phonemes of the left context and the chunk,
    their samples counted from the first sample of `left_audio` (of the chunk when there is no
    left context); renderers that can shape the mouth by them do, the rest ignore them.
    """

    idle_start: int = 0  # idle-cycle frame the turn started on
    turn_frame: int = 0  # frames of this turn rendered before this chunk
    left_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    right_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    phonemes: tuple[PhonemeSpan, ...] = ()

    def idle_index(self, frame_in_chunk: int, cycle_length: int) -> int:
        return (self.idle_start + self.turn_frame + frame_in_chunk) % cycle_length


@dataclass(frozen=True, slots=True)
class RenderedFrame:
    """One output frame: either a face crop to paste at `box`, or a whole frame (box covers it)."""

    index: int  # position of this frame within the turn, counted from the turn's first frame
    idle_index: int  # idle-cycle frame this crop is pasted onto
    box: Box
    image: np.ndarray  # h x w x 3 uint8 RGB, shape matches box


CancelCheck = Callable[[], bool]


@runtime_checkable
class LipSyncRenderer(Protocol):
    """A lip-sync backend. `bake` once per avatar; `render` once per audio chunk of a turn."""

    kind: str

    def bake(self, source: BakeSource) -> Baked: ...

    def load(self, out_dir: Path) -> Baked:
        """Reload artifacts written by an earlier `bake` (checksums verified)."""
        ...

    def render(
        self,
        baked: Baked,
        audio: np.ndarray,
        state: StreamState,
        should_cancel: CancelCheck,
    ) -> Iterator[list[RenderedFrame]]:
        """Yield batches of frames for `audio` (int16 mono 16 kHz).

        Checks `should_cancel` before each batch and raises `RenderCancelled` when it says so.
        Emits exactly ceil(len(audio) / SAMPLES_PER_FRAME) frames in total; output depends
        only on the arguments (deterministic), never on earlier calls.
        """
        ...
