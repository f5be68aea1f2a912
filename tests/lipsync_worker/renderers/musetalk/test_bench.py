"""The benchmark runs the real render path; here only as a CPU smoke test on tiny models."""

from __future__ import annotations

import torch

from lipsync_worker.contract import Baked
from lipsync_worker.renderers.musetalk.bench import TINY, jpeg_fps, main, measure, random_models
from lipsync_worker.renderers.musetalk.renderer import MuseTalkRenderer
from lipsync_worker.renderers.musetalk.session_load import most_sessions


def test_measures_frames_per_second_at_each_batch_size() -> None:
    models = random_models(TINY, torch.device("cpu"))
    result = measure(models, batch_size=4, seconds=0.2, repeats=1)
    assert result.frames == 5
    assert result.fps > 0 and result.first_batch_ms > 0
    assert result.realtime_factor == result.fps / 25


def test_command_line_smoke() -> None:
    argv = [
        "--device",
        "cpu",
        "--tiny",
        "--batch-sizes",
        "2",
        "--seconds",
        "0.12",
        "--repeats",
        "1",
    ]
    results = main(argv)
    assert [(r.batch_size, r.frames) for r in results] == [(2, 3)]


def test_cross_session_load_counts_chunks_latencies_and_late_ones(
    renderer: MuseTalkRenderer, baked: Baked
) -> None:
    """Two sessions of two 1 s chunks each through the batcher (the CPU may be late: no verdict)."""
    best, (first, *rest) = most_sessions(renderer, baked, [2, 4], seconds=2, max_frames=8)
    assert (first.sessions, first.chunks) == (2, 4)
    assert 0 < first.p50_ms <= first.p95_ms
    assert 0 < first.mean_batch_frames <= 8 and first.fps > 0
    # it stops at the first count with a late chunk, and keeps the last count without one
    if first.late_chunks:
        assert (best, rest) == (0, [])
    else:
        assert len(rest) == 1 and best == (2 if rest[0].late_chunks else 4)


def test_jpeg_encoding_is_measured_inline_on_threads_and_on_the_gpu_where_there_is_one() -> None:
    rates = jpeg_fps(frames=8, threads=2, side=64)
    assert set(rates) == {"inline", "threads_2", "cuda"}
    assert (rates["inline"] or 0) > 0 and (rates["threads_2"] or 0) > 0
    if not torch.cuda.is_available():
        assert rates["cuda"] is None  # nvJPEG needs a GPU (and torchvision)
