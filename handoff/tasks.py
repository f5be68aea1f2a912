"""Celery tasks of hand-offs (queue `speech`): the webhook delivery, retried with back-off."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from celery import Task, shared_task
from django.conf import settings

from contracts.messages import HANDOFF_WEBHOOK_TASK
from handoff import selectors, services, webhook

log = logging.getLogger(__name__)

DUE_TASK = "handoff.tasks.send_due_webhooks"


def backoff_s(attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: the base, doubled each time, at most 10 minutes."""
    return float(min(settings.HANDOFF_WEBHOOK_BACKOFF_S * 2 ** (attempt - 1), 600))


@shared_task(bind=True, name=HANDOFF_WEBHOOK_TASK, ignore_result=True, max_retries=None)
def deliver_webhook(self: Task, hand_off_id: str) -> None:
    """POST the hand-off to its avatar's webhook; on failure, again after a growing pause."""
    job = services.webhook_claim(hand_off_id=hand_off_id, retry=self.request.retries > 0)
    if job is None:
        return
    hand_off = selectors.handoff_get(hand_off_id)
    if hand_off is None:
        return
    body = json.dumps(selectors.webhook_payload(hand_off), separators=(",", ":")).encode()
    outcome = webhook.post(
        url=job.url,
        secret=job.secret,
        body=body,
        delivery=f"{hand_off_id}/{job.attempt}",
        timeout_s=job.timeout_s,
    )
    last = not outcome.delivered and job.attempt >= settings.HANDOFF_WEBHOOK_ATTEMPTS
    services.webhook_attempt_record(
        hand_off_id=hand_off_id,
        attempt=job.attempt,
        host=urlsplit(job.url).hostname or "",
        outcome=outcome,
        last=last,
    )
    log.info(
        "hand-off %s webhook attempt %d: %s",
        hand_off_id,
        job.attempt,
        outcome.status_code or outcome.error,
    )
    if not outcome.delivered and not last:
        raise self.retry(countdown=backoff_s(job.attempt))


@shared_task(name=DUE_TASK, ignore_result=True)
def send_due_webhooks() -> int:
    """Webhooks whose customer never answered the transcript question go out without it."""
    return services.webhooks_due()
