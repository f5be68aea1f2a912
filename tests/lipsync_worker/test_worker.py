"""The lipsync worker for real: Celery, Redis, the channel layer and the CPU renderer."""

from __future__ import annotations

import io
import math
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management import call_command

from avatars import services
from avatars.models import Avatar
from avatarsite.infra.dispatch import cancel_turn, revoke_renders, send_render
from contracts.messages import RenderRequest
from contracts.phonemes import PhonemeSpan
from lipsync_worker.contract import StreamState
from lipsync_worker.renderers.cpu import CpuRenderer
from lipsync_worker.renderers.mouth import mouth_shapes
from lipsync_worker.wire import frames_messages
from tests.processes import wait_until
from tests.speech_audio import espeak_pcm16

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def bake_demo() -> Avatar:
    call_command("load_demo", stdout=io.StringIO())
    avatar = Avatar.objects.get(slug="demo")
    services.avatar_bake_request(avatar=avatar)

    def finished() -> bool:
        avatar.refresh_from_db()
        return avatar.status != Avatar.Status.BAKING

    wait_until(finished, 180, "bake finished")
    assert avatar.status == Avatar.Status.READY, avatar.status_reason
    return avatar


def receive(channel: str, timeout: float) -> dict | None:
    layer = get_channel_layer()

    async def get() -> dict | None:
        import asyncio

        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return None

    return async_to_sync(get)()


def render(
    channel: str,
    avatar: Avatar,
    turn_id: str,
    seq: int,
    audio: np.ndarray,
    phonemes: tuple[PhonemeSpan, ...] = (),
) -> str:
    return send_render(
        RenderRequest(
            channel=channel,
            avatar_id=avatar.pk,
            baked_checksum=avatar.baked_checksum,
            renderer=avatar.renderer_in_use,
            turn_id=turn_id,
            seq=seq,
            audio=audio.tobytes(),
            idle_start=0,
            turn_frame=0,
            left_audio=b"",
            phonemes=phonemes,
        )
    )


SPEECH = "Our store is open from nine to six, Monday to Saturday."
LONG_S = 180  # 4500 frames: the worker is busy for a while, even on a fast machine


def long_chunk(speech: np.ndarray) -> np.ndarray:
    return np.tile(speech, math.ceil(LONG_S * 16_000 / len(speech)))[: LONG_S * 16_000]


def wait_rendering(worker, turn_id: str) -> None:
    deadline = time.monotonic() + 60
    while f"rendering turn {turn_id} chunk 0" not in worker.output():
        assert time.monotonic() < deadline, worker.output()[-3000:]
        time.sleep(0.02)


def test_bake_the_demo_avatar_then_render_a_chunk(start_worker) -> None:
    start_worker("lipsync")
    avatar = bake_demo()
    assert avatar.renderer_in_use == "cpu" and avatar.renderer_reason
    baked_dir = Path(settings.PRIVATE_MEDIA_ROOT) / avatar.baked_path
    assert (baked_dir / "manifest.json").exists()
    public = Path(settings.MEDIA_ROOT) / avatar.idle_clip
    assert (public / "idle.webm").stat().st_size > 0 and (public / "idle.mp4").exists()
    assert avatar.geometry["fps"] == 25 and avatar.geometry["width"] > 0

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    audio = espeak_pcm16("Hello, how can I help you today?")[:16_000]
    render(channel, avatar, str(uuid.uuid4()), 0, audio)
    message = receive(channel, 60)
    assert message is not None and message["type"] == "lipsync.frames"
    assert message["parts"] == 1 and message["seq"] == 0
    assert len(message["jpegs"]) == math.ceil(len(audio) / 640)
    assert all(jpeg[:2] == b"\xff\xd8" for jpeg in message["jpegs"])

    # A loud vowel that loudness alone opens wide, spoken as "m": the phonemes close the lips.
    # The worker draws exactly what the renderer draws from those phonemes.
    tone = (8000 * np.sin(2 * np.pi * 180 * np.arange(16_000) / 16_000)).astype(np.int16)
    hum = (PhonemeSpan("m", 0, 16_000),)
    assert (
        mouth_shapes(tone)[5:, 0].min() > 0.5
        and mouth_shapes(tone, phonemes=hum)[5:, 0].max() < 0.05
    )
    jpegs = {}
    for spans in ((), hum):
        render(channel, avatar, str(uuid.uuid4()), 0, tone, spans)
        message = receive(channel, 60)
        assert message is not None and message["type"] == "lipsync.frames"
        jpegs[spans] = message["jpegs"]
    baked = CpuRenderer().load(baked_dir)
    frames = [
        f
        for b in CpuRenderer().render(baked, tone, StreamState(phonemes=hum), lambda: False)
        for f in b
    ]
    assert jpegs[hum] == list(frames_messages("t", 0, frames, 0.0)[0].jpegs)
    assert sum(a != b for a, b in zip(jpegs[()], jpegs[hum], strict=True)) > 15  # the mouth differs


def test_cancel_stops_a_chunk_midway_and_a_revoked_task_never_renders(
    start_worker, redis_client
) -> None:
    worker = start_worker("lipsync")
    avatar = bake_demo()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    speech = espeak_pcm16(SPEECH)
    short_chunk = speech[:8_000]
    turn_a, turn_b, turn_c = (str(uuid.uuid4()) for _ in range(3))

    render(channel, avatar, turn_a, 0, long_chunk(speech))
    revoked_id = render(channel, avatar, turn_b, 0, short_chunk)  # queued behind turn A
    revoke_renders([revoked_id])
    render(channel, avatar, turn_c, 0, short_chunk)
    wait_rendering(worker, turn_a)
    time.sleep(1.5)  # well into the chunk's 4500 frames (3.5 s at 1,300 frames/s), far from its end
    cancel_turn(turn_a)

    message = receive(channel, 60)
    assert message is not None and message["turn_id"] == turn_c  # A was cut, B never ran
    assert receive(channel, 2) is None
    log = worker.output()
    cut = [line for line in log.splitlines() if f"turn {turn_a} chunk 0 cancelled" in line]
    assert cut, log[-3000:]
    done, total = (int(n) for n in cut[0].rsplit("after ", 1)[1].split(" frames")[0].split(" of "))
    assert 0 < done < total == LONG_S * 25
    assert f"rendering turn {turn_b}" not in log  # revoked while queued: it never rendered


def test_a_busy_worker_takes_a_new_answers_first_chunk_before_later_chunks(
    start_worker, redis_client
) -> None:
    """Chunks are taken by how far into their answer they play, not in arrival order."""
    worker = start_worker("lipsync")
    avatar = bake_demo()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    speech = espeak_pcm16(SPEECH)
    busy, playing, new = (str(uuid.uuid4()) for _ in range(3))

    render(channel, avatar, busy, 0, long_chunk(speech))
    wait_rendering(worker, busy)
    for seq in (3, 4, 5):  # later chunks of an answer already playing...
        render(channel, avatar, playing, seq, speech[:8_000])
    render(channel, avatar, new, 0, speech[:8_000])  # ...then the first chunk of a new one
    cancel_turn(busy)

    order = []
    for _ in range(4):
        message = receive(channel, 60)
        assert message is not None and message["type"] == "lipsync.frames"
        order.append((message["turn_id"], message["seq"]))
    assert order == [(new, 0), (playing, 3), (playing, 4), (playing, 5)]


def test_a_batching_worker_renders_cpu_avatars_side_by_side_on_its_threads(
    start_worker, redis_client
) -> None:
    """The compose GPU worker's pool without MuseTalk (no GPU or no weights): the CPU renderer
    cannot share batches, so each task thread renders its own chunk beside the others."""
    worker = start_worker("lipsync", LIPSYNC_BATCH_CHUNKS="2")
    avatar = bake_demo()
    assert avatar.renderer_in_use == "cpu"
    layer = get_channel_layer()
    busy_channel, channel = (async_to_sync(layer.new_channel)() for _ in range(2))
    speech = espeak_pcm16(SPEECH)
    busy, other = str(uuid.uuid4()), str(uuid.uuid4())

    render(busy_channel, avatar, busy, 0, long_chunk(speech))
    wait_rendering(worker, busy)
    render(channel, avatar, other, 0, speech[:8_000])
    # A solo worker would finish the 4500 frames first: on threads the short chunk overtakes.
    message = receive(channel, 60)
    assert message is not None and message["turn_id"] == other and len(message["jpegs"]) == 13
    cancel_turn(busy)  # the cancel key still stops a chunk midway on a thread
    assert receive(busy_channel, 5) is None
    log = worker.output()
    assert "concurrency: 2 (thread)" in log
    assert "in batches shared" not in log  # one chunk at a time per thread, no render loop
    cut = [line for line in log.splitlines() if f"turn {busy} chunk 0 cancelled" in line]
    assert cut, log[-3000:]
