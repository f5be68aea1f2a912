"""Renderer throughput: frames per second and ms per one-second chunk, single-threaded."""

from __future__ import annotations

import statistics
import time
from typing import Any

import cv2
import numpy as np

from lipsync_worker.contract import FPS, SAMPLE_RATE, Baked, LipSyncRenderer, StreamState


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllable-rate amplitude-modulated noise: the mouth opens and closes like in speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (rng.normal(0, 6000, t.size) * envelope).astype(np.int16)


def bench_renderer(
    renderer: LipSyncRenderer, baked: Baked, seconds: float = 10.0
) -> dict[str, Any]:
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # a per-core figure
    try:
        audio = speech_like(seconds)
        chunk_ms = []
        frames = 0
        started = time.perf_counter()
        for i in range(0, len(audio), SAMPLE_RATE):
            chunk_started = time.perf_counter()
            state = StreamState(
                turn_frame=i // (SAMPLE_RATE // FPS), left_audio=audio[max(0, i - SAMPLE_RATE) : i]
            )
            for batch in renderer.render(baked, audio[i : i + SAMPLE_RATE], state, lambda: False):
                frames += len(batch)
                crop = batch[0].box
            chunk_ms.append((time.perf_counter() - chunk_started) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        cv2.setNumThreads(threads)
    return {
        "renderer": renderer.kind,
        "frames": frames,
        "frames_per_second": round(frames / elapsed, 1),
        "realtime_factor": round(frames / elapsed / FPS, 2),
        "chunk_ms_p50": round(statistics.median(chunk_ms), 2),
        "chunk_ms_p95": round(sorted(chunk_ms)[int(0.95 * (len(chunk_ms) - 1))], 2),
        "crop": f"{crop.w}x{crop.h}",
        "threads": 1,
    }
