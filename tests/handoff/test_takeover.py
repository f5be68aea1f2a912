"""A person holds the conversation: the avatar speaks only their words (with lips, subtitles
and barge-in as usual), the customer's words go to them, and giving back hands the
conversation to the avatar again."""

from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from avatars.models import FAQEntry
from contracts.messages import AgentChat, AgentSays, DeskNotice, HandOffLine, handoff_group
from conversation.protocol import HandOffConsent, MediaChunk, Text
from handoff.models import HandOff
from tests.avatars.factories import make_avatar
from tests.handoff.sessions import Customer, EntryMatcher, play

pytestmark = pytest.mark.django_db(transaction=True)

HOURS = "When are you open?"


@pytest.fixture
def customer() -> Customer:
    hours = FAQEntry.objects.create(question=HOURS, answer="We open at nine.")
    return Customer(make_avatar(), faq=EntryMatcher(hours), llm=None)


async def lines_of(channel: str, count: int) -> list[tuple[str, str]]:
    layer = get_channel_layer()
    found = []
    async with asyncio.timeout(5):
        while len(found) < count:
            message = await layer.receive(channel)
            if message["type"] == HandOffLine.TYPE:
                line = HandOffLine.decode(message)
                found.append((line.role, line.text))
    return found


def test_the_avatar_says_only_the_persons_words_until_given_back(customer: Customer) -> None:
    async def scenario() -> dict:
        layer = get_channel_layer()
        customer.start()
        await customer.say(Text(type="text", text="Can I talk to someone?"))
        hand_off_id = str(customer.of_type("handoff")[0]["handoff_id"])
        console = await layer.new_channel()
        await layer.group_add(handoff_group(hand_off_id), console)
        await customer.say(
            HandOffConsent(type="handoff_consent", handoff_id=hand_off_id, consent=True),
            until="handoff",
        )
        await customer.say(DeskNotice(hand_off_id, "taken", "Ann"), until="handoff")
        subtitles_before = customer.count("subtitle")
        await customer.say(Text(type="text", text=HOURS))  # the avatar must not answer this
        quiet = customer.count("subtitle") == subtitles_before
        await customer.say(AgentSays(hand_off_id, "Ann", "Hello, I'm Ann. We open at ten today."))
        agent_turn = customer.of_type("turn_end")[-1]["turn_id"]
        await customer.say(AgentChat(hand_off_id, "Ann", "Anything else?"), until="agent_message")
        forwarded = await lines_of(console, 3)
        await customer.say(DeskNotice(hand_off_id, "closed"), until="handoff")
        await customer.say(Text(type="text", text=HOURS))
        await customer.leave()
        return locals()

    got = play(scenario())
    notices = customer.of_type("handoff")
    assert [(n["status"], n["agent"]) for n in notices] == [
        ("waiting", None),
        ("waiting", None),  # the answer to the transcript question
        ("taken", "Ann"),
        ("closed", None),
    ]
    assert got["quiet"]
    agent_subtitles = [
        s["text"] for s in customer.of_type("subtitle") if s["turn_id"] == got["agent_turn"]
    ]
    assert " ".join(agent_subtitles) == "Hello, I'm Ann. We open at ten today."
    agent_media = [
        m
        for m in customer.wire.items
        if isinstance(m, MediaChunk) and str(m.turn_id) == got["agent_turn"]
    ]
    assert any(m.frames for m in agent_media)  # with lips
    assert "Hello, I'm Ann." in " ".join(customer.spoken())  # in the avatar's voice
    assert customer.of_type("agent_message") == [
        {
            "type": "agent_message",
            "handoff_id": got["hand_off_id"],
            "agent": "Ann",
            "text": "Anything else?",
        }
    ]
    assert got["forwarded"] == [
        ("customer", HOURS),
        ("agent", "Hello, I'm Ann. We open at ten today."),
        ("agent", "Anything else?"),
    ]
    assert customer.of_type("subtitle")[-1]["text"] == "We open at nine."  # the avatar again
    transcript = [(t.role, t.text) for t in HandOff.objects.get().transcript.all()]
    assert transcript[-3:] == got["forwarded"]


def test_the_customer_barges_in_on_the_persons_words(customer: Customer) -> None:
    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text="Can I talk to someone?"))
        hand_off_id = str(customer.of_type("handoff")[0]["handoff_id"])
        customer.lipsync.hold = True  # keep the person's answer playing
        await customer.say(DeskNotice(hand_off_id, "taken", "Ann"), until="handoff")
        long_words = "Let me explain our whole returns policy in detail. " * 5
        customer.session.offer(AgentSays(hand_off_id, "Ann", long_words))
        async with asyncio.timeout(5):
            while not customer.lipsync.held:
                await asyncio.sleep(0.01)
        await customer.say(Text(type="text", text="stop please"), until="interrupted")
        await customer.leave()

    play(scenario())
    interrupted = customer.of_type("interrupted")[-1]
    assert interrupted["reason"] == "new_utterance"


def test_words_for_a_hand_off_nobody_holds_are_dropped(customer: Customer) -> None:
    async def scenario() -> None:
        customer.start()
        await customer.say(Text(type="text", text="Can I talk to someone?"))
        hand_off_id = str(customer.of_type("handoff")[0]["handoff_id"])
        subtitles = customer.count("subtitle")
        await customer.say(AgentSays(hand_off_id, "Mallory", "I was never given this."))
        await customer.say(AgentSays("0" * 36, "Mallory", "Nor this."))
        assert customer.count("subtitle") == subtitles
        await customer.leave()

    play(scenario())
    assert "I was never given this." not in " ".join(customer.spoken())
