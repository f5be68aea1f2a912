"""The official v1.5 UNet config builds the network MuseTalk ships, checked on the meta device."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel

from lipsync_worker.renderers.musetalk.bench import FULL
from lipsync_worker.renderers.musetalk.models import unet_config

OFFICIAL = Path(__file__).with_name("musetalk_v15_unet.json")  # musetalkV15/musetalk.json


def test_full_unet_shape_on_meta_tensors() -> None:
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config(OFFICIAL))
        parameters = sum(p.numel() for p in unet.parameters())
        # Stable Diffusion 1.x's UNet (~860M) with 384-wide cross-attention keys and values.
        assert 8e8 < parameters < 9e8, parameters
        latents = torch.empty(2, 8, 32, 32)  # masked ++ reference latents of 256 x 256 crops
        audio = torch.empty(2, 50, 384)  # 10 positions x 5 Whisper-tiny layers, 384 wide
        out = unet(latents, torch.zeros(1, dtype=torch.long), encoder_hidden_states=audio).sample
    assert out.shape == (2, 4, 32, 32)
    assert out.device.type == "meta"


def test_the_bench_uses_the_official_config() -> None:
    official = {k: v for k, v in json.loads(OFFICIAL.read_text()).items() if not k.startswith("_")}
    assert FULL.unet == official
