"""Loading the official MuseTalk layout, and telling the worker when it cannot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from transformers import WhisperConfig, WhisperModel

from lipsync_worker.renderers.musetalk.availability import missing_pieces, musetalk_available
from lipsync_worker.renderers.musetalk.bench import TINY
from lipsync_worker.renderers.musetalk.models import ModelsIncompatible, ModelsMissing, load_models
from tests.lipsync_worker.renderers.musetalk.conftest import save_official_layout


def test_loads_every_piece_on_cpu_in_fp32(models_dir: Path) -> None:
    models = load_models(models_dir, device="cpu")
    assert isinstance(models.unet, UNet2DConditionModel)
    assert isinstance(models.vae, AutoencoderKL)
    assert models.dtype == torch.float32
    assert models.unet.config.in_channels == 8
    assert models.audio_dim == models.unet.config.cross_attention_dim
    everything = [*models.unet.parameters(), *models.vae.parameters(), *models.whisper.parameters()]
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in everything)
    assert not any(p.requires_grad for p in everything)
    assert not models.unet.training


def test_unet_weights_are_the_saved_ones(models_dir: Path) -> None:
    models = load_models(models_dir, device="cpu")
    saved = torch.load(models_dir / "musetalkV15" / "unet.pth", weights_only=True)
    loaded = models.unet.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[key], loaded[key]) for key in saved)


def test_every_missing_piece_is_named(models_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "models"
    shutil.copytree(models_dir, partial)
    (partial / "musetalkV15" / "unet.pth").unlink()
    shutil.rmtree(partial / "whisper")
    with pytest.raises(ModelsMissing) as caught:
        load_models(partial, device="cpu")
    message = str(caught.value)
    assert "musetalkV15/unet.pth" in message
    assert "whisper/preprocessor_config.json" in message
    assert "sd-vae" not in message
    with pytest.raises(ModelsMissing, match="directory itself"):
        load_models(tmp_path / "nowhere", device="cpu")


def test_weights_that_do_not_fit_the_config_are_refused(models_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "models"
    shutil.copytree(models_dir, other)
    config_path = other / "musetalkV15" / "musetalk.json"
    config = json.loads(config_path.read_text())
    config["block_out_channels"] = [16, 32]
    config_path.write_text(json.dumps(config))
    with pytest.raises(ModelsIncompatible, match="does not match musetalk.json"):
        load_models(other, device="cpu")


def test_unet_must_cross_attend_to_the_whisper_width(tmp_path: Path) -> None:
    root = save_official_layout(tmp_path / "models")
    wider = WhisperModel(WhisperConfig(**{**TINY.whisper, "d_model": 64}))
    wider.save_pretrained(root / "whisper")  # a Whisper of another size than the UNet's
    with pytest.raises(ModelsIncompatible, match="cross_attention_dim 32 differs"):
        load_models(root, device="cpu")


def test_availability_says_why_not(models_dir: Path, tmp_path: Path) -> None:
    assert musetalk_available(None) == (False, "MUSETALK_MODELS is not set")
    ok, why = musetalk_available(tmp_path / "absent")
    assert not ok and "does not exist" in why
    ok, why = musetalk_available(tmp_path)
    assert not ok and "musetalkV15/unet.pth" in why and "sd-vae/config.json" in why
    assert missing_pieces(models_dir) == []
    ok, why = musetalk_available(models_dir, require_cuda=False)
    assert ok, why
    ok, why = musetalk_available(str(models_dir))
    assert ok == torch.cuda.is_available()
    if not ok:
        assert "no CUDA device" in why


def test_the_official_bin_names_count_as_present(models_dir: Path, tmp_path: Path) -> None:
    official = tmp_path / "models"
    shutil.copytree(models_dir, official)
    # The download script fetches .bin files; save_pretrained wrote .safetensors.
    (official / "sd-vae" / "diffusion_pytorch_model.safetensors").rename(
        official / "sd-vae" / "diffusion_pytorch_model.bin"
    )
    (official / "whisper" / "model.safetensors").rename(official / "whisper" / "pytorch_model.bin")
    assert missing_pieces(official) == []
