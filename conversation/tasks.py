"""Celery tasks of the `speech` queue that belong to conversations."""

from __future__ import annotations

import logging

import numpy as np
from asgiref.sync import async_to_sync
from celery import shared_task, signals
from channels.layers import get_channel_layer
from django.conf import settings

from avatars.selectors import avatar_get
from contracts.messages import PRERENDER_TASK, TRANSCRIBE_TASK, AsrResult, TranscribeRequest
from conversation.asr.base import AsrError
from conversation.edge.prerender import prerender_answer
from conversation.voice import models

log = logging.getLogger(__name__)


@shared_task(name=PRERENDER_TASK)
def prerender_faq_clip(avatar_id: int, faq_entry_id: int) -> None:
    """Store the canned clip of one FAQ answer for one avatar (does nothing if it exists)."""
    avatar = avatar_get(avatar_id)
    if avatar is None:
        return
    # async_to_sync, not asyncio.run: the pipeline's database calls then run on this thread.
    stored = async_to_sync(prerender_answer)(avatar_slug=avatar.slug, faq_entry_id=faq_entry_id)
    log.info(
        "pre-render of FAQ entry %s for avatar %s: %s",
        faq_entry_id,
        avatar_id,
        "stored" if stored else "not stored",
    )


@shared_task(name=TRANSCRIBE_TASK, ignore_result=True)
def transcribe_utterance(**kwargs: object) -> None:
    """Recognise one utterance with this worker's resident model; answer on its channel."""
    request = TranscribeRequest.from_kwargs(kwargs)
    backend, _ = models.recognizer()
    try:
        result = backend.transcribe(
            np.frombuffer(request.audio, dtype=np.int16),
            language=request.language,
            hints=request.hints,
            alternatives=request.alternatives,
            other_languages=request.other_languages,
        )
        answer = AsrResult(
            request.request_id,
            text=result.text,
            language=result.language,
            alternatives=result.alternatives,
        )
    except AsrError as error:
        answer = AsrResult(request.request_id, error=str(error.kind))
    async_to_sync(get_channel_layer().send)(request.channel, answer.encode())


@signals.worker_ready.connect
def warm_speech(sender: object = None, **kwargs: object) -> None:
    """A speech worker that recognises utterances loads its model before the first one."""
    queues = {q.name for q in getattr(getattr(sender, "task_consumer", None), "queues", [])}
    if "speech" in queues and settings.ASR_LOCATION == "speech":
        _, reason = models.recognizer()
        log.info("speech worker warm: %s", reason)
