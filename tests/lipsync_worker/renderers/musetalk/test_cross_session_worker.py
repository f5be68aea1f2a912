"""A batching lipsync worker for real: Celery with a thread per chunk, Redis, the channel layer and
MuseTalk on tiny random models. Sessions' chunks share batches; cancel and revoke still hold."""

from __future__ import annotations

import hashlib
import io
import shutil
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management import call_command
from prometheus_client.parser import text_string_to_metric_families

from avatars import services
from avatars.models import Avatar
from avatarsite.infra.dispatch import cancel_turn, revoke_renders, send_render
from contracts.messages import FramesReady, RenderRequest
from lipsync_worker.contract import Baked
from tests.environment import free_port
from tests.lipsync_worker.test_worker import receive, render
from tests.processes import Process

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def musetalk_avatar(baked: Baked) -> Avatar:
    """The demo avatar, ready with the tiny MuseTalk bake where a worker finds baked avatars."""
    call_command("load_demo", stdout=io.StringIO())
    avatar = Avatar.objects.get(slug="demo")
    relative = f"baked/{avatar.pk}/{uuid.uuid4().hex}"
    shutil.copytree(baked.out_dir, Path(settings.PRIVATE_MEDIA_ROOT) / relative)
    checksum = hashlib.sha256((baked.out_dir / "manifest.json").read_bytes()).hexdigest()
    return services.avatar_bake_finished(
        avatar_id=avatar.pk,
        renderer="musetalk",
        renderer_reason="tiny random MuseTalk models",
        baked_path=relative,
        checksum=checksum,
        geometry={},
        idle_clip="",
    )


def wait_for(worker: Process, text: str) -> None:
    deadline = time.monotonic() + 120
    while text not in worker.output():
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.02)


def scrape(port: int) -> dict[str, float]:
    """The worker's own /metrics, as Prometheus reads it: sample name -> value (unlabelled)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        body = response.read().decode()
    return {
        s.name: s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if not s.labels
    }


def second_chunk(channel: str, avatar: Avatar, turn_id: str, audio: np.ndarray) -> None:
    """The turn's chunk after a first chunk of 10 frames: due 0.4 s after that one was sent."""
    request = RenderRequest(
        channel=channel,
        avatar_id=avatar.pk,
        baked_checksum=avatar.baked_checksum,
        renderer=avatar.renderer_in_use,
        turn_id=turn_id,
        seq=1,
        audio=audio.tobytes(),
        idle_start=0,
        turn_frame=10,
    )
    send_render(request)


def test_cross_session_worker_cancels_one_session_and_serves_the_others(
    start_worker, redis_client, baked: Baked, models_dir: Path, speech: np.ndarray
) -> None:
    avatar = musetalk_avatar(baked)
    layer = get_channel_layer()
    cut, first, later, revoked = (str(uuid.uuid4()) for _ in range(4))
    channels = {turn: async_to_sync(layer.new_channel)() for turn in (cut, first, later, revoked)}
    # Queued before the worker starts, so it takes them together: a minute of speech that a
    # barge-in cuts, a new answer's first chunk, a later chunk of another answer, and a chunk
    # revoked while it waits.
    render(channels[cut], avatar, cut, 0, np.tile(speech, 50))
    render(channels[first], avatar, first, 0, speech[:6_400])
    render(channels[later], avatar, later, 3, speech)
    revoke_renders([render(channels[revoked], avatar, revoked, 0, speech[:6_400])])
    port = free_port()
    worker = start_worker(
        "lipsync",
        MUSETALK_MODELS=str(models_dir),
        LIPSYNC_BATCH_CHUNKS="4",
        LIPSYNC_BATCH_FRAMES="16",
        LIPSYNC_BATCH_GATHER_MS="50",
        LIPSYNC_METRICS_PORT=str(port),
    )
    wait_for(worker, f"rendering turn {cut} chunk 0: 1500 frames in batches shared")
    cancel_turn(cut)

    for turn, seq, count in ((first, 0, 10), (later, 3, 30)):
        message = receive(channels[turn], 120)
        assert message is not None and message["type"] == "lipsync.frames", worker.output()[-3000:]
        frames = FramesReady.decode(message)
        assert (frames.seq, frames.parts, len(frames.jpegs)) == (seq, 1, count)
        assert all(jpeg[:2] == b"\xff\xd8" for jpeg in frames.jpegs)
        if turn == first:  # its answer goes on: the next chunk is timed against this one
            second_chunk(channels[first], avatar, first, speech[:6_400])
    message = receive(channels[first], 120)
    assert message is not None and FramesReady.decode(message).seq == 1, worker.output()[-3000:]
    assert receive(channels[cut], 3) is None  # not a frame of the cancelled chunk left
    assert receive(channels[revoked], 1) is None
    log = worker.output()
    assert "concurrency: 4 (thread)" in log
    cancelled = [line for line in log.splitlines() if f"turn {cut} chunk 0 cancelled" in line]
    assert cancelled and cancelled[0].endswith("of 1500 frames"), log[-3000:]
    assert f"rendering turn {revoked}" not in log  # revoked while queued: it never rendered

    # What Prometheus scrapes from the worker after these renders.
    metrics = scrape(port)
    assert metrics["lipsync_batch_frames_count"] >= 1
    assert metrics["lipsync_batch_frames_sum"] >= 10 + 30 + 10
    assert metrics["lipsync_queue_wait_ms_count"] >= 3  # the cut chunk may never have waited
    assert metrics["lipsync_chunks_timed_total"] == 1  # the only chunk after its turn's first
    assert metrics["lipsync_late_chunks_total"] in (0, 1)
    assert metrics["lipsync_device_latents_avatars"] == 1
