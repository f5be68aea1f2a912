"""The benchmark runs the real render path; here only as a CPU smoke test on tiny models."""

from __future__ import annotations

import torch

from lipsync_worker.renderers.musetalk.bench import TINY, main, measure, random_models


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
