"""Periodic tasks of the `speech` queue, scheduled by Celery beat: consent expiry and retention."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from avatars import services
from handoff import services as handoff_services

log = logging.getLogger(__name__)

EXPIRY_TASK = "avatars.tasks.withdraw_expired_consent"
RETENTION_TASK = "avatars.tasks.purge_turn_records"


@shared_task(name=EXPIRY_TASK, ignore_result=True)
def withdraw_expired_consent() -> list[int]:
    """Withdraw avatars whose consent has expired: purge clips and artifacts, end sessions."""
    return services.consent_expiry_sweep()


@shared_task(name=RETENTION_TASK, ignore_result=True)
def purge_turn_records() -> int:
    """The daily retention: turn records older than TURN_RECORD_RETENTION_DAYS, and hand-off
    transcripts older than HANDOFF_TRANSCRIPT_RETENTION_DAYS, are deleted."""
    deleted = services.turn_records_purge(older_than_days=settings.TURN_RECORD_RETENTION_DAYS)
    log.info(
        "retention: %d turn records older than %d days deleted",
        deleted,
        settings.TURN_RECORD_RETENTION_DAYS,
    )
    days = settings.HANDOFF_TRANSCRIPT_RETENTION_DAYS
    lines = handoff_services.transcripts_purge(older_than_days=days)
    log.info("retention: %d hand-off transcript lines older than %d days deleted", lines, days)
    return deleted
