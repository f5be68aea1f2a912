"""The webhook over a real Celery worker and a local receiver that checks every signature:
a signed payload arrives, a 500 is retried with back-off, every attempt is kept, a receiver
that finds a wrong signature refuses it, and the payload holds customer text exactly when the
customer said yes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async

from avatars.models import FAQEntry
from conversation.handoff.phrases import Reason, handoff_line
from conversation.protocol import HandOffConsent, Text
from handoff.models import HandOff, HandOffPolicy, WebhookAttempt
from tests.avatars.factories import make_avatar
from tests.handoff.receiver import Receiver
from tests.handoff.sessions import Customer, EntryMatcher, play
from tests.processes import wait_until

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

HOURS = "When are you open?"
PLANTED = "my parcel 4471 never came"
SECRET = "whsec-test-1"
WORKER_ENV = {
    "DEBUG": "1",  # http to this machine is allowed in development only
    "HANDOFF_WEBHOOK_BACKOFF_S": "0.3",
    "HANDOFF_WEBHOOK_ATTEMPTS": "3",
}


def hand_off_with_answer(
    receiver_url: str, *, consent: bool, until: Callable[[], object], secret: str = SECRET
) -> None:
    """A customer is handed off, answers the transcript question, and stays until `until`."""
    hours = FAQEntry.objects.create(question=HOURS, answer="We open at nine.")
    avatar = make_avatar()
    HandOffPolicy.objects.create(avatar=avatar, webhook_url=receiver_url, webhook_secret=secret)
    customer = Customer(avatar, faq=EntryMatcher(hours), llm=None)

    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text=HOURS))
        await customer.say(Text(type="text", text=PLANTED))
        hand_off_id = str(customer.of_type("handoff")[0]["handoff_id"])
        answer = HandOffConsent(type="handoff_consent", handoff_id=hand_off_id, consent=consent)
        await customer.say(answer, until="handoff")
        await database_sync_to_async(wait_until)(until, 30, "the webhook's deliveries")
        await customer.leave()

    play(scenario())


def attempts() -> list[tuple[int, int | None, bool]]:
    return list(WebhookAttempt.objects.values_list("number", "status_code", "delivered"))


def test_signed_payload_without_consent_carries_no_customer_text_and_is_retried(
    start_worker,
) -> None:
    start_worker("speech", **WORKER_ENV)
    with Receiver(secret=SECRET, answers=[500]) as receiver:
        hand_off_with_answer(receiver.url, consent=False, until=lambda: len(attempts()) == 2)

    first, second = receiver.deliveries
    assert first.signed and second.signed
    assert first.body == second.body  # the same delivery, tried again
    assert PLANTED.encode() not in first.body and b"4471" not in first.body
    payload = first.payload
    hand_off = HandOff.objects.get()
    assert payload["event"] == "handoff.created" and payload["transcript"] is None
    assert payload["handoff"]["id"] == str(hand_off.pk)
    assert payload["handoff"]["reason"] == "no_answer"
    assert payload["handoff"]["transcript_consent"] is False
    assert payload["handoff"]["faq_topics"] == [
        {"id": payload["handoff"]["faq_topics"][0]["id"], "question": HOURS}
    ]
    assert attempts() == [(1, 500, False), (2, 200, True)]
    assert hand_off.webhook == HandOff.Webhook.DELIVERED


def test_with_consent_the_payload_holds_exactly_the_turns_so_far(start_worker) -> None:
    start_worker("speech", **WORKER_ENV)
    with Receiver(secret=SECRET) as receiver:
        hand_off_with_answer(receiver.url, consent=True, until=lambda: receiver.deliveries)

    delivery = receiver.deliveries[0]
    assert delivery.signed
    assert [(t["role"], t["text"]) for t in delivery.payload["transcript"]] == [
        ("customer", HOURS),
        ("avatar", "We open at nine."),
        ("customer", PLANTED),
        ("avatar", handoff_line(Reason.NO_ANSWER, "en")),
    ]
    assert json.loads(delivery.body)["handoff"]["transcript_consent"] is True


def test_a_receiver_refuses_a_wrong_signature_until_the_attempts_run_out(start_worker) -> None:
    start_worker("speech", **WORKER_ENV)
    with Receiver(secret="the receiver's own secret") as receiver:
        hand_off_with_answer(
            receiver.url, consent=False, secret=SECRET, until=lambda: len(attempts()) == 3
        )

    assert [d.signed for d in receiver.deliveries] == [False, False, False]
    assert attempts() == [(1, 401, False), (2, 401, False), (3, 401, False)]
    assert HandOff.objects.get().webhook == HandOff.Webhook.FAILED
