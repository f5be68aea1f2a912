"""Can this worker run MuseTalk? Weights in the official layout and a CUDA device, or why not."""

from __future__ import annotations

import os
from pathlib import Path

import torch

MODELS_ENV = "MUSETALK_MODELS"

UNET_WEIGHTS = Path("musetalkV15/unet.pth")
UNET_CONFIG = Path("musetalkV15/musetalk.json")
VAE_DIR = Path("sd-vae")
WHISPER_DIR = Path("whisper")

# Each piece is present when any one of its alternatives is (.bin from the official download
# script, .safetensors from save_pretrained).
_PIECES: dict[str, tuple[Path, ...]] = {
    "UNet weights": (UNET_WEIGHTS,),
    "UNet config": (UNET_CONFIG,),
    "VAE config": (VAE_DIR / "config.json",),
    "VAE weights": (
        VAE_DIR / "diffusion_pytorch_model.safetensors",
        VAE_DIR / "diffusion_pytorch_model.bin",
    ),
    "Whisper config": (WHISPER_DIR / "config.json",),
    "Whisper weights": (WHISPER_DIR / "model.safetensors", WHISPER_DIR / "pytorch_model.bin"),
    "Whisper feature extractor": (WHISPER_DIR / "preprocessor_config.json",),
}


def models_dir_from_env() -> Path | None:
    """The directory named by MUSETALK_MODELS, or None when the variable is unset or empty."""
    value = os.environ.get(MODELS_ENV, "").strip()
    return Path(value) if value else None


def missing_pieces(models_dir: Path) -> list[str]:
    """Human-readable names (with the expected path) of every piece absent from `models_dir`."""
    missing = []
    for name, alternatives in _PIECES.items():
        if not any((models_dir / rel).is_file() for rel in alternatives):
            expected = " or ".join(str(rel) for rel in alternatives)
            missing.append(f"{name} ({expected})")
    return missing


def musetalk_available(
    models_dir: str | Path | None, *, require_cuda: bool = True
) -> tuple[bool, str]:
    """Whether MuseTalk can run here, and a sentence for the worker log saying why (not)."""
    if models_dir is None or str(models_dir) == "":
        return False, f"{MODELS_ENV} is not set"
    root = Path(models_dir)
    if not root.is_dir():
        return False, f"{MODELS_ENV} directory {root} does not exist"
    missing = missing_pieces(root)
    if missing:
        return False, f"MuseTalk weights incomplete in {root}: missing " + ", ".join(missing)
    if require_cuda and not torch.cuda.is_available():
        return False, "no CUDA device (MuseTalk is too slow for real time on CPU)"
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return True, f"MuseTalk weights found in {root}, running on {device}"
