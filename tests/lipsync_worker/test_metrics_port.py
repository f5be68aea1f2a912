"""A lipsync worker serves its Prometheus metrics on LIPSYNC_METRICS_PORT; a port already taken
is logged and stops nothing."""

from __future__ import annotations

import logging
import urllib.request

import pytest

from lipsync_worker.tasks import serve_metrics
from tests.environment import free_port


def test_the_worker_serves_its_metrics_and_a_taken_port_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    serve_metrics(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    for name in ("lipsync_batch_frames_bucket", "lipsync_queue_wait_ms_count",
                 "lipsync_late_chunks_total", "lipsync_device_latents_bytes"):  # fmt: skip
        assert name in body
    with caplog.at_level(logging.ERROR, logger="lipsync_worker.tasks"):
        serve_metrics(port)  # taken now: by the server above
    assert f"not served on port {port}" in caplog.text
    serve_metrics(0)  # 0: not served, nothing to log
