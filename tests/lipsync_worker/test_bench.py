"""The benchmark reports what it measured, on one thread, and leaves OpenCV as it found it."""

from __future__ import annotations

import cv2

from lipsync_worker.bench import bench_renderer
from lipsync_worker.contract import Baked
from lipsync_worker.renderers.cpu import CpuRenderer


def test_bench_reports_frames_chunk_times_and_crop(cpu_baked: Baked) -> None:
    threads = cv2.getNumThreads()
    result = bench_renderer(CpuRenderer(), cpu_baked, seconds=3.0)
    assert cv2.getNumThreads() == threads
    assert result["frames"] == 75 and result["threads"] == 1
    assert result["frames_per_second"] > 0
    assert 0 < result["chunk_ms_p50"] <= result["chunk_ms_p95"]
    x0, y0, x1, y1 = cpu_baked.arrays["mouth_region"]
    assert result["crop"] == f"{x1 - x0}x{y1 - y0}"  # the mouth region, not the whole face
