"""The transcript question: one tap (or a spoken yes or no); with yes the ticket holds exactly
the conversation so far and what follows, with no it holds none of it."""

from __future__ import annotations

import logging

import pytest

from avatars.models import FAQEntry
from conversation.handoff.phrases import Reason, handoff_line
from conversation.protocol import HandOffConsent, Text
from handoff import selectors
from handoff.models import HandOff, TranscriptLine
from tests.avatars.factories import make_avatar
from tests.handoff.sessions import Customer, EntryMatcher, play

pytestmark = pytest.mark.django_db(transaction=True)

HOURS = "When are you open?"
PLANTED = "my parcel 4471 never came"


@pytest.fixture
def customer() -> Customer:
    hours = FAQEntry.objects.create(question=HOURS, answer="We open at nine.")
    return Customer(make_avatar(), faq=EntryMatcher(hours), llm=None)


async def up_to_the_question(customer: Customer) -> str:
    customer.start()
    await customer.say(Text(type="text", text=HOURS))
    await customer.say(Text(type="text", text=PLANTED))
    return str(customer.of_type("handoff")[0]["handoff_id"])


def test_yes_shares_exactly_the_turns_so_far_then_each_new_one(customer: Customer) -> None:
    async def scenario() -> None:
        hand_off_id = await up_to_the_question(customer)
        await customer.say(
            HandOffConsent(type="handoff_consent", handoff_id=hand_off_id, consent=True),
            until="handoff",
        )
        await customer.say(Text(type="text", text=HOURS))
        await customer.leave()

    play(scenario())
    hand_off = HandOff.objects.get()
    assert hand_off.transcript_consent is True
    assert [(t.role, t.text) for t in selectors.transcript_of(hand_off)] == [
        ("customer", HOURS),
        ("avatar", "We open at nine."),
        ("customer", PLANTED),
        ("avatar", handoff_line(Reason.NO_ANSWER, "en")),
        ("customer", HOURS),  # after the yes, each turn is added as it comes
        ("avatar", "We open at nine."),
    ]
    assert customer.of_type("handoff")[-1]["consent"] is True


def test_no_keeps_every_customer_word_out_of_the_ticket(customer: Customer) -> None:
    async def scenario() -> None:
        hand_off_id = await up_to_the_question(customer)
        await customer.say(
            HandOffConsent(type="handoff_consent", handoff_id=hand_off_id, consent=False),
            until="handoff",
        )
        await customer.say(Text(type="text", text=HOURS))
        await customer.leave()

    play(scenario())
    hand_off = HandOff.objects.get()
    assert hand_off.transcript_consent is False and hand_off.consent_at is not None
    assert not TranscriptLine.objects.exists()
    assert PLANTED not in repr(selectors.webhook_payload(hand_off))


def test_a_spoken_yes_answers_the_question(customer: Customer) -> None:
    async def scenario() -> None:
        await up_to_the_question(customer)
        await customer.say(Text(type="text", text="Yes."))
        await customer.leave()

    play(scenario())
    hand_off = HandOff.objects.get()
    assert hand_off.transcript_consent is True
    said = [s["text"] for s in customer.of_type("subtitle")]
    assert said[-1] == "Thank you, I'll share our conversation."
    assert ("customer", PLANTED) in [(t.role, t.text) for t in hand_off.transcript.all()]


def test_consent_for_another_hand_off_is_refused(customer: Customer) -> None:
    async def scenario() -> None:
        await up_to_the_question(customer)
        other = "00000000-0000-4000-8000-000000000000"
        await customer.say(
            HandOffConsent(type="handoff_consent", handoff_id=other, consent=True), until="error"
        )
        await customer.leave()

    play(scenario())
    assert customer.of_type("error")[0]["code"] == "not_ready"
    assert HandOff.objects.get().transcript_consent is None


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.exc_text or ''}")


def test_customer_words_reach_no_log_even_when_shared(customer: Customer) -> None:
    everything = Everything()
    loggers = [logging.getLogger(name) for name in ("", "handoff", "conversation", "avatars")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(everything)
        logger.setLevel(logging.DEBUG)
    try:

        async def scenario() -> None:
            hand_off_id = await up_to_the_question(customer)
            await customer.say(
                HandOffConsent(type="handoff_consent", handoff_id=hand_off_id, consent=True),
                until="handoff",
            )
            await customer.say(Text(type="text", text=f"{PLANTED} again"))
            await customer.leave()

        play(scenario())
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(everything)
            logger.setLevel(level)
    assert any("hand-off" in line for line in everything.lines)  # it did log, without words
    assert not [line for line in everything.lines if "4471" in line]
    assert HandOff.objects.get().transcript.filter(text__contains="4471").count() == 2
