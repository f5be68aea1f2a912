"""Celery tasks of the `speech` queue that belong to conversations."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from celery import shared_task

from avatars.models import Avatar
from conversation.prerender import prerender_answer

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
