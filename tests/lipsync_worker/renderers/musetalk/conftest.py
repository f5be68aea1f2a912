"""Tiny random MuseTalk models saved in the official layout, and a baked demo portrait."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import diffusers
import numpy as np
import pytest
import torch
from PIL import Image

from lipsync_worker.contract import SAMPLE_RATE, Baked, BakeSource, Box
from lipsync_worker.renderers.musetalk.bench import TINY, build_networks
from lipsync_worker.renderers.musetalk.models import MuseTalkModels, load_models
from lipsync_worker.renderers.musetalk.renderer import MuseTalkRenderer

torch.set_num_threads(2)


def save_official_layout(root: Path, seed: int = 0) -> Path:
    """Random tiny networks written exactly as MuseTalk's download script lays them out."""
    unet, vae, whisper, extractor = build_networks(TINY, seed)
    (root / "musetalkV15").mkdir(parents=True)
    torch.save(unet.state_dict(), root / "musetalkV15" / "unet.pth")
    config = {"_class_name": "UNet2DConditionModel", "_diffusers_version": diffusers.__version__}
    (root / "musetalkV15" / "musetalk.json").write_text(json.dumps({**config, **TINY.unet}))
    vae.save_pretrained(root / "sd-vae")
    whisper.save_pretrained(root / "whisper")
    extractor.save_pretrained(root / "whisper")
    return root


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_official_layout(tmp_path_factory.mktemp("musetalk-models"))


@pytest.fixture(scope="session")
def models(models_dir: Path) -> MuseTalkModels:
    return load_models(models_dir, device="cpu")


@dataclass
class SyntheticPrepared:
    frames: np.ndarray
    face_boxes: list[Box]
    crop_size: int
    mask: np.ndarray
    mouth_box: Box | None


def synthetic_prepare(source: BakeSource, *, crop_size: int = 256) -> SyntheticPrepared:
    """Stand-in for baking.prepare: a 6-frame idle cycle with a fixed box on the astronaut's face."""
    image = np.asarray(Image.open(source.path).convert("RGB"))
    frames = np.stack([np.roll(image, shift, axis=0) for shift in (0, 1, 2, 2, 1, 0)])
    mask: np.ndarray = np.zeros((crop_size, crop_size), np.float32)
    mask[crop_size // 2 :, crop_size // 8 : -crop_size // 8] = 1.0
    mask = cv2.GaussianBlur(mask, (0, 0), crop_size / 32)
    mask[: crop_size // 3] = 0.0  # the upper face must come through untouched
    box = Box(160, 40, 160, 190)
    return SyntheticPrepared(frames, [box] * len(frames), crop_size, mask, Box(90, 160, 80, 40))


def _prepare() -> Any:
    try:
        from lipsync_worker.baking import prepare
    except ImportError:
        return synthetic_prepare
    return prepare


@pytest.fixture(scope="session")
def renderer(models: MuseTalkModels) -> MuseTalkRenderer:
    return MuseTalkRenderer(models, batch_size=4, prepare=_prepare())


@pytest.fixture(scope="session")
def baked(
    renderer: MuseTalkRenderer, portrait: Path, tmp_path_factory: pytest.TempPathFactory
) -> Baked:
    return renderer.bake(BakeSource(path=portrait, out_dir=tmp_path_factory.mktemp("baked")))


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced harmonics under a syllable-rate envelope, int16 at 16 kHz: loud and quiet parts."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 120 + 20 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, np.pi)), 0, None)
    noisy = voice * envelope + 0.02 * rng.standard_normal(len(t))
    return (0.3 * 32767 * noisy / np.abs(noisy).max()).astype(np.int16)


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    return speech_like(1.2)
