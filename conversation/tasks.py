"""Celery tasks of the `speech` queue that belong to conversations."""

from __future__ import annotations

import logging

import numpy as np
from asgiref.sync import async_to_sync
from celery import shared_task, signals
from channels.layers import get_channel_layer
from django.conf import settings

from avatars.models import Avatar
from conversation.asr.base import AsrError
from conversation.edge.prerender import prerender_answer
from conversation.voice import models

log = logging.getLogger(__name__)


@shared_task(name="conversation.tasks.prerender_faq_clip")
def prerender_faq_clip(avatar_id: int, faq_entry_id: int) -> None:
    """Store the canned clip of one FAQ answer for one avatar (does nothing if it exists)."""
    avatar = Avatar.objects.filter(pk=avatar_id).only("slug").first()
    if avatar is None:
        return
    # async_to_sync, not asyncio.run: the pipeline's database calls then run on this thread.
    stored = async_to_sync(prerender_answer)(avatar_slug=avatar.slug, faq_entry_id=faq_entry_id)
    log.info("pre-render of FAQ entry %s for avatar %s: %s", faq_entry_id, avatar_id,
             "stored" if stored else "not stored")


@shared_task(name="conversation.tasks.transcribe_utterance", ignore_result=True)
def transcribe_utterance(
    *, channel: str, request_id: str, audio: bytes, language: str | None, hints: list[str]
) -> None:
    """Recognise one utterance with this worker's resident model; answer on `channel`."""
    backend, _ = models.recognizer()
    message: dict[str, object] = {"type": "asr.result", "request_id": request_id}
    try:
        result = backend.transcribe(
            np.frombuffer(audio, dtype=np.int16), language=language, hints=tuple(hints)
        )
        message.update(text=result.text, language=result.language)
    except AsrError as error:
        message["error"] = str(error.kind)
    async_to_sync(get_channel_layer().send)(channel, message)


def enqueue_transcription(**kwargs: object) -> str:
    """Queue a recognition; Flower and logs see sizes, never the audio."""
    audio = kwargs["audio"]
    shown = {"request_id": kwargs["request_id"], "audio": f"<{len(audio)} bytes>"}  # type: ignore[arg-type]
    result = transcribe_utterance.apply_async(kwargs=kwargs, argsrepr="()", kwargsrepr=repr(shown))
    return str(result.id)


@signals.worker_ready.connect
def warm_speech(sender: object = None, **kwargs: object) -> None:
    """A speech worker that recognises utterances loads its model before the first one."""
    queues = {q.name for q in getattr(getattr(sender, "task_consumer", None), "queues", [])}
    if "speech" in queues and settings.ASR_LOCATION == "speech":
        _, reason = models.recognizer()
        log.info("speech worker warm: %s", reason)
