"""Which renderer bakes and renders an avatar: MuseTalk where weights and CUDA exist, else CPU."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lipsync_worker.contract import BakeError, BakeFailure, LipSyncRenderer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    kind: str
    reason: str


def choose(wanted: str, musetalk_models: str | None) -> Choice:
    """Pick a renderer kind for `wanted` ("auto", "cpu" or "musetalk") on this machine."""
    if wanted == "cpu":
        return Choice("cpu", "CPU renderer requested")
    from lipsync_worker.renderers.musetalk.availability import musetalk_available

    ok, why = musetalk_available(musetalk_models)
    if ok:
        return Choice("musetalk", "MuseTalk weights and CUDA present")
    if wanted == "musetalk":
        raise BakeError(BakeFailure.MODEL_MISSING, f"MuseTalk was requested but {why}.")
    return Choice("cpu", f"CPU renderer: {why}")


def build(
    kind: str, musetalk_models: str | None, *, device_memory_mb: int | None = None
) -> LipSyncRenderer:
    """The renderer of `kind`; MuseTalk's keeps up to `device_memory_mb` of avatars' latents on
    its device (its default when None)."""
    if kind == "musetalk":
        from lipsync_worker.renderers.musetalk.renderer import DEVICE_MEMORY_BYTES, MuseTalkRenderer

        budget = DEVICE_MEMORY_BYTES if device_memory_mb is None else device_memory_mb * 2**20
        return MuseTalkRenderer(musetalk_models, device_memory_bytes=budget)  # type: ignore[arg-type]
    from lipsync_worker.renderers.cpu import CpuRenderer

    return CpuRenderer()
