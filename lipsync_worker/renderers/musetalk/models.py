"""Load MuseTalk v1.5 from the official weight layout and run its VAE on face crops."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from transformers import WhisperFeatureExtractor, WhisperModel
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from lipsync_worker.renderers.musetalk.availability import (
    UNET_CONFIG,
    UNET_WEIGHTS,
    VAE_DIR,
    WHISPER_DIR,
    missing_pieces,
)


class ModelsMissing(FileNotFoundError):
    """The MuseTalk directory lacks a piece of the official layout; the message lists them all."""


class ModelsIncompatible(ValueError):
    """A piece is present but does not fit the others (wrong keys, mismatched dimensions)."""


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    # fp16 halves UNet latency on GPUs; CPU kernels are slow or missing for half.
    return torch.float16 if device.type == "cuda" else torch.float32


@dataclass(slots=True)
class MuseTalkModels:
    """The three networks MuseTalk needs, on one device in one dtype, in eval mode."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    whisper: WhisperEncoder
    feature_extractor: WhisperFeatureExtractor
    device: torch.device
    dtype: torch.dtype

    @property
    def audio_dim(self) -> int:
        return int(self.whisper.config.d_model)

    @property
    def latent_scale(self) -> float:
        return float(self.vae.config["scaling_factor"])

    def encode_crops(self, crops: np.ndarray) -> np.ndarray:
        """B x S x S x 3 uint8 RGB crops -> B x 4 x S/8 x S/8 float32 scaled latents.

        Uses the posterior mean rather than a sample so that bakes are reproducible.
        """
        pixels = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        pixels = pixels.permute(0, 3, 1, 2).to(self.dtype) / 127.5 - 1.0
        posterior = self.vae.encode(pixels).latent_dist
        latents = posterior.mode() * self.latent_scale
        return latents.float().cpu().numpy()

    def decode_latents(self, latents: torch.Tensor) -> np.ndarray:
        """B x 4 x h x w scaled latents -> B x 8h x 8w x 3 uint8 RGB."""
        images = self.vae.decode(latents.to(self.dtype) / self.latent_scale).sample
        images = ((images.float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        return images.permute(0, 2, 3, 1).cpu().numpy()


def place(module: torch.nn.Module, device: torch.device, dtype: torch.dtype) -> None:
    """Move to device and dtype, frozen, in eval mode."""
    # torch's own `to`: diffusers' override warns about fp32-pinned modules even when none exist.
    torch.nn.Module.to(module, device=device, dtype=dtype)
    module.eval()
    module.requires_grad_(False)


def load_models(
    models_dir: str | Path,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> MuseTalkModels:
    """Load UNet, VAE and Whisper encoder from `models_dir` (official MuseTalk layout)."""
    root = Path(models_dir)
    missing = missing_pieces(root) if root.is_dir() else ["the directory itself"]
    if missing:
        raise ModelsMissing(
            f"MuseTalk models in {root} are incomplete: missing {', '.join(missing)}"
        )
    torch_device = torch.device(device) if device is not None else default_device()
    torch_dtype = dtype if dtype is not None else default_dtype(torch_device)

    unet = load_unet(root / UNET_CONFIG, root / UNET_WEIGHTS)
    vae = AutoencoderKL.from_pretrained(root / VAE_DIR, local_files_only=True)
    whisper = WhisperModel.from_pretrained(root / WHISPER_DIR, local_files_only=True).get_encoder()
    feature_extractor = WhisperFeatureExtractor.from_pretrained(
        root / WHISPER_DIR, local_files_only=True
    )
    _check_fit(unet, vae, whisper)

    for module in (unet, vae, whisper):
        place(module, torch_device, torch_dtype)
    return MuseTalkModels(
        unet=unet,
        vae=vae,
        whisper=whisper,
        feature_extractor=feature_extractor,
        device=torch_device,
        dtype=torch_dtype,
    )


def unet_config(config_path: Path) -> dict[str, Any]:
    """musetalk.json without the bookkeeping keys (`_class_name`, `_diffusers_version`)."""
    raw = json.loads(config_path.read_text())
    return {key: value for key, value in raw.items() if not key.startswith("_")}


def load_unet(config_path: Path, weights_path: Path) -> UNet2DConditionModel:
    """Build the UNet from musetalk.json and load unet.pth (a plain state dict) into it."""
    # Built on the meta device and filled by assignment: no second copy of ~850M parameters.
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(unet_config(config_path))
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ModelsIncompatible(f"{weights_path} is not a state dict")
    try:
        unet.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise ModelsIncompatible(
            f"{weights_path} does not match {config_path.name}: {exc}"
        ) from exc
    return unet


def _check_fit(unet: UNet2DConditionModel, vae: AutoencoderKL, whisper: WhisperEncoder) -> None:
    audio_dim = int(whisper.config.d_model)
    cross_dim = int(unet.config["cross_attention_dim"])
    if cross_dim != audio_dim:
        raise ModelsIncompatible(
            f"UNet cross_attention_dim {cross_dim} differs from the Whisper encoder width {audio_dim}"
        )
    latent = int(vae.config["latent_channels"])
    channels = (int(unet.config["in_channels"]), int(unet.config["out_channels"]))
    if channels != (2 * latent, latent):
        raise ModelsIncompatible(
            f"UNet in/out channels {channels} do not fit a VAE with {latent} latent channels "
            f"(expected {(2 * latent, latent)})"
        )
