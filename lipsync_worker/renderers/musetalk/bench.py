"""Frames per second of the MuseTalk render path at several batch sizes, on random weights.

    python -m lipsync_worker.renderers.musetalk.bench --device cuda            # full-size, fp16
    python -m lipsync_worker.renderers.musetalk.bench --device cpu --tiny      # smoke test of the path

Random weights cost the same time as trained ones, so a GPU box needs no download to answer
"how many avatars can this card drive in real time". It prints one JSON line per batch size
(frames per second of one chunk rendered in batches of that size), the face crops per second
JPEG encoding keeps up with inline, on four threads and on the GPU (torchvision, where
installed), then, with `--sessions`,
one per count of simulated speaking sessions fed through the cross-session batcher (late chunks,
chunk latency p50/p95), and last the most sessions served without a late chunk.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

from lipsync_worker.contract import FPS, SAMPLE_RATE, Baked, Box, StreamState
from lipsync_worker.renderers.musetalk.models import (
    MuseTalkModels,
    default_dtype,
    load_models,
    place,
)
from lipsync_worker.renderers.musetalk.renderer import CROP_SIZE, MuseTalkRenderer
from lipsync_worker.renderers.musetalk.session_load import most_sessions
from lipsync_worker.wire import JPEG_QUALITY, encode_jpeg


@dataclass(frozen=True)
class ModelConfigs:
    """Constructor arguments of the three networks and of the Whisper feature extractor."""

    unet: dict[str, Any]
    vae: dict[str, Any]
    whisper: dict[str, Any]
    feature_extractor: dict[str, Any] = field(default_factory=dict)


# musetalkV15/musetalk.json, sd-vae-ft-mse's config.json and openai/whisper-tiny's config.json.
FULL = ModelConfigs(
    unet={
        "act_fn": "silu",
        "attention_head_dim": 8,
        "block_out_channels": [320, 640, 1280, 1280],
        "center_input_sample": False,
        "cross_attention_dim": 384,
        "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
        "downsample_padding": 1,
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "in_channels": 8,
        "layers_per_block": 2,
        "mid_block_scale_factor": 1,
        "norm_eps": 1e-05,
        "norm_num_groups": 32,
        "out_channels": 4,
        "sample_size": 64,
        "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    },
    vae={
        "act_fn": "silu",
        "block_out_channels": [128, 256, 512, 512],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "in_channels": 3,
        "latent_channels": 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "out_channels": 3,
        "sample_size": 256,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
    whisper={
        "d_model": 384,
        "encoder_layers": 4,
        "encoder_attention_heads": 6,
        "encoder_ffn_dim": 1536,
        "decoder_layers": 4,
        "decoder_attention_heads": 6,
        "decoder_ffn_dim": 1536,
        "num_mel_bins": 80,
        "max_source_positions": 1500,
    },
    feature_extractor={"feature_size": 80, "chunk_length": 30},
)

# Same architecture families, small enough for CPU tests: 2 s Whisper windows (100 positions).
TINY = ModelConfigs(
    unet={
        "attention_head_dim": 8,
        "block_out_channels": [32, 64],
        "cross_attention_dim": 32,
        # Attention only at 16 x 16: self-attention over 32 x 32 tokens is slow on CPU.
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
        "in_channels": 8,
        "layers_per_block": 1,
        "norm_num_groups": 8,
        "out_channels": 4,
        "sample_size": 32,
        "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"],
    },
    vae={
        "block_out_channels": [8, 8, 16, 16],
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "latent_channels": 4,
        "layers_per_block": 1,
        "norm_num_groups": 4,
        "sample_size": 256,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
    },
    whisper={
        "d_model": 32,
        "encoder_layers": 2,
        "encoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_layers": 1,
        "decoder_attention_heads": 2,
        "decoder_ffn_dim": 64,
        "num_mel_bins": 80,
        "max_source_positions": 100,
        "max_target_positions": 16,
        "vocab_size": 64,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "decoder_start_token_id": 3,
        "suppress_tokens": [],
        "begin_suppress_tokens": None,
    },
    feature_extractor={"feature_size": 80, "chunk_length": 2},
)


def build_networks(
    configs: ModelConfigs, seed: int = 0
) -> tuple[UNet2DConditionModel, AutoencoderKL, WhisperModel, WhisperFeatureExtractor]:
    """Randomly initialised UNet, VAE, whole Whisper model and feature extractor, on CPU."""
    torch.manual_seed(seed)
    return (
        UNet2DConditionModel(**configs.unet),
        AutoencoderKL(**configs.vae),
        WhisperModel(WhisperConfig(**configs.whisper)),
        WhisperFeatureExtractor(**configs.feature_extractor),
    )


def random_models(
    configs: ModelConfigs, device: torch.device, dtype: torch.dtype | None = None, seed: int = 0
) -> MuseTalkModels:
    unet, vae, whisper, extractor = build_networks(configs, seed)
    torch_dtype = dtype or default_dtype(device)
    encoder = whisper.get_encoder()
    for module in (unet, vae, encoder):
        place(module, device, torch_dtype)
    return MuseTalkModels(unet, vae, encoder, extractor, device, torch_dtype)


def synthetic_baked(cycle: int = 50, size: int = 512, seed: int = 0) -> Baked:
    """An idle cycle of noise frames with a centred face box and random latents."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (cycle, size, size, 3), dtype=np.uint8)
    side = size // 2
    boxes = [Box(side // 2, side // 2, side, side)] * cycle
    latent = CROP_SIZE // 8
    arrays = {
        "masked_latents": rng.standard_normal((cycle, 4, latent, latent)).astype(np.float32),
        "reference_latents": rng.standard_normal((cycle, 4, latent, latent)).astype(np.float32),
        "mask": np.ones((CROP_SIZE, CROP_SIZE), np.float32),
    }
    return Baked("musetalk", frames, boxes, arrays, {}, Path("."))


@dataclass(frozen=True)
class BenchResult:
    batch_size: int
    frames: int
    fps: float
    first_batch_ms: float
    realtime_factor: float  # frames rendered per second / 25


def measure(
    models: MuseTalkModels, batch_size: int, seconds: float = 2.0, repeats: int = 3
) -> BenchResult:
    """Render `seconds` of noise audio (with a second of left context) `repeats` times."""
    renderer = MuseTalkRenderer(models, batch_size=batch_size)
    baked = synthetic_baked()
    rng = np.random.default_rng(1)
    audio = rng.integers(-8000, 8000, int(seconds * SAMPLE_RATE), dtype=np.int16)
    state = StreamState(turn_frame=FPS, left_audio=audio[:SAMPLE_RATE])
    for _ in renderer.render(baked, audio, state, lambda: False):  # warm-up: kernels, allocator
        pass
    frames, first, elapsed = 0, [], 0.0
    for _ in range(repeats):
        _sync(models.device)
        start = time.perf_counter()
        for i, batch in enumerate(renderer.render(baked, audio, state, lambda: False)):
            frames += len(batch)
            if i == 0:
                first.append(time.perf_counter() - start)
        _sync(models.device)
        elapsed += time.perf_counter() - start
    fps = frames / elapsed
    return BenchResult(batch_size, frames, fps, 1000 * float(np.median(first)), fps / FPS)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def jpeg_fps(
    frames: int = 200, threads: int = 4, side: int = 256, seed: int = 0
) -> dict[str, float | None]:
    """Face crops JPEG-encoded per second: inline on one thread, by `threads` threads (as a
    batching worker's task threads encode their chunks' frames side by side; OpenCV releases
    the GIL), and on the GPU by torchvision's nvJPEG encoder where CUDA and torchvision are
    there (None otherwise)."""
    rng = np.random.default_rng(seed)
    crops = rng.integers(0, 256, (frames, side, side, 3), dtype=np.uint8)
    started = time.perf_counter()
    for crop in crops:
        encode_jpeg(crop)
    inline = frames / (time.perf_counter() - started)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(encode_jpeg, crops))
    pooled = frames / (time.perf_counter() - started)
    return {"inline": inline, f"threads_{threads}": pooled, "cuda": _cuda_jpeg_fps(crops)}


def _cuda_jpeg_fps(crops: np.ndarray) -> float | None:
    """The same crops encoded in one call of `torchvision.io.encode_jpeg` on CUDA."""
    if not torch.cuda.is_available():
        return None
    try:
        io: Any = importlib.import_module("torchvision.io")
    except ImportError:
        return None
    device = torch.device("cuda")
    images = [torch.from_numpy(c).permute(2, 0, 1).contiguous().to(device) for c in crops]
    io.encode_jpeg(images[:4], quality=JPEG_QUALITY)  # warm-up: nvJPEG's handles
    torch.cuda.synchronize(device)
    started = time.perf_counter()
    io.encode_jpeg(images, quality=JPEG_QUALITY)
    torch.cuda.synchronize(device)
    return len(images) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> list[BenchResult]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    parser.add_argument(
        "--sessions",
        type=int,
        nargs="*",
        default=[],
        help="counts of simulated 25 fps speaking sessions to try, e.g. 4 8 16 24 32",
    )
    parser.add_argument("--session-seconds", type=int, default=5)
    parser.add_argument("--max-frames", type=int, default=32, help="cross-session batch size")
    parser.add_argument("--gather-ms", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="tiny random models (CPU smoke)")
    parser.add_argument("--models-dir", help="load real weights from here instead")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if args.models_dir:
        models = load_models(args.models_dir, device=device)
    else:
        models = random_models(TINY if args.tiny else FULL, device)
    where = {"device": str(device), "dtype": str(models.dtype)}
    results = []
    for batch_size in args.batch_sizes:
        result = measure(models, batch_size, args.seconds, args.repeats)
        print(json.dumps({**where, **asdict(result)}))
        results.append(result)
    print(json.dumps({**where, **{f"jpeg_fps_{k}": v for k, v in jpeg_fps().items()}}))
    if args.sessions:
        baked = synthetic_baked()
        renderer = MuseTalkRenderer(models)
        best, loads = most_sessions(
            renderer,
            baked,
            args.sessions,
            seconds=args.session_seconds,
            max_frames=args.max_frames,
            gather_s=args.gather_ms / 1000,
        )
        for load in loads:
            print(json.dumps({**where, **asdict(load)}))
        memory = _memory(baked, renderer)
        print(json.dumps({**where, "sessions_without_a_late_chunk": best, **memory}))
    return results


def _memory(baked: Baked, renderer: MuseTalkRenderer) -> dict[str, float | None]:
    """Memory of one resident avatar: its bake in host memory, its latents on the device; and
    the GPU's peak."""
    peak = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    avatars = len(renderer.latents.keys())
    on_device = renderer.latents.used_bytes() / avatars / 2**20 if avatars else None
    return {
        "resident_avatar_mb": baked.nbytes() / 2**20,
        "device_latents_per_avatar_mb": on_device,
        "gpu_peak_mb": peak,
    }


if __name__ == "__main__":
    main()
