"""Shared transcripts are deleted by the daily retention task after their own period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from avatars import tasks
from handoff import services
from handoff.models import HandOff, TranscriptLine
from tests.handoff.conftest import open_handoff

pytestmark = pytest.mark.django_db(transaction=True)


def shared_aged(days: float) -> HandOff:
    hand_off = open_handoff()
    services.handoff_consent_record(
        hand_off_id=str(hand_off.pk), given=True, lines=[("customer", f"aged {days}")]
    )
    HandOff.objects.filter(pk=hand_off.pk).update(created_at=timezone.now() - timedelta(days=days))
    return hand_off


@override_settings(HANDOFF_TRANSCRIPT_RETENTION_DAYS=7, TURN_RECORD_RETENTION_DAYS=30)
def test_the_daily_task_deletes_transcripts_past_their_own_period() -> None:
    old, recent = shared_aged(8), shared_aged(6)

    tasks.purge_turn_records()

    assert list(TranscriptLine.objects.values_list("text", flat=True)) == ["aged 6"]
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.transcript_purged_at is not None and recent.transcript_purged_at is None
    assert HandOff.objects.count() == 2  # the tickets stay: they hold no customer text
    assert not services.handoff_transcript_append(
        hand_off_id=str(old.pk), role="customer", text="too late"
    )


@override_settings(HANDOFF_TRANSCRIPT_RETENTION_DAYS=0)
def test_zero_keeps_transcripts() -> None:
    shared_aged(400)
    tasks.purge_turn_records()
    assert TranscriptLine.objects.count() == 1
