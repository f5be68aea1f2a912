"""Turn records older than the retention period are deleted; newer ones are kept."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from avatars import services, tasks
from avatars.models import TurnRecord
from tests.avatars.factories import make_avatar

pytestmark = pytest.mark.django_db(transaction=True)


def turns_aged(*days: float) -> dict[float, uuid.UUID]:
    avatar = make_avatar()
    ids = {}
    for age in days:
        turn = TurnRecord.objects.create(
            turn_id=uuid.uuid4(),
            session_id=uuid.uuid4(),
            avatar=avatar,
            started_at=timezone.now() - timedelta(days=age),
        )
        ids[age] = turn.turn_id
    return ids


def kept() -> set[uuid.UUID]:
    return set(TurnRecord.objects.values_list("turn_id", flat=True))


def test_purge_deletes_only_records_older_than_the_period() -> None:
    ids = turns_aged(0, 29.9, 30.1, 400)
    assert services.turn_records_purge(older_than_days=30) == 2
    assert kept() == {ids[0], ids[29.9]}
    assert services.turn_records_purge(older_than_days=30) == 0


def test_zero_days_keeps_everything() -> None:
    turns_aged(0, 400)
    assert services.turn_records_purge(older_than_days=0) == 0
    assert TurnRecord.objects.count() == 2


@override_settings(TURN_RECORD_RETENTION_DAYS=7)
def test_daily_task_uses_the_setting() -> None:
    ids = turns_aged(1, 8)
    assert tasks.purge_turn_records() == 1
    assert kept() == {ids[1]}


@override_settings(TURN_RECORD_RETENTION_DAYS=7)
def test_management_command_uses_the_setting_or_days() -> None:
    ids = turns_aged(1, 3, 8)
    out = StringIO()
    call_command("purge_turn_records", stdout=out)
    assert "1 turn records older than 7 days deleted" in out.getvalue()
    assert kept() == {ids[1], ids[3]}
    call_command("purge_turn_records", "--days", "2", stdout=out)
    assert kept() == {ids[1]}
    with pytest.raises(CommandError):
        call_command("purge_turn_records", "--days", "0")


@override_settings(TURN_RECORD_RETENTION_DAYS=0)
def test_management_command_with_retention_off_deletes_nothing() -> None:
    turns_aged(1000)
    out = StringIO()
    call_command("purge_turn_records", stdout=out)
    assert "kept" in out.getvalue() and TurnRecord.objects.count() == 1
