"""Avatars' latents resident on the render device, within a memory budget, least recently used
leaving first.

A baked avatar's latents live in host memory (numpy, `Baked.arrays`); the UNet wants them on
its device. Copied there once per avatar and kept, a batch only sends the indices of its idle
frames to the device and takes back the decoded crops: one transfer each way per batch, none
per frame. On the CPU the "device" is host memory and the same code runs, so it is tested
without a GPU.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import torch

from lipsync_worker.contract import Baked
from lipsync_worker.renderers import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Entry:
    source: np.ndarray  # the host array it was copied from: a new bake in the same place differs
    latents: torch.Tensor  # N x 8 x h x w: masked then reference latents, per idle frame

    @property
    def nbytes(self) -> int:
        return self.latents.numel() * self.latents.element_size()


class DeviceLatents:
    """UNet inputs of the avatars in use, on `device` in `dtype`, within `budget_bytes`.

    The avatar asked for is always served, even alone over the budget; a batch that holds the
    latents of an avatar evicted meanwhile keeps its tensor until the batch is done.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype, budget_bytes: int) -> None:
        self.device = device
        self.dtype = dtype
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, baked: Baked) -> torch.Tensor:
        key = str(baked.out_dir)
        masked = baked.arrays["masked_latents"]
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.source is masked:
                self._entries.move_to_end(key)
                return entry.latents
        both = np.concatenate([masked, baked.arrays["reference_latents"]], axis=1)
        latents = torch.from_numpy(both).to(self.device, self.dtype)
        with self._lock:
            self._entries[key] = _Entry(masked, latents)
            self._entries.move_to_end(key)
            self._evict(keep=key)
            self._publish()
        return latents

    def used_bytes(self) -> int:
        return sum(entry.nbytes for entry in self._entries.values())

    def keys(self) -> list[str]:
        return list(self._entries)

    def _evict(self, keep: str) -> None:
        while self.used_bytes() > self.budget_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            del self._entries[oldest]
            log.info("latents of a baked avatar left the %s (memory budget)", self.device.type)

    def _publish(self) -> None:
        metrics.DEVICE_LATENTS_BYTES.set(self.used_bytes())
        metrics.DEVICE_LATENTS_AVATARS.set(len(self._entries))
