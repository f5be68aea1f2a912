"""Reads of hand-offs with a rule: an avatar's hand-off rules, the console's lists, the webhook
payload (the transcript only where the customer said yes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from handoff.models import HandOff, HandOffPolicy, TranscriptLine

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class HandOffRules:
    """An avatar's operator rules, read once when a session opens."""

    faq_entry_ids: frozenset[int] = frozenset()
    keywords: tuple[str, ...] = ()


def rules_for(avatar_id: int) -> HandOffRules:
    policy = (
        HandOffPolicy.objects.filter(avatar_id=avatar_id)
        .prefetch_related("always_faq_entries")
        .first()
    )
    if policy is None:
        return HandOffRules()
    return HandOffRules(
        faq_entry_ids=frozenset(entry.pk for entry in policy.always_faq_entries.all()),
        keywords=tuple(policy.keyword_list),
    )


def handoff_get(hand_off_id: str) -> HandOff | None:
    return HandOff.objects.select_related("avatar", "taken_by").filter(pk=hand_off_id).first()


def handoffs_open() -> QuerySet[HandOff]:
    """What the console lists: waiting and taken hand-offs, oldest first."""
    return (
        HandOff.objects.filter(status__in=[HandOff.Status.WAITING, HandOff.Status.TAKEN])
        .select_related("avatar", "taken_by")
        .order_by("created_at")
    )


def transcript_of(hand_off: HandOff) -> list[TranscriptLine]:
    """The shared conversation; empty without the customer's yes."""
    if hand_off.transcript_consent is not True:
        return []
    return list(hand_off.transcript.order_by("seq"))


def handoff_summary(hand_off: HandOff) -> dict[str, Any]:
    """A hand-off as the console and the webhook show it: never any customer text."""
    avatar = hand_off.avatar
    return {
        "id": str(hand_off.pk),
        "status": hand_off.status,
        "reason": hand_off.reason,
        "language": hand_off.language,
        "created_at": hand_off.created_at.isoformat(),
        "taken_at": hand_off.taken_at.isoformat() if hand_off.taken_at else None,
        "taken_by": hand_off.taken_by.get_username() if hand_off.taken_by else None,
        "avatar": {"slug": avatar.slug, "name": avatar.name} if avatar else None,
        "faq_topics": [
            {"id": entry.pk, "question": entry.question}
            for entry in hand_off.faq_topics.order_by("pk")
        ],
        "transcript_consent": hand_off.transcript_consent,
    }


def webhook_payload(hand_off: HandOff) -> dict[str, Any]:
    """The JSON body of the webhook (docs/handoff.md)."""
    transcript = None
    if hand_off.transcript_consent is True:
        transcript = [
            {"role": line.role, "text": line.text, "at": line.at.isoformat()}
            for line in transcript_of(hand_off)
        ]
    return {
        "version": PAYLOAD_VERSION,
        "event": "handoff.created",
        "handoff": handoff_summary(hand_off),
        "transcript": transcript,
    }
