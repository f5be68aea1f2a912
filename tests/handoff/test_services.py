"""Hand-off rules: nothing of the conversation without a yes, one taker, the customer leaving."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from avatars.models import FAQEntry
from contracts.messages import HANDOFF_WEBHOOK_TASK
from handoff import selectors, services
from handoff.models import HandOff, HandOffPolicy, TranscriptLine
from tests.avatars.factories import make_avatar
from tests.handoff.conftest import make_agent, open_handoff

pytestmark = pytest.mark.django_db(transaction=True)

LINES = [("customer", "my parcel 4471 never came"), ("avatar", "Let me pass you to a colleague.")]


def test_a_new_hand_off_waits_and_holds_no_customer_text() -> None:
    avatar = make_avatar()
    entry = FAQEntry.objects.create(question="Where is my order?", answer="It ships today.")
    hand_off = open_handoff(avatar, faq_entry_ids=[entry.pk], language="ja")

    hand_off.refresh_from_db()
    assert hand_off.status == HandOff.Status.WAITING and hand_off.open
    assert hand_off.transcript_consent is None
    assert hand_off.webhook == HandOff.Webhook.NONE  # the avatar has no webhook
    assert list(hand_off.faq_topics.all()) == [entry]
    assert selectors.transcript_of(hand_off) == []
    assert not TranscriptLine.objects.exists()


def test_yes_stores_exactly_the_turns_so_far_and_later_lines() -> None:
    hand_off = open_handoff()
    services.handoff_consent_record(hand_off_id=str(hand_off.pk), given=True, lines=LINES)
    assert services.handoff_transcript_append(
        hand_off_id=str(hand_off.pk), role="customer", text="are you there?"
    )

    hand_off.refresh_from_db()
    assert hand_off.transcript_consent is True and hand_off.consent_at is not None
    got = [(line.seq, line.role, line.text) for line in selectors.transcript_of(hand_off)]
    assert got == [(0, *LINES[0]), (1, *LINES[1]), (2, "customer", "are you there?")]


def test_no_stores_nothing_and_the_first_answer_counts() -> None:
    hand_off = open_handoff()
    services.handoff_consent_record(hand_off_id=str(hand_off.pk), given=False, lines=LINES)
    services.handoff_consent_record(hand_off_id=str(hand_off.pk), given=True, lines=LINES)
    stored = services.handoff_transcript_append(
        hand_off_id=str(hand_off.pk), role="customer", text="hello?"
    )

    hand_off.refresh_from_db()
    assert hand_off.transcript_consent is False and not stored
    assert not TranscriptLine.objects.exists()
    assert selectors.webhook_payload(hand_off)["transcript"] is None


def test_two_agents_cannot_take_the_same_hand_off() -> None:
    hand_off = open_handoff()
    first, second = make_agent("first"), make_agent("second")

    services.handoff_take(hand_off_id=str(hand_off.pk), user=first)
    with pytest.raises(services.HandOffUnavailable, match="took it already"):
        services.handoff_take(hand_off_id=str(hand_off.pk), user=second)
    with pytest.raises(services.HandOffUnavailable):
        services.handoff_give_back(hand_off_id=str(hand_off.pk), user=second)

    hand_off.refresh_from_db()
    assert hand_off.status == HandOff.Status.TAKEN and hand_off.taken_by == first
    closed = services.handoff_give_back(hand_off_id=str(hand_off.pk), user=first)
    assert closed.status == HandOff.Status.CLOSED and closed.closed_at is not None
    assert closed.channel_name == ""


def test_a_customer_who_leaves_abandons_an_open_hand_off_only() -> None:
    waiting, closed = open_handoff(), open_handoff()
    agent = make_agent()
    services.handoff_take(hand_off_id=str(closed.pk), user=agent)
    services.handoff_give_back(hand_off_id=str(closed.pk), user=agent)

    assert services.handoff_abandon(hand_off_id=str(waiting.pk)) is not None
    assert services.handoff_abandon(hand_off_id=str(closed.pk)) is None

    waiting.refresh_from_db()
    closed.refresh_from_db()
    assert waiting.status == HandOff.Status.ABANDONED
    assert closed.status == HandOff.Status.CLOSED
    with pytest.raises(services.HandOffUnavailable, match="ended"):
        services.handoff_take(hand_off_id=str(waiting.pk), user=agent)


def test_rules_of_an_avatar() -> None:
    avatar = make_avatar()
    entry = FAQEntry.objects.create(question="Cancel my contract", answer="…")
    policy = HandOffPolicy.objects.create(avatar=avatar, always_keywords="complaint\n\n lawyer \n")
    policy.always_faq_entries.add(entry)

    rules = selectors.rules_for(avatar.pk)

    assert rules.faq_entry_ids == frozenset({entry.pk})
    assert rules.keywords == ("complaint", "lawyer")
    assert selectors.rules_for(make_avatar("other").pk) == selectors.HandOffRules()


def queued_ids(redis_client) -> list[str]:
    """Hand-off ids of the webhook deliveries waiting on the speech queue."""
    found = []
    for raw in redis_client.lrange("speech", 0, -1):
        message = json.loads(raw)
        if message["headers"]["task"] == HANDOFF_WEBHOOK_TASK:
            found.append(message["headers"]["kwargsrepr"].split("'")[3])
    return found


def test_the_webhook_goes_when_consent_is_answered_or_the_wait_ran_out(redis_client) -> None:
    avatar = make_avatar()
    HandOffPolicy.objects.create(avatar=avatar, webhook_url="https://hooks.example.com/in")
    answered, unanswered, recent = open_handoff(avatar), open_handoff(avatar), open_handoff(avatar)
    silent = open_handoff()  # its avatar has no webhook
    assert queued_ids(redis_client) == []  # nothing goes before the answer or the wait

    services.handoff_consent_record(hand_off_id=str(answered.pk), given=False)
    assert queued_ids(redis_client) == [str(answered.pk)]

    an_hour_ago = timezone.now() - timedelta(hours=1)
    HandOff.objects.filter(pk__in=[unanswered.pk, silent.pk]).update(created_at=an_hour_ago)
    assert services.webhooks_due() == 1
    assert sorted(queued_ids(redis_client)) == sorted([str(answered.pk), str(unanswered.pk)])
    assert recent.webhook == HandOff.Webhook.PENDING


def test_a_delivery_is_claimed_once() -> None:
    avatar = make_avatar()
    HandOffPolicy.objects.create(avatar=avatar, webhook_url="https://hooks.example.com/in")
    hand_off = open_handoff(avatar)

    job = services.webhook_claim(hand_off_id=str(hand_off.pk), retry=False)
    assert job is not None and job.attempt == 1 and job.timeout_s == 5.0
    assert services.webhook_claim(hand_off_id=str(hand_off.pk), retry=False) is None
    assert services.webhook_claim(hand_off_id=str(hand_off.pk), retry=True) is not None


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_operators_see_counts_by_reason_and_times_to_take_and_close() -> None:
    before = {
        "opened": sample("avatar_handoffs_total", reason="repeated"),
        "taken": sample("avatar_handoff_time_to_take_seconds_count"),
        "closed": sample("avatar_handoff_time_to_close_seconds_count"),
        "abandoned": sample("avatar_handoffs_ended_total", status="abandoned"),
    }
    agent = make_agent()
    kept, left = open_handoff(reason="repeated"), open_handoff(reason="repeated")
    services.handoff_take(hand_off_id=str(kept.pk), user=agent)
    services.handoff_give_back(hand_off_id=str(kept.pk), user=agent)
    services.handoff_abandon(hand_off_id=str(left.pk))

    assert sample("avatar_handoffs_total", reason="repeated") == before["opened"] + 2
    assert sample("avatar_handoff_time_to_take_seconds_count") == before["taken"] + 1
    assert sample("avatar_handoff_time_to_close_seconds_count") == before["closed"] + 1
    assert sample("avatar_handoffs_ended_total", status="abandoned") == before["abandoned"] + 1
