"""When a session hands the customer to a person: it opens one ticket, says so in the avatar's
voice with what happens next, asks about the transcript, and stores no customer text."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from avatars.models import FAQEntry, TurnRecord
from conversation.handoff.triage import HandOffRules
from conversation.llm.base import LlmError, LlmErrorKind
from conversation.protocol import Text
from handoff.models import HandOff, TranscriptLine
from tests.avatars.factories import make_avatar
from tests.handoff.sessions import Customer, EntryMatcher, ScriptedLlm, play

pytestmark = pytest.mark.django_db(transaction=True)

HOURS = "When are you open?"
PLANTED = "my parcel 4471 never came"


@pytest.fixture
def hours() -> FAQEntry:
    return FAQEntry.objects.create(question=HOURS, answer="We open at nine.")


def ticket() -> HandOff:
    assert HandOff.objects.count() == 1
    return HandOff.objects.get()


def test_nothing_matched_and_no_llm_opens_a_waiting_ticket(hours: FAQEntry) -> None:
    customer = Customer(make_avatar(), faq=EntryMatcher(hours), llm=None)

    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text=HOURS))
        await customer.say(Text(type="text", text=PLANTED))
        await customer.leave()

    play(scenario())
    hand_off = ticket()
    assert hand_off.reason == HandOff.Reason.NO_ANSWER and hand_off.language == "en"
    assert list(hand_off.faq_topics.all()) == [hours]  # the topic touched before
    notice = customer.of_type("handoff")[0]
    assert notice == {
        "type": "handoff",
        "handoff_id": str(hand_off.pk),
        "status": "waiting",
        "ask_consent": True,
        "consent": None,
        "agent": None,
    }
    said = " ".join(s["text"] for s in customer.of_type("subtitle"))
    assert "passing you to a colleague" in said and "keep asking me" in said
    assert any("colleague" in sentence for sentence in customer.spoken())  # in its own voice
    assert not TranscriptLine.objects.exists()
    assert PLANTED not in repr(list(HandOff.objects.values()))
    assert not TurnRecord.objects.exists()  # (this session's recorder keeps them in memory)


def test_the_customer_who_leaves_abandons_the_ticket(hours: FAQEntry) -> None:
    customer = Customer(make_avatar(), faq=EntryMatcher(hours), llm=None)

    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text="Can I talk to someone?"))
        await customer.leave()

    play(scenario())
    hand_off = ticket()
    assert hand_off.reason == HandOff.Reason.ASKED_FOR_PERSON
    assert hand_off.status == HandOff.Status.ABANDONED and hand_off.closed_at is not None


def test_asking_for_a_person_skips_the_llm_and_a_second_ask_opens_no_second_ticket() -> None:
    llm = ScriptedLlm(["The LLM would answer this."])
    customer = Customer(make_avatar(), faq=llm, llm=llm)

    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text="Can I talk to someone?"))
        await customer.say(Text(type="text", text="I want to speak with a real person"))
        await customer.leave()

    play(scenario())
    assert ticket().reason == HandOff.Reason.ASKED_FOR_PERSON
    assert llm.closed == 0  # never asked
    said = " ".join(s["text"] for s in customer.of_type("subtitle"))
    assert said.startswith("Of course.")
    assert said.endswith("A colleague already has your request and will join this chat shortly.")
    assert customer.count("handoff") == 1


def test_japanese_request_is_answered_in_japanese() -> None:
    llm = ScriptedLlm(["…"])
    customer = Customer(make_avatar(), faq=llm, llm=None, language="ja")

    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text="担当者と話したいです"))
        await customer.leave()

    play(scenario())
    assert ticket().language == "ja"
    said = "".join(s["text"] for s in customer.of_type("subtitle"))
    assert said.startswith("かしこまりました。") and "担当者におつなぎします" in said


def test_the_same_question_twice_without_a_match_goes_to_a_person() -> None:
    llm = ScriptedLlm(["I am not sure about that."])
    customer = Customer(make_avatar(), faq=llm, llm=llm)
    question = "Why was my card charged twice this month?"

    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text=question))
        assert not await database_sync_to_async(HandOff.objects.exists)()
        await customer.say(Text(type="text", text=question.lower()))
        await customer.leave()

    play(scenario())
    assert ticket().reason == HandOff.Reason.REPEATED
    assert llm.closed == 1  # the LLM answered the first time only


def test_operator_rules_hand_off_a_matched_entry_and_a_keyword(hours: FAQEntry) -> None:
    cancel = FAQEntry.objects.create(question="Cancel my contract", answer="You can cancel…")
    rules = HandOffRules(faq_entry_ids=frozenset({cancel.pk}), keywords=("complaint",))
    avatar = make_avatar()
    first = Customer(avatar, faq=EntryMatcher(hours, cancel), llm=None, rules=rules)
    second = Customer(avatar, faq=EntryMatcher(hours, cancel), llm=None, rules=rules)

    async def scenario() -> None:
        first.start()
        second.start()
        await first.say(Text(type="text", text=HOURS))
        await first.say(Text(type="text", text="Cancel my contract"))
        await second.say(Text(type="text", text="I have a complaint"))
        await first.leave()
        await second.leave()

    play(scenario())
    hand_offs = HandOff.objects.order_by("created_at")
    assert [h.reason for h in hand_offs] == [HandOff.Reason.OPERATOR_RULE] * 2
    assert list(hand_offs[0].faq_topics.order_by("pk")) == [hours, cancel]
    said = [s["text"] for s in first.of_type("subtitle")]
    assert said[0] == "We open at nine." and "You can cancel…" not in said


def test_a_failed_llm_opens_a_ticket() -> None:
    llm = ScriptedLlm([], fail_with=LlmError(LlmErrorKind.HTTP_STATUS, "502", status=502))
    customer = Customer(make_avatar(), faq=llm, llm=llm)

    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text="Tell me about your pension plan"))
        await customer.leave()

    play(scenario())
    assert ticket().reason == HandOff.Reason.LLM_FAILED
    assert customer.of_type("turn_end")[0]["fallbacks"] == ["handoff"]
    assert customer.count("handoff") == 1


def test_without_a_desk_the_old_hand_off_answer_stays() -> None:
    """Pre-rendering and the benchmark build contexts without a desk: nothing changes there."""
    from tests.conversation.dialogue.test_session import drive, make_session

    llm = ScriptedLlm([])
    session, wire, _, _ = make_session(llm)
    session.context.llm = None

    async def scenario() -> None:
        await drive(session, wire, [(0, Text(type="text", text="anything at all"))])

    play(scenario())
    said = [i["text"] for i in wire.items if isinstance(i, dict) and i["type"] == "subtitle"]
    assert said and said[0].startswith("I'm sorry, I don't know that one.")
    assert not HandOff.objects.exists()
