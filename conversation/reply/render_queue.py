"""Lip-sync through Celery: one task per chunk, sent by name; a turn is cancelled by its Redis
key and by revoking its queued tasks."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from avatarsite.infra import dispatch, redis_clients
from contracts.messages import CANCEL_TTL_S, RenderRequest, cancel_key
from conversation.avatar import AvatarRuntime
from conversation.reply.audio_chunks import LipSyncChunk

log = logging.getLogger(__name__)

# Publishing to the broker is blocking I/O: one thread keeps it off the event loop and in order.
_publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lipsync-publish")


class CeleryRenderQueue:
    """Chunks of one session go to the `lipsync` queue; frames come back to `channel`."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def submit(
        self,
        *,
        avatar: AvatarRuntime,
        turn_id: UUID,
        seq: int,
        chunk: LipSyncChunk,
        idle_start: int,
    ) -> str:
        request = RenderRequest(
            channel=self.channel,
            avatar_id=avatar.id,
            baked_checksum=avatar.baked_checksum,
            renderer=avatar.renderer,
            turn_id=str(turn_id),
            seq=seq,
            audio=chunk.pcm.tobytes(),
            idle_start=idle_start,
            turn_frame=chunk.first_frame,
            left_audio=chunk.left_audio.tobytes(),
            right_audio=chunk.right_audio.tobytes(),
            phonemes=chunk.phonemes,
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_publisher, dispatch.send_render, request)

    async def cancel(self, *, turn_id: UUID, task_ids: list[str]) -> None:
        """Workers check the key between batches; revoked tasks still queued never start.

        Best effort: with Redis away the renders run on, and the session's gate drops their media.
        """
        try:
            await redis_clients.async_client().set(cancel_key(str(turn_id)), b"1", ex=CANCEL_TTL_S)
            if task_ids:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(_publisher, dispatch.revoke_renders, task_ids)
        except (RedisError, KombuError) as error:
            log.warning("renders of turn %s not cancelled (%s)", turn_id, type(error).__name__)
