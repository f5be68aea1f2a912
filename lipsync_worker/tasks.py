"""Celery tasks of the `lipsync` queue: bake an avatar; render one audio chunk of a turn.

Tasks are thin: they take ids and bytes, call the renderer, and report through the avatars
services (bakes) or the channel layer (frames). The renderers themselves know nothing of
Celery or Django.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import redis
from asgiref.sync import async_to_sync
from celery import shared_task, signals
from channels.layers import get_channel_layer
from django.conf import settings
from prometheus_client import start_http_server

from avatarsite.infra import redis_clients
from contracts.messages import BAKE_TASK, RENDER_TASK, RenderFailed, RenderRequest
from lipsync_worker import artifacts, baking, selection
from lipsync_worker.cancel import should_skip, turn_cancelled
from lipsync_worker.contract import (
    Baked,
    BakeError,
    BakeSource,
    LipSyncRenderer,
    RenderCancelled,
    RenderedFrame,
    StreamState,
    frames_for_samples,
)
from lipsync_worker.renderers.metrics import LateChunks
from lipsync_worker.renderers.musetalk.batching import BatchRenderer, CrossSessionBatcher
from lipsync_worker.resident import ResidentAvatars
from lipsync_worker.wire import frames_messages

log = logging.getLogger(__name__)

_resident = ResidentAvatars(budget_bytes=settings.LIPSYNC_MEMORY_MB * 1024 * 1024)
_renderers: dict[str, LipSyncRenderer] = {}
_batchers: dict[str, CrossSessionBatcher] = {}
_loading = threading.Lock()  # task threads of a batching worker ask for a renderer at once
_late = LateChunks()


def _renderer(kind: str) -> LipSyncRenderer:
    """One renderer instance per kind per worker: models load once, not per chunk."""
    with _loading:
        if kind not in _renderers:
            _renderers[kind] = selection.build(
                kind, settings.MUSETALK_MODELS, device_memory_mb=settings.LIPSYNC_DEVICE_MEMORY_MB
            )
        return _renderers[kind]


def _batcher(kind: str) -> CrossSessionBatcher | None:
    """The worker's shared render loop for `kind` when it batches chunks across sessions
    (LIPSYNC_BATCH_CHUNKS task threads) and the renderer can; else None: one chunk at a time."""
    backend = _renderer(kind)
    if settings.LIPSYNC_BATCH_CHUNKS <= 0 or not isinstance(backend, BatchRenderer):
        return None
    with _loading:
        if kind not in _batchers:
            _batchers[kind] = CrossSessionBatcher(
                backend,
                max_frames=settings.LIPSYNC_BATCH_FRAMES,
                gather_s=settings.LIPSYNC_BATCH_GATHER_MS / 1000,
            )
        return _batchers[kind]


def _private(relative: str) -> Path:
    return Path(settings.PRIVATE_MEDIA_ROOT) / relative


@shared_task(name=BAKE_TASK)
def bake_avatar(avatar_id: int) -> None:
    from avatars import services
    from avatars.selectors import avatar_get, avatar_has_valid_consent

    avatar = avatar_get(avatar_id)
    if avatar is None:
        return
    if not avatar_has_valid_consent(avatar):
        services.avatar_bake_failed(avatar_id=avatar_id, reason="No valid consent record.")
        return
    relative = f"baked/{avatar_id}/{uuid.uuid4().hex}"
    out_dir = _private(relative)
    started = time.perf_counter()
    try:
        choice = selection.choose(avatar.renderer, settings.MUSETALK_MODELS)
        log.info("baking avatar %s with %s (%s)", avatar_id, choice.kind, choice.reason)
        renderer = _renderer(choice.kind)
        source = BakeSource(
            path=Path(avatar.source_media.path), out_dir=out_dir, params=avatar.bake_params
        )
        baked = renderer.bake(source)
        artifacts.add_files(out_dir, list(baking.encode_idle_clip(baked.frames, out_dir)))
    except BakeError as error:
        shutil.rmtree(out_dir, ignore_errors=True)
        log.info("bake of avatar %s failed: %s", avatar_id, error.code)
        services.avatar_bake_failed(avatar_id=avatar_id, reason=error.message)
        return
    except Exception:
        shutil.rmtree(out_dir, ignore_errors=True)
        log.exception("bake of avatar %s crashed", avatar_id)
        services.avatar_bake_failed(
            avatar_id=avatar_id, reason="The bake stopped on an internal error; see the worker log."
        )
        return
    checksum = hashlib.sha256((out_dir / "manifest.json").read_bytes()).hexdigest()
    public = _publish_idle_clip(avatar_id, checksum, out_dir)
    previous = avatar.baked_path
    services.avatar_bake_finished(
        avatar_id=avatar_id,
        renderer=choice.kind,
        renderer_reason=choice.reason,
        baked_path=relative,
        checksum=checksum,
        geometry=_geometry(baked),
        idle_clip=public,
    )
    if previous and previous != relative:
        shutil.rmtree(_private(previous), ignore_errors=True)
    log.info("baked avatar %s in %.1f s", avatar_id, time.perf_counter() - started)


def _publish_idle_clip(avatar_id: int, checksum: str, out_dir: Path) -> str:
    """Copy the idle clip and poster where browsers load them; the path changes per bake."""
    relative = f"avatars/{avatar_id}/{checksum[:16]}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.mkdir(parents=True, exist_ok=True)
    for name in baking.IDLE_FILES:
        if (out_dir / name).exists():
            shutil.copyfile(out_dir / name, target / name)
    return relative


def _geometry(baked: Baked) -> dict[str, Any]:
    width, height = baked.size
    crop = baked.face_boxes[0] if baked.face_boxes else None
    return {
        "width": width,
        "height": height,
        "fps": 25,
        "idle_frames": baked.frame_count,
        "crop_size": crop.w if crop else None,
        "face_box": [crop.x, crop.y, crop.w, crop.h] if crop else None,
        "renderer": baked.renderer,
    }


def resident_baked(avatar_id: int, baked_checksum: str) -> Baked:
    def load() -> Baked:
        from avatars.selectors import avatar_get_baked

        avatar = avatar_get_baked(avatar_id, baked_checksum)
        return _renderer(avatar.renderer_in_use).load(_private(avatar.baked_path))

    return _resident.get((avatar_id, baked_checksum), load)


@shared_task(name=RENDER_TASK, ignore_result=True, bind=True)
def render_chunk(self: Any, **kwargs: Any) -> None:
    """Render the frames of one audio chunk and send them to the session's channel."""
    request = RenderRequest.from_kwargs(kwargs)
    turn_id, seq = request.turn_id, request.seq
    client = redis_clients.sync_client()
    try:
        if should_skip(client, turn_id, self.request.id):
            log.info("turn %s chunk %s skipped: cancelled or revoked", turn_id, seq)
            return
    except redis.RedisError as error:
        return _redis_away(turn_id, seq, error)
    layer = get_channel_layer()
    started = time.perf_counter()
    frames: list[RenderedFrame] = []
    total = 0
    try:
        baked = resident_baked(request.avatar_id, request.baked_checksum)
        state = StreamState(
            idle_start=request.idle_start,
            turn_frame=request.turn_frame,
            left_audio=np.frombuffer(request.left_audio, dtype=np.int16),
            right_audio=np.frombuffer(request.right_audio, dtype=np.int16),
            phonemes=request.phonemes,
        )
        pcm = np.frombuffer(request.audio, dtype=np.int16)
        total = frames_for_samples(len(pcm))
        batcher = _batcher(request.renderer)
        shared = " in batches shared across sessions" if batcher else ""
        log.info(
            "rendering turn %s chunk %s: %d frames%s, %d phonemes",
            turn_id,
            seq,
            total,
            shared,
            len(request.phonemes),
        )

        def cancelled() -> bool:
            return turn_cancelled(client, turn_id)

        batches = (
            batcher.render(baked, pcm, state, cancelled, priority=request.priority)
            if batcher
            else _renderer(request.renderer).render(baked, pcm, state, cancelled)
        )
        for batch in batches:
            frames.extend(batch)
    except RenderCancelled:
        log.info(
            "turn %s chunk %s cancelled after %d of %d frames", turn_id, seq, len(frames), total
        )
        return
    except redis.RedisError as error:  # the cancel check between batches
        return _redis_away(turn_id, seq, error)
    except Exception as error:
        log.exception("render of avatar %s chunk %s failed", request.avatar_id, seq)
        failed = RenderFailed(turn_id=turn_id, seq=seq, reason=type(error).__name__)
        async_to_sync(layer.send)(request.channel, failed.encode())
        return
    render_ms = (time.perf_counter() - started) * 1000
    try:
        if turn_cancelled(client, turn_id):
            return
        for message in frames_messages(turn_id, seq, frames, render_ms):
            async_to_sync(layer.send)(request.channel, message.encode())
    except redis.RedisError as error:
        _redis_away(turn_id, seq, error)
        return
    if _late.sent(turn_id, request.turn_frame):
        log.info("turn %s chunk %s was late", turn_id, seq)


def _redis_away(turn_id: str, seq: int, error: redis.RedisError) -> None:
    """Redis restarting: the chunk is dropped; its session plays it as audio over the idle loop."""
    log.warning(
        "turn %s chunk %s dropped: Redis unreachable (%s)", turn_id, seq, type(error).__name__
    )


@signals.worker_ready.connect
def warm_up(sender: Any = None, **_: Any) -> None:
    """Load ready avatars into memory before the lipsync worker takes its first chunk."""
    queues = {q.name for q in getattr(getattr(sender, "task_consumer", None), "queues", [])}
    if "lipsync" not in queues:
        return
    serve_metrics(settings.LIPSYNC_METRICS_PORT)
    from avatars.selectors import avatars_baked_ready

    for avatar in avatars_baked_ready():
        try:
            resident_baked(avatar.pk, avatar.baked_checksum)
        except Exception:
            log.exception("could not load baked avatar %s at start", avatar.pk)
    log.info("lipsync worker warm: %d avatars resident", len(_resident.keys()))


def serve_metrics(port: int) -> None:
    """The worker's Prometheus metrics over HTTP (renderers/metrics.py and the process's own):
    one process, whichever pool, so its default registry holds them all. 0: not served."""
    if port <= 0:
        return
    try:
        start_http_server(port)
    except OSError as error:  # the port is taken: the worker renders on, unwatched
        log.error("lipsync metrics not served on port %d: %s", port, error)
        return
    log.info("lipsync metrics on port %d at /metrics", port)
