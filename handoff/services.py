"""Changes to hand-offs: open, consent, transcript, take, give back, abandon, webhook, retention.

Every rule about a hand-off is here: who may take it (one person, only while it waits), what is
stored of the conversation (nothing without the customer's yes), when the webhook goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from avatars.models import FAQEntry
from avatarsite.celery import app as celery_app
from contracts.messages import HANDOFF_WEBHOOK_TASK
from handoff import metrics
from handoff.models import HandOff, HandOffPolicy, TranscriptLine, WebhookAttempt
from handoff.webhook import Outcome

log = logging.getLogger(__name__)


class HandOffUnavailable(Exception):
    """The hand-off cannot be taken or given back by this person now (say why, in plain words)."""


def _send_webhook(hand_off_id: str) -> None:
    transaction.on_commit(
        lambda: celery_app.send_task(HANDOFF_WEBHOOK_TASK, kwargs={"hand_off_id": hand_off_id})
    )


@transaction.atomic
def handoff_open(
    *,
    avatar_id: int,
    session_id: str,
    channel_name: str,
    reason: str,
    language: str,
    faq_entry_ids: Sequence[int] = (),
) -> HandOff:
    """A new ticket, waiting; its webhook goes out once the customer answered the transcript
    question, or after HANDOFF_CONSENT_WAIT_S without an answer (`webhooks_due`)."""
    policy = HandOffPolicy.objects.filter(avatar_id=avatar_id).first()
    hooked = policy is not None and bool(policy.webhook_url)
    hand_off = HandOff(
        avatar_id=avatar_id,
        session_id=session_id,
        channel_name=channel_name,
        reason=reason,
        language=language,
        webhook=HandOff.Webhook.PENDING if hooked else HandOff.Webhook.NONE,
    )
    hand_off.full_clean()
    hand_off.save()
    if faq_entry_ids:  # entries deleted since the session read them are left out
        hand_off.faq_topics.set(FAQEntry.objects.filter(pk__in=faq_entry_ids))
    metrics.OPENED.labels(reason).inc()
    log.info("hand-off %s opened (%s)", hand_off.pk, reason)
    return hand_off


@transaction.atomic
def handoff_consent_record(
    *, hand_off_id: str, given: bool, lines: Sequence[tuple[str, str]] = ()
) -> HandOff:
    """The customer's answer to "may I share our conversation?". The first answer counts.

    With yes, `lines` ((role, text), the conversation so far) become the transcript; with no,
    nothing of the conversation is stored. A pending webhook goes out now."""
    hand_off = HandOff.objects.select_for_update().get(pk=hand_off_id)
    if hand_off.transcript_consent is not None:
        return hand_off
    hand_off.transcript_consent = given
    hand_off.consent_at = timezone.now()
    hand_off.save(update_fields=["transcript_consent", "consent_at"])
    if given:
        TranscriptLine.objects.bulk_create(
            TranscriptLine(hand_off=hand_off, seq=seq, role=role, text=text, at=hand_off.consent_at)
            for seq, (role, text) in enumerate(lines)
        )
    if hand_off.webhook == HandOff.Webhook.PENDING:
        _send_webhook(str(hand_off.pk))
    return hand_off


@transaction.atomic
def handoff_transcript_append(*, hand_off_id: str, role: str, text: str) -> bool:
    """Add a line to a shared transcript; False (nothing stored) without the customer's yes."""
    hand_off = HandOff.objects.select_for_update().get(pk=hand_off_id)
    if hand_off.transcript_consent is not True or hand_off.transcript_purged_at is not None:
        return False
    last = hand_off.transcript.aggregate(last=Max("seq"))["last"]
    TranscriptLine.objects.create(
        hand_off=hand_off,
        seq=0 if last is None else last + 1,
        role=role,
        text=text,
        at=timezone.now(),
    )
    return True


@transaction.atomic
def handoff_take(*, hand_off_id: str, user: Any) -> HandOff:
    """One person takes a waiting hand-off; anyone else gets HandOffUnavailable."""
    hand_off = HandOff.objects.select_for_update().get(pk=hand_off_id)
    if hand_off.status != HandOff.Status.WAITING:
        taken = hand_off.status == HandOff.Status.TAKEN
        raise HandOffUnavailable("Someone else took it already." if taken else "It has ended.")
    hand_off.status = HandOff.Status.TAKEN
    hand_off.taken_by = user
    hand_off.taken_at = timezone.now()
    hand_off.save(update_fields=["status", "taken_by", "taken_at"])
    metrics.TIME_TO_TAKE.observe((hand_off.taken_at - hand_off.created_at).total_seconds())
    return hand_off


@transaction.atomic
def handoff_give_back(*, hand_off_id: str, user: Any) -> HandOff:
    """The person who took it ends the take-over: closed, and the avatar answers again."""
    hand_off = HandOff.objects.select_for_update().get(pk=hand_off_id)
    if hand_off.status != HandOff.Status.TAKEN or hand_off.taken_by_id != user.pk:
        raise HandOffUnavailable("Only the person who took it can give it back.")
    return _end(hand_off, HandOff.Status.CLOSED)


@transaction.atomic
def handoff_abandon(*, hand_off_id: str) -> HandOff | None:
    """The customer left: an open hand-off ends as abandoned. None if it had ended already."""
    hand_off = HandOff.objects.select_for_update().get(pk=hand_off_id)
    if not hand_off.open:
        return None
    return _end(hand_off, HandOff.Status.ABANDONED)


def _end(hand_off: HandOff, status: str) -> HandOff:
    hand_off.status = status
    hand_off.closed_at = timezone.now()
    hand_off.channel_name = ""
    hand_off.save(update_fields=["status", "closed_at", "channel_name"])
    metrics.ENDED.labels(status).inc()
    if status == HandOff.Status.CLOSED:
        metrics.TIME_TO_CLOSE.observe((hand_off.closed_at - hand_off.created_at).total_seconds())
    return hand_off


def webhooks_due(*, at: datetime | None = None) -> int:
    """Send the webhooks still waiting for an answer HANDOFF_CONSENT_WAIT_S after their
    hand-off opened (run by beat every few seconds); returns how many were sent."""
    cutoff = (at or timezone.now()) - timedelta(seconds=settings.HANDOFF_CONSENT_WAIT_S)
    due = HandOff.objects.filter(webhook=HandOff.Webhook.PENDING, created_at__lte=cutoff)
    ids = [str(pk) for pk in due.values_list("pk", flat=True)[:500]]
    for hand_off_id in ids:
        celery_app.send_task(HANDOFF_WEBHOOK_TASK, kwargs={"hand_off_id": hand_off_id})
    return len(ids)


@dataclass(frozen=True)
class WebhookJob:
    url: str
    secret: str
    timeout_s: float
    attempt: int  # 1 for the first POST


@transaction.atomic
def webhook_claim(*, hand_off_id: str, retry: bool) -> WebhookJob | None:
    """The delivery to make now, or None when there is none (delivered, given up, no webhook).

    A pending delivery is claimed once: the early send (consent answered) and the late one
    (the consent wait ran out) never both post; only the claimer's retries go on."""
    hand_off = HandOff.objects.select_for_update().filter(pk=hand_off_id).first()
    wanted = HandOff.Webhook.SENDING if retry else HandOff.Webhook.PENDING
    if hand_off is None or hand_off.webhook != wanted:
        return None
    policy = None
    if hand_off.avatar_id is not None:
        policy = HandOffPolicy.objects.filter(avatar_id=hand_off.avatar_id).first()
    if policy is None or not policy.webhook_url:
        hand_off.webhook = HandOff.Webhook.NONE
        hand_off.save(update_fields=["webhook"])
        return None
    hand_off.webhook = HandOff.Webhook.SENDING
    hand_off.save(update_fields=["webhook"])
    return WebhookJob(
        url=policy.webhook_url,
        secret=policy.webhook_secret,
        timeout_s=policy.webhook_timeout_s,
        attempt=hand_off.attempts.count() + 1,
    )


@transaction.atomic
def webhook_attempt_record(
    *, hand_off_id: str, attempt: int, host: str, outcome: Outcome, last: bool
) -> None:
    """Every attempt is kept (the admin shows them); the hand-off says where delivery stands."""
    WebhookAttempt.objects.create(
        hand_off_id=hand_off_id,
        number=attempt,
        at=timezone.now(),
        host=host[:255],
        status_code=outcome.status_code,
        error=outcome.error,
        duration_ms=outcome.duration_ms,
        delivered=outcome.delivered,
    )
    metrics.WEBHOOK_ATTEMPTS.labels("delivered" if outcome.delivered else "failed").inc()
    if outcome.delivered:
        state = HandOff.Webhook.DELIVERED
    else:
        state = HandOff.Webhook.FAILED if last else HandOff.Webhook.SENDING
    HandOff.objects.filter(pk=hand_off_id).update(webhook=state)


def transcripts_purge(*, older_than_days: int, at: datetime | None = None) -> int:
    """Delete the transcripts of hand-offs opened more than `older_than_days` ago; returns how
    many lines went. The hand-off rows stay (they hold no customer text)."""
    if older_than_days <= 0:
        return 0
    now = at or timezone.now()
    cutoff = now - timedelta(days=older_than_days)
    deleted = 0
    while True:
        batch = list(
            TranscriptLine.objects.filter(hand_off__created_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:2000]
        )
        if not batch:
            break
        deleted += TranscriptLine.objects.filter(pk__in=batch).delete()[0]
    HandOff.objects.filter(
        created_at__lt=cutoff, transcript_consent=True, transcript_purged_at__isnull=True
    ).update(transcript_purged_at=now)
    return deleted
