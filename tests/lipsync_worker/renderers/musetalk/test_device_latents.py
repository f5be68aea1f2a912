"""Avatars' latents resident on the render device (here the CPU, the same code as on a GPU):
copied once, reused by every batch, within a memory budget, least recently used leaving first."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from prometheus_client import REGISTRY

from lipsync_worker.contract import Baked, StreamState
from lipsync_worker.renderers.musetalk.device_latents import DeviceLatents
from lipsync_worker.renderers.musetalk.models import MuseTalkModels
from lipsync_worker.renderers.musetalk.renderer import MuseTalkRenderer

CPU = torch.device("cpu")


def elsewhere(baked: Baked, place: Path, scale: float = 1.0) -> Baked:
    """Another avatar's bake: its own folder and its own latents."""
    arrays = dict(baked.arrays)
    arrays["masked_latents"] = arrays["masked_latents"] * scale
    arrays["reference_latents"] = arrays["reference_latents"] * scale
    return replace(baked, out_dir=place, arrays=arrays)


def test_latents_are_copied_to_the_device_once_and_every_batch_reuses_them(baked: Baked) -> None:
    resident = DeviceLatents(CPU, torch.float32, budget_bytes=2**30)
    latents = resident.get(baked)
    assert resident.get(baked) is latents  # no second copy for the next batch
    host = np.concatenate(
        [baked.arrays["masked_latents"], baked.arrays["reference_latents"]], axis=1
    )
    assert latents.device == CPU and latents.dtype == torch.float32
    assert np.array_equal(latents.numpy(), host)


def test_the_least_recently_used_avatar_leaves_when_over_the_budget(
    baked: Baked, tmp_path: Path
) -> None:
    a, b, c = (elsewhere(baked, tmp_path / name, k) for k, name in enumerate("abc", start=1))
    one = DeviceLatents(CPU, torch.float32, budget_bytes=2**30)
    size = one.get(a).numel() * 4
    resident = DeviceLatents(CPU, torch.float32, budget_bytes=2 * size)
    resident.get(a)
    resident.get(b)
    resident.get(a)  # used again: b is now the least recently used
    resident.get(c)
    assert resident.keys() == [str(a.out_dir), str(c.out_dir)]
    assert resident.used_bytes() == 2 * size
    assert REGISTRY.get_sample_value("lipsync_device_latents_bytes") == 2 * size
    assert REGISTRY.get_sample_value("lipsync_device_latents_avatars") == 2


def test_a_new_bake_in_the_same_folder_is_copied_again(baked: Baked, tmp_path: Path) -> None:
    resident = DeviceLatents(CPU, torch.float32, budget_bytes=2**30)
    first = resident.get(elsewhere(baked, tmp_path, 1.0))
    again = resident.get(elsewhere(baked, tmp_path, 0.5))
    assert torch.allclose(again, first * 0.5) and resident.keys() == [str(tmp_path)]


def test_an_avatar_alone_over_the_budget_still_renders_the_same_frames(
    models: MuseTalkModels, renderer: MuseTalkRenderer, baked: Baked, speech: np.ndarray
) -> None:
    tight = MuseTalkRenderer(models, batch_size=4, device_memory_bytes=1)
    state = StreamState(idle_start=1)
    frames = [f for batch in tight.render(baked, speech, state, lambda: False) for f in batch]
    expected = [f for batch in renderer.render(baked, speech, state, lambda: False) for f in batch]
    assert len(frames) == len(expected) == 30
    for got, want in zip(frames, expected, strict=True):
        assert (got.index, got.idle_index) == (want.index, want.idle_index)
        assert np.array_equal(got.image, want.image)
    assert tight.latents.keys() == [str(baked.out_dir)]
